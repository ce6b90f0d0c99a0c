//! `fangpin`: the command line. Thin on purpose: parsing, wiring and printing; the work is in
//! the member crates (`connectors/`, `pipelines/`, `models/`, `simulator/`).

mod config;
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
            Ok(())
        }
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
            Ok(())
        }
    }
}

impl PipelineArgs {
    fn overrides(&self) -> config::Overrides {
        config::Overrides { batch_size: self.batch_size, indicators: self.indicators.clone() }
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
