//! `fangpin`: the command line. Thin on purpose: parsing, wiring and printing; the work is in
//! the member crates (`connectors/`, `pipelines/`, `models/`, `simulator/`).

mod cases_cmd;
mod claims_cmd;
mod config;
#[cfg(feature = "kafka")]
mod kafka_run;
mod model_cmd;
mod replay;
mod summary;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Streaming poverty-prevention risk monitoring for Xiaogan: department feeds in, graded alerts
/// out to the verification queues.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a default Xiaogan and run it through the pipeline in process, then summarise.
    Demo(DemoArgs),
    /// Write a synthetic Xiaogan as contract-format NDJSON files plus ground truth.
    Simulate(SimulateArgs),
    /// Run the pipeline: on Kafka (see `[kafka]` in the configuration), or over a directory of
    /// contract files with --from-dir.
    Run(RunArgs),
    /// Train, evaluate, list and promote risk models.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    /// The cadres' side: verification tasks and identification cases, served to browsers.
    #[command(subcommand)]
    Cases(cases_cmd::CasesCommand),
    /// The insurance side: verify the claims ledger, check a coverage file.
    #[command(subcommand)]
    Claims(claims_cmd::ClaimsCommand),
    /// Print one household's state checkpoint (a changelog record's value, saved to FILE; `-`
    /// reads standard input) as JSON.
    ShowCheckpoint { file: PathBuf },
}

#[derive(Args)]
struct WorldArgs {
    /// Households to simulate.
    #[arg(long, default_value_t = 100_000)]
    households: u32,
    /// Calendar months to simulate.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// First simulated month, YYYY-MM.
    #[arg(long, default_value = "2024-01", value_parser = parse_month)]
    start: (i32, u32),
    /// Random seed: the same seed gives the same world.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The world's knobs (income, farming, wages, feed gaps, lateness, shocks, county mix):
    /// `train` (the default), or a world to evaluate on: `eval-a`, `eval-b`.
    #[arg(long, default_value = "train", value_parser = clap::builder::PossibleValuesParser::new(fangpin_simulator::PRESETS))]
    scenario: String,
}

fn parse_month(s: &str) -> Result<(i32, u32), String> {
    let m = fangpin_connectors::event::Month::parse_dashed(s).ok_or_else(|| format!("{s} is not YYYY-MM"))?;
    Ok((m.year(), m.month()))
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Where the simulated feeds (`world/`) and the queues (`queues/`) are written.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Args)]
struct SimulateArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Output directory for the `<topic>.ndjson` files and `ground_truth.ndjson`.
    #[arg(long)]
    out: PathBuf,
    /// Also publish the world to the contract topics of these brokers (HOST:PORT[,...]).
    #[arg(long, value_name = "BROKERS")]
    to_kafka: Option<String>,
    /// With --to-kafka: publish at most this many records per second (default: as fast as possible).
    #[arg(long, value_name = "RECORDS_PER_SEC")]
    rate: Option<u32>,
    /// With --to-kafka: configuration file whose `[kafka]` section names topics and options.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// Directory of `<topic>.ndjson` contract files to replay instead of consuming Kafka.
    #[arg(long)]
    from_dir: Option<PathBuf>,
    /// With --from-dir: where the queues and dead letters are written, as `<topic>.ndjson`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Kafka brokers (HOST:PORT[,...]), overriding the configuration.
    #[arg(long, conflicts_with = "from_dir")]
    brokers: Option<String>,
    /// Stop once every input partition is drained up to the end offsets seen at start.
    #[arg(long, conflicts_with = "from_dir")]
    stop_at_end: bool,
    /// With --from-dir: only read and decode the records (no state, no outputs) and report the
    /// rate, the upper bound of a replay's speed.
    #[arg(long, requires = "from_dir")]
    parse_only: bool,
    /// With --from-dir: after the replay, report the state's size as checkpoints and the time a
    /// fresh pipeline takes to restore it.
    #[arg(long, requires = "from_dir")]
    measure_state: bool,
    /// With --from-dir: score the alerts against this simulated world's `ground_truth.ndjson`
    /// (how a model is judged on a world it was not trained on).
    #[arg(long, requires = "from_dir")]
    truth: Option<PathBuf>,
    /// With --from-dir: let the records arrive at a steady RATE records/s, as a stream would,
    /// and report the alert latency.
    #[arg(long, requires = "from_dir", value_name = "RATE")]
    rate: Option<f64>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// Options shared by every command that runs the pipeline.
