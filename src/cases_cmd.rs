//! `fangpin cases`: the cadres' service and its administration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use fangpin_cases::web::{self, Queues, Wiring};
use fangpin_cases::{accounts, areas, audit, outbox::AppendDir, CasesConfig, Store};

#[derive(Subcommand)]
pub enum CasesCommand {
    /// Serve the cadres' pages and API, reading the queues and publishing outcomes.
    Serve(ServeArgs),
    /// Create or update accounts from a TOML file of `[[account]]` tables.
    Accounts {
        #[command(flatten)]
        db: DbArgs,
        /// The accounts file (see README); delete it once imported, it holds initial passwords.
        #[arg(long)]
        file: PathBuf,
    },
    /// Load area names (`code,name` lines; the county names are built in).
    Areas {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Check the audit log's hash chain; names the first row that breaks it.
    VerifyAudit {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Serve the demo's queues (`cargo run -- demo` first) with example accounts.
    Demo {
        /// The demo's output directory.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
}

#[derive(Args)]
pub struct DbArgs {
    /// sqlite://FILE (one instance) or postgres://USER@HOST:PORT/DB (several instances).
    #[arg(long, env = "FANGPIN_CASES_DB")]
    db: String,
    /// Configuration file; its `[cases]` section sets deadlines and sessions.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct WiringArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Directory of the pipeline's queues (`verify.door_visit.ndjson`, `verify.phone.ndjson`).
    #[arg(long, requires = "outcomes", conflicts_with = "brokers")]
    queues: Option<PathBuf>,
    /// Directory where `verify.outcomes.ndjson` is appended.
    #[arg(long, requires = "queues")]
    outcomes: Option<PathBuf>,
    /// Kafka brokers (HOST:PORT[,...]): read the queue topics and produce outcomes there, with
    /// the `[kafka]` section of --config for names and options.
    #[arg(long)]
    brokers: Option<String>,
}

impl WiringArgs {
    /// The queues and the outcome sink these options name.
    async fn wiring(&self, settings: &crate::config::Settings) -> Result<Wiring> {
        match (&self.queues, &self.outcomes, &self.brokers) {
            (Some(q), Some(o), None) => {
                Ok(Wiring { queues: Queues::Dir(q.clone()), outcomes: Box::new(AppendDir::new(o)?) })
            }
            (None, None, Some(brokers)) => kafka_wiring(settings, brokers).await,
            _ => bail!("give --queues DIR and --outcomes DIR (files), or --brokers HOST:PORT (Kafka)"),
        }
    }
}

#[cfg(feature = "kafka")]
async fn kafka_wiring(settings: &crate::config::Settings, brokers: &str) -> Result<Wiring> {
    use fangpin_cases::kafka_queues::{KafkaOutcomes, KafkaQueues};
    let kafka = crate::config::kafka_settings(settings, Some(brokers))?;
    Ok(Wiring {
        queues: Queues::Kafka(KafkaQueues::new(&kafka, &settings.cases.kafka_group).await?),
        outcomes: Box::new(KafkaOutcomes::new(&kafka)?),
    })
}

#[cfg(not(feature = "kafka"))]
async fn kafka_wiring(_: &crate::config::Settings, _: &str) -> Result<Wiring> {
    bail!("--brokers needs a fangpin built with Kafka support (cargo build --features kafka)")
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    wiring: WiringArgs,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
}

fn settings(db: &DbArgs) -> Result<crate::config::Settings> {
    let overrides = crate::config::Overrides::default();
    let settings = crate::config::Settings::load(db.config.as_deref(), &overrides)?;
    settings.cases.validate()?;
    Ok(settings)
}

pub async fn run(command: CasesCommand) -> Result<()> {
    match command {
        CasesCommand::Serve(args) => {
            let settings = settings(&args.wiring.db)?;
            let wiring = args.wiring.wiring(&settings).await?;
            let store = Store::open(&args.wiring.db.db).await?;
            serve(store, settings.cases, wiring, args.addr).await
        }
        CasesCommand::Accounts { db, file } => {
            let store = Store::open(&db.db).await?;
            let n = accounts::import(&store, &file).await?;
            println!("{n} accounts written");
            Ok(())
        }
        CasesCommand::Areas { db, file } => {
            let store = Store::open(&db.db).await?;
            let n = areas::import(&store, file.as_deref()).await?;
            println!("{n} area names written");
            Ok(())
        }
        CasesCommand::VerifyAudit { db } => {
            let store = Store::open(&db.db).await?;
            let report = audit::verify(&store).await?;
            match report.broken {
                None => {
                    println!("audit log intact: {} rows, chain verified", report.rows);
                    Ok(())
                }
                Some((seq, why)) => bail!("audit log broken at row {seq}: {why} ({} rows read)", report.rows),
            }
        }
        CasesCommand::Demo { out, addr } => demo(&out, addr).await,
    }
}

async fn serve(store: Store, config: CasesConfig, wiring: Wiring, addr: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!("cadres' service on http://{addr}/ (metrics at /metrics); Ctrl-C stops it");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    web::serve(listener, store, config, wiring, shutdown).await?;
    Ok(())
}

/// Example accounts for the township with the most door visits in the demo's queues.
async fn demo(out: &Path, addr: SocketAddr) -> Result<()> {
    let queues = out.join("queues");
    if !queues.join("verify.door_visit.ndjson").exists() {
        bail!("{} has no queues: run `cargo run -- demo` first", queues.display());
    }
    let db = format!("sqlite://{}", out.join("cases.db").display());
    let store = Store::open(&db).await?;
    let config = CasesConfig::default();
    fangpin_cases::ingest::read_queues(&store, &queues, &config).await?;
    let (township, village) = busiest_township(&queues)?;
    let county = &township[..6];
    // Readable names for the demo's areas; a deployment loads the civil-affairs register.
    let areas_file = out.join("areas.csv");
    let names = format!("{township},{}乡镇{}\n{village},{}村\n", areas_name(county), &township[6..], &village[9..]);
    std::fs::write(&areas_file, names).with_context(|| format!("writing {}", areas_file.display()))?;
    areas::import(&store, Some(&areas_file)).await?;
    let accounts_file = out.join("accounts.toml");
    let other = if township.ends_with("101") { format!("{county}102") } else { format!("{county}101") };
    let text = format!(
        "# Demo accounts (password for each: fangpin-demo-2026)\n\
         [[account]]\nusername = \"township\"\nname = \"乡镇干部（示例）\"\nrole = \"township\"\narea = \"{township}\"\nstaff_number = \"T-001\"\npassword = \"fangpin-demo-2026\"\n\n\
         [[account]]\nusername = \"village\"\nname = \"村干部（示例）\"\nrole = \"village\"\narea = \"{village}\"\nstaff_number = \"V-001\"\npassword = \"fangpin-demo-2026\"\n\n\
         [[account]]\nusername = \"county\"\nname = \"县级审定（示例）\"\nrole = \"county\"\narea = \"{county}\"\nstaff_number = \"C-001\"\npassword = \"fangpin-demo-2026\"\n\n\
         [[account]]\nusername = \"other-township\"\nname = \"另一乡镇干部（示例）\"\nrole = \"township\"\narea = \"{other}\"\nstaff_number = \"T-002\"\npassword = \"fangpin-demo-2026\"\n"
    );
    std::fs::write(&accounts_file, text).with_context(|| format!("writing {}", accounts_file.display()))?;
    accounts::import(&store, &accounts_file).await?;
    println!("accounts (password fangpin-demo-2026): township ({township}), village ({village}), county ({county}), other-township ({other})");
    println!("open http://{addr}/login");
    let wiring = Wiring { queues: Queues::Dir(queues), outcomes: Box::new(AppendDir::new(&out.join("outcomes"))?) };
    serve(store, config, wiring, addr).await
}

fn areas_name(county: &str) -> &'static str {
    areas::COUNTIES.iter().find(|(c, _)| *c == county).map_or("", |(_, n)| n)
}

/// The township with the most door visits, and its village with the most.
fn busiest_township(queues: &Path) -> Result<(String, String)> {
    let path = queues.join("verify.door_visit.ndjson");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut townships = std::collections::BTreeMap::<String, usize>::new();
    let mut villages = std::collections::BTreeMap::<String, usize>::new();
    for line in text.lines() {
        let Ok(alert) = serde_json::from_str::<fangpin_pipelines::Alert>(line) else { continue };
        *townships.entry(alert.township_code).or_default() += 1;
        *villages.entry(alert.village_code).or_default() += 1;
    }
    let township = townships.into_iter().max_by_key(|(_, n)| *n).map(|(t, _)| t).context("the demo raised no door visits")?;
    let village = villages
        .into_iter()
        .filter(|(v, _)| v.starts_with(&township))
        .max_by_key(|(_, n)| *n)
        .map(|(v, _)| v)
        .context("no village")?;
    Ok((township, village))
}
