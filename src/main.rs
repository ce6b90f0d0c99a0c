//! `fangpin`: the command line. Thin on purpose: parsing, wiring and printing; the work is in
//! the member crates (`connectors/`, `pipelines/`, `models/`, `simulator/`).

mod config;
mod model_cmd;
mod replay;
mod summary;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

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
    /// Replay a directory of contract files through the pipeline.
    Run(RunArgs),
    /// Train, evaluate, list and promote risk models.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
}

#[derive(Args)]
struct WorldArgs {
    /// Households to simulate.
    #[arg(long, default_value_t = 100_000)]
    households: u32,
    /// Calendar months to simulate, from January 2024.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// Random seed: the same seed gives the same world.
    #[arg(long, default_value_t = 42)]
    seed: u64,
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
}

#[derive(Args)]
struct RunArgs {
    /// Directory of `<topic>.ndjson` contract files to replay.
    #[arg(long)]
    from_dir: PathBuf,
    /// Where the queues and dead letters are written, as `<topic>.ndjson`.
    #[arg(long)]
    out: PathBuf,
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
        .init();
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
            Ok(())
        }
        Command::Run(args) => {
            let settings = config::Settings::load(args.pipeline.config.as_deref(), &args.pipeline.overrides())?;
            let report = runtime.block_on(replay::run(&settings, &args.from_dir, &args.out, args.pipeline.metrics_addr))?;
            summary::print(&report, None);
            args.pipeline.linger();
            Ok(())
        }
        Command::Model(command) => runtime.block_on(model_cmd::run(command)),
        Command::Demo(args) => {
            let settings = config::Settings::load(args.pipeline.config.as_deref(), &args.pipeline.overrides())?;
            let world = world_config(&args.world);
            let world_dir = args.out.join("world");
            let queues = args.out.join("queues");
            eprintln!("simulating {} households over {} months into {}", world.households, world.months, world_dir.display());
            let sim = replay::simulate(&world, &world_dir)?;
            let report = runtime.block_on(replay::run(&settings, &world_dir, &queues, args.pipeline.metrics_addr))?;
            let truth = summary::score_against_truth(&world_dir.join("ground_truth.ndjson"), &report)?;
            summary::print(&report, Some((&sim, &truth)));
            args.pipeline.linger();
            Ok(())
        }
    }
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
        }
    }
}

fn world_config(args: &WorldArgs) -> fangpin_simulator::WorldConfig {
    fangpin_simulator::WorldConfig {
        households: args.households,
        months: args.months,
        seed: args.seed,
        ..Default::default()
    }
}