#[derive(Args)]
struct PipelineArgs {
    /// TOML configuration file (see README); command-line options override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics while running.
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,
    /// Records per micro-batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Directory of indicator `.sql` files replacing the built-in set.
    #[arg(long)]
    indicators: Option<PathBuf>,
    /// Model registry whose promoted model grades (default `models/registry`).
    #[arg(long)]
    models: Option<PathBuf>,
    /// Grade with the rules only, even when a model is promoted.
    #[arg(long)]
    rules_only: bool,
    /// Write every graded household-month's features to Parquet under DIR, by month.
    #[arg(long, value_name = "DIR")]
    features_out: Option<PathBuf>,
    /// Insurance coverage file replacing the built-in product (see claims/coverage.toml).
    #[arg(long, value_name = "FILE")]
    coverage: Option<PathBuf>,
    /// Directory of index-trigger `.sql` files, looked in before the built-in ones.
    #[arg(long, value_name = "DIR")]
    triggers: Option<PathBuf>,
    /// With --metrics-addr: keep serving the final metrics for SECS seconds after the run ends,
    /// so that a Prometheus scrape sees them.
    #[arg(long, value_name = "SECS")]
    linger: Option<u64>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "fangpin=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file or a collector would keep the escape codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Reads `FAILPOINTS` in builds with the `failpoints` feature (the tests'); nothing otherwise.
    let _fail_points = fail::FailScenario::setup();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Simulate(args) => {
            let world = world_config(&args.world);
            let summary = replay::simulate(&world, &args.out)?;
            println!(
                "wrote {} households ({} people, {} fall below the line) to {}",
                summary.households,
                summary.people,
                summary.fallers,
                args.out.display()
            );
            if let Some(brokers) = &args.to_kafka {
                publish(&runtime, &args, brokers)?;
            }
            Ok(())
        }
        Command::Run(args) => {
            let settings = config::Settings::load(args.pipeline.config.as_deref(), &args.pipeline.overrides())?;
            if let (true, Some(from_dir)) = (args.parse_only, &args.from_dir) {
                let r = replay::parse_only(&settings, from_dir)?;
                let secs = r.elapsed.as_secs_f64();
                println!(
                    "parsed {} records ({} rejected) in {secs:.1} s ({:.0} records/s), nothing kept",
                    r.records,
                    r.rejected,
                    r.records as f64 / secs.max(1e-9)
                );
                return Ok(());
            }
            if let Some(rate) = args.rate {
                anyhow::ensure!(rate.is_finite() && rate > 0.0, "--rate {rate}: give a positive number of records per second");
            }
            let report = match (&args.from_dir, &args.out) {
                (Some(from_dir), Some(out)) => {
                    let options = replay::ReplayOptions {
                        metrics_addr: args.pipeline.metrics_addr,
                        measure_state: args.measure_state,
                        rate: args.rate,
                    };
                    runtime.block_on(replay::run(&settings, from_dir, out, options))?
                },
                (Some(_), None) => anyhow::bail!("--from-dir needs --out, the directory for the queues and dead letters"),
                _ => run_kafka(&runtime, &settings, &args)?,
            };
            match &args.truth {
                Some(truth) => {
                    let scores = summary::score_against_truth(truth, &report)?;
                    summary::print(&report, Some((None, &scores)));
                }
                None => summary::print(&report, None),
            }
            args.pipeline.linger();
            Ok(())
        }
        Command::Model(command) => runtime.block_on(model_cmd::run(command)),
        Command::Cases(command) => runtime.block_on(cases_cmd::run(command)),
        Command::Claims(command) => runtime.block_on(claims_cmd::run(command)),
        Command::ShowCheckpoint { file } => {
            let bytes = if file.as_os_str() == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
                bytes
            } else {
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let shown = fangpin_pipelines::checkpoint::inspect(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }
        Command::Demo(args) => {
            let settings = config::Settings::load(args.pipeline.config.as_deref(), &args.pipeline.overrides())?;
            let world = world_config(&args.world);
            let world_dir = args.out.join("world");
            let queues = args.out.join("queues");
            eprintln!("simulating {} households over {} months into {}", world.households, world.months, world_dir.display());
            let sim = replay::simulate(&world, &world_dir)?;
            let mut report = runtime.block_on(replay::run(&settings, &world_dir, &queues, replay::ReplayOptions { metrics_addr: args.pipeline.metrics_addr, ..Default::default() }))?;
            report.notes.extend(summary::worlds_compared(&settings, &world));
            let truth = summary::score_against_truth(&world_dir.join("ground_truth.ndjson"), &report)?;
            summary::print(&report, Some((Some(&sim), &truth)));
            args.pipeline.linger();
            Ok(())
        }
    }
}

#[cfg(feature = "kafka")]
fn run_kafka(runtime: &tokio::runtime::Runtime, settings: &config::Settings, args: &RunArgs) -> Result<replay::Report> {
    let kafka = config::kafka_settings(settings, args.brokers.as_deref())?;
    runtime.block_on(kafka_run::run(settings, &kafka, args.stop_at_end, args.pipeline.metrics_addr))
}

#[cfg(feature = "kafka")]
fn publish(runtime: &tokio::runtime::Runtime, args: &SimulateArgs, brokers: &str) -> Result<()> {
    let overrides = config::Overrides { rules_only: true, ..Default::default() };
    let settings = config::Settings::load(args.config.as_deref(), &overrides)?;
    let kafka = config::kafka_settings(&settings, Some(brokers))?;
    let started = std::time::Instant::now();
    let sent = runtime.block_on(kafka_run::publish(&args.out, &kafka, args.rate))?;
    let secs = started.elapsed().as_secs_f64();
    println!("published {sent} records to {brokers} in {secs:.1} s ({:.0} records/s)", sent as f64 / secs.max(1e-9));
    Ok(())
}

#[cfg(not(feature = "kafka"))]
fn run_kafka(_: &tokio::runtime::Runtime, _: &config::Settings, _: &RunArgs) -> Result<replay::Report> {
    anyhow::bail!("give --from-dir and --out, or use a fangpin built with Kafka support (cargo build --features kafka)")
}

#[cfg(not(feature = "kafka"))]
fn publish(_: &tokio::runtime::Runtime, _: &SimulateArgs, _: &str) -> Result<()> {
    anyhow::bail!("--to-kafka needs a fangpin built with Kafka support (cargo build --features kafka)")
}

impl PipelineArgs {
    /// Keeps the process, and with it the metrics endpoint's thread, alive for `--linger`.
    fn linger(&self) {
        match (self.linger, self.metrics_addr) {
            (Some(secs), Some(_)) if secs > 0 => {
                // The summary may sit in a pipe's buffer: let its reader have it now.
                let _ = std::io::Write::flush(&mut std::io::stdout());
                eprintln!("run finished; serving its final metrics for {secs} s");
                std::thread::sleep(std::time::Duration::from_secs(secs));
            }
            (Some(_), None) => tracing::warn!("--linger has no effect without --metrics-addr"),
            _ => {}
        }
    }

    fn overrides(&self) -> config::Overrides {
        config::Overrides {
            batch_size: self.batch_size,
            indicators: self.indicators.clone(),
            models: self.models.clone(),
            rules_only: self.rules_only,
            features_out: self.features_out.clone(),
            coverage: self.coverage.clone(),
            triggers: self.triggers.clone(),
        }
    }
}

fn world_config(args: &WorldArgs) -> fangpin_simulator::WorldConfig {
    fangpin_simulator::WorldConfig {
        households: args.households,
        months: args.months,
        start_year: args.start.0,
        start_month: args.start.1,
        seed: args.seed,
        knobs: fangpin_simulator::Knobs::preset(&args.scenario).expect("clap admits only presets"),
        ..Default::default()
    }
}
