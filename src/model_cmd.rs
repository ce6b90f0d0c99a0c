//! `fangpin model ...`: the data team's loop: train on feature snapshots, evaluate, promote.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use fangpin_connectors::event::Month;
use fangpin_models::card::{evaluate, month_name, Quality, WorldEvaluation};
use fangpin_models::train::{train, Example, TrainConfig};
use fangpin_models::Grade;
use fangpin_pipelines::registry::Registry;
use fangpin_pipelines::features::FeatureSet;
use fangpin_pipelines::{indicators, training};

/// Model registry subcommands.
#[derive(Subcommand)]
pub enum ModelCommand {
    /// Train a model on feature snapshots and labels; saves it as a new registry version.
    Train(TrainArgs),
    /// List the registry's versions with their evaluation figures.
    List(RegistryArg),
    /// Measure a version on labelled feature snapshots.
    Evaluate {
        /// The version, e.g. v1.
        version: String,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Serve a version; refused when it does worse than the promoted one, unless --force.
    Promote {
        /// The version, e.g. v2.
        version: String,
        /// Compare on these snapshots (with --truth) instead of the models' own evaluation months.
        #[arg(long)]
        features: Option<PathBuf>,
        /// Ground truth for --features.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Promote even when the version does worse.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        registry: RegistryArg,
    },
}

/// Where the registry is, and the indicators whose features its models read.
#[derive(Args)]
pub struct RegistryArg {
    /// Model registry directory.
    #[arg(long = "registry", default_value = "models/registry")]
    dir: PathBuf,
    /// The indicator SQL files the runs use (`[pipeline] indicators_dir`); each is a feature.
    /// Default: the shipped indicators.
    #[arg(long)]
    indicators: Option<PathBuf>,
}

impl RegistryArg {
    fn open(&self) -> Result<Registry> {
        Ok(Registry::for_indicators(&self.dir, &indicators::load(self.indicators.as_deref())?))
    }
}

/// Labelled data: feature snapshots and the truth about households.
#[derive(Args)]
pub struct DataArgs {
    /// Feature snapshots written by `fangpin run --features-out DIR`.
    #[arg(long)]
    features: PathBuf,
    /// `ground_truth.ndjson` of the simulated world the snapshots came from.
    #[arg(long)]
    truth: PathBuf,
    /// Cadres' answers (`verify.outcomes` records, NDJSON): they override the truth for the
    /// household-month of the alert they answer. Needs --alerts.
    #[arg(long, requires = "alerts")]
    outcomes: Option<PathBuf>,
    /// Directory of the queues (`verify.door_visit.ndjson`, `verify.phone.ndjson`) the
    /// answered alerts were sent to.
    #[arg(long)]
    alerts: Option<PathBuf>,
}

/// Training options.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Random seed (negative sampling); the same seed and data give the same model.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// First validation month (YYYY-MM): validation months choose the model and its thresholds.
    /// Default: the last three labelled months validate.
    #[arg(long)]
    validate_from: Option<String>,
    /// Months left out between training and validation (labels look three months ahead).
    #[arg(long, default_value_t = 3)]
    gap_months: i32,
    /// Precision the high grade must reach on the validation months.
    #[arg(long, default_value_t = 0.95)]
    high_precision: f64,
    /// Feature snapshots of a world training never saw (other seed and knobs), to report the
    /// model on; repeat it, with one --test-truth each.
    #[arg(long)]
    test_features: Vec<PathBuf>,
    /// Ground truth of each --test-features world, in the same order.
    #[arg(long)]
    test_truth: Vec<PathBuf>,
    #[command(flatten)]
    registry: RegistryArg,
}

/// Runs a model subcommand.
pub async fn run(command: ModelCommand) -> Result<()> {
    match command {
        ModelCommand::Train(args) => train_cmd(args).await,
        ModelCommand::List(r) => list(&r.open()?),
        ModelCommand::Evaluate { version, data, registry } => {
            let registry = registry.open()?;
            let (rows, _) = examples(&data, registry.features()).await?;
            let e = evaluate(&registry.grader(&version)?.artifact().clone(), &rows);
            println!("{version} on {} rows ({} at risk):", e.model.rows, e.model.at_risk);
            print_quality("model", &e.model);
            print_quality("rules", &e.rules);
            Ok(())
        }
        ModelCommand::Promote { version, features, truth, force, registry } => {
            promote(&registry.open()?, &version, features.zip(truth), force).await
        }
    }
}

/// Labelled rows of `data`, and the cadres' answers it names as (the alert's grade, risk
/// confirmed).
async fn examples(data: &DataArgs, feature_set: &FeatureSet) -> Result<(Vec<Example>, Vec<(Grade, bool)>)> {
    let (features, truth) = (&data.features, &data.truth);
    let truth = fangpin_simulator::truth::load(truth).with_context(|| format!("reading {}", truth.display()))?;
    let mut below = Vec::new();
    for t in &truth {
        for m in &t.below_line_months {
            let month = Month::parse_dashed(m).with_context(|| format!("bad month {m} in the ground truth"))?;
            below.push((t.household_code.clone(), month));
        }
    }
    let answers = match (&data.outcomes, &data.alerts) {
        (Some(outcomes), Some(alerts)) => answers(outcomes, alerts)?,
        _ => Vec::new(),
    };
    let labels: Vec<(String, Month, bool)> = answers.iter().map(|a| (a.household.clone(), a.month, a.at_risk)).collect();
    let rows = training::examples(features, feature_set, &below, &labels).await?;
    if rows.is_empty() {
        bail!("no labelled rows under {}: need snapshots covering at least four months", features.display());
    }
    Ok((rows, answers.iter().map(|a| (a.grade, a.at_risk)).collect()))
}

/// A cadre's answer to an alert: whether the household of its month was at risk.
struct Answer {
    household: String,
    month: Month,
    /// The alert's grade, as its latest revision in the queues says.
    grade: Grade,
    at_risk: bool,
}

/// Cadres' answers, found through the alerts they answer. `unreachable` answers say nothing
/// about risk and are left out.
fn answers(outcomes: &Path, alerts: &Path) -> Result<Vec<Answer>> {
    let read = |path: &Path| -> Result<Vec<serde_json::Value>> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("a line of {} is not JSON", path.display())))
            .collect()
    };
    let mut raised = std::collections::HashMap::new();
    for queue in ["verify.door_visit.ndjson", "verify.phone.ndjson"] {
        for a in read(&alerts.join(queue))? {
            let (Some(id), Some(h), Some(m)) = (a["alert_id"].as_str(), a["household_code"].as_str(), a["month"].as_str()) else {
                continue;
            };
            let grade = a["grade"].as_str().and_then(Grade::from_code);
            if let (Some(month), Some(grade)) = (Month::parse_dashed(m), grade) {
                // Lines come in revision order: the latest revision's grade stays.
                raised.insert(id.to_owned(), (h.to_owned(), month, grade));
            }
        }
    }
    let mut out = Vec::new();
    for o in read(outcomes)? {
        let outcome = o["outcome"].as_str().and_then(fangpin_connectors::event::VerifyResult::parse);
        let Some(at_risk) = outcome.and_then(|o| o.at_risk()) else { continue };
        if let Some((h, m, grade)) = o["alert_id"].as_str().and_then(|id| raised.get(id)) {
            out.push(Answer { household: h.clone(), month: *m, grade: *grade, at_risk });
        }
    }
    eprintln!("{} cadre answers matched an alert", out.len());
    Ok(out)
}

/// The world a ground-truth file belongs to, as its `world.json` (beside it) describes it.
fn describe_world(truth: &Path) -> String {
    let dir = truth.parent().unwrap_or(Path::new("."));
    let config = std::fs::read_to_string(dir.join(fangpin_simulator::WORLD_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|w| w["config"].clone());
    match config {
        Some(c) => format!("{} ({c})", dir.display()),
        None => format!("{} (no world.json beside the truth: size, seed and knobs unknown)", dir.display()),
    }
}

async fn train_cmd(args: TrainArgs) -> Result<()> {
    if args.test_features.len() != args.test_truth.len() {
        bail!("{} --test-features for {} --test-truth: give one truth per test world", args.test_features.len(), args.test_truth.len());
    }
    let registry = args.registry.open()?;
    let feature_set = registry.features();
    let (rows, answered) = examples(&args.data, feature_set).await?;
    let never_fired = training::never_fired(feature_set, &rows);
    if !never_fired.is_empty() {
        eprintln!(
            "warning: {} never fired in these {} household-months: the model cannot learn from them and will ignore them; \
             train on a world where they fire",
            never_fired.join(", "),
            rows.len()
        );
    }
    let last = rows.iter().map(|e| e.month_idx).max().expect("rows are not empty");
    let validate_from = match &args.validate_from {
        Some(m) => Month::parse_dashed(m).with_context(|| format!("--validate-from {m} is not YYYY-MM"))?.index(),
        None => last - 2,
    };
    if !(0..=12).contains(&args.gap_months) {
        bail!("--gap-months {} must be between 0 and 12", args.gap_months);
    }
    let config = TrainConfig {
        version: registry.next_version()?,
        seed: args.seed,
        validation_from_month_idx: validate_from,
        gap_months: args.gap_months,
        high_precision: args.high_precision,
        medium_precision: 0.6,
        low_precision: 0.5,
        max_negatives: 300_000,
        statutory_rules: feature_set.statutory().to_vec(),
    };
    eprintln!("{} labelled household-months; validating from {}", rows.len(), month_name(validate_from));
    let world = describe_world(&args.data.truth);
    let mut trained = train(&rows, &world, feature_set.names(), feature_set.version(), &config)?;
    for (features, truth) in args.test_features.iter().zip(&args.test_truth) {
        let data = DataArgs { features: features.clone(), truth: truth.clone(), outcomes: None, alerts: None };
        let (test_rows, _) = examples(&data, feature_set).await?;
        let evaluation = evaluate(&trained.artifact, &test_rows);
        trained.card.tests.push(WorldEvaluation { world: describe_world(truth), evaluation });
    }
    trained.card.verified = fangpin_models::card::verified(&answered);
    trained.card.never_fired = never_fired;
    let dir = registry.save(&trained)?;
    println!("{}", trained.card.to_markdown());
    println!("saved {} ({}); promote it with `fangpin model promote {}`", trained.artifact.version, dir.display(), trained.artifact.version);
    Ok(())
}

fn list(registry: &Registry) -> Result<()> {
    let promoted = registry.promoted()?;
    let versions = registry.versions()?;
    if versions.is_empty() {
        println!("no models in {}", registry.dir().display());
    }
    for v in versions {
        let card = registry.card(&v)?;
        let q = &card.evaluation.model;
        let mark = if promoted.as_deref() == Some(v.as_str()) { "*" } else { " " };
        println!(
            "{mark} {v:<5} {:<20} features {}  validated {}..{}  precision {:.3} recall {:.3} F1 {:.3} (rules F1 {:.3})",
            card.classifier, card.feature_version, card.validation_months.0, card.validation_months.1, q.precision, q.recall,
            q.f1, card.evaluation.rules.f1
        );
        for t in &card.tests {
            let q = &t.evaluation.model;
            println!(
                "        on {}: high precision {:.3}, precision {:.3} recall {:.3} F1 {:.3} (rules F1 {:.3})",
                t.world, q.per_grade[0].precision, q.precision, q.recall, q.f1, t.evaluation.rules.f1
            );
        }
    }
    Ok(())
}

async fn promote(registry: &Registry, version: &str, data: Option<(PathBuf, PathBuf)>, force: bool) -> Result<()> {
    let candidate = registry.grader(version)?;
    let Some(current) = registry.promoted()? else {
        registry.promote(version)?;
        println!("promoted {version} (no model was promoted before)");
        return Ok(());
    };
    if current == version {
        println!("{version} is already promoted");
        return Ok(());
    }
    let (new, old, on) = match &data {
        Some((features, truth)) => {
            let data = DataArgs { features: features.clone(), truth: truth.clone(), outcomes: None, alerts: None };
            let (rows, _) = examples(&data, registry.features()).await?;
            let old = registry.grader(&current)?;
            (
                evaluate(candidate.artifact(), &rows).model,
                evaluate(old.artifact(), &rows).model,
                format!("{} rows of {}", rows.len(), features.display()),
            )
        }
        None => (
            registry.card(version)?.evaluation.model,
            registry.card(&current)?.evaluation.model,
            "each model's own evaluation months (give --features and --truth to compare on the same data)".into(),
        ),
    };
    if new.f1 < old.f1 && !force {
        bail!(
            "refused: {version} has F1 {:.3} (precision {:.3}, recall {:.3}) against {:.3} (precision {:.3}, recall {:.3}) for the promoted {current}, measured on {on}; use --force to promote anyway",
            new.f1, new.precision, new.recall, old.f1, old.precision, old.recall
        );
    }
    registry.promote(version)?;
    println!("promoted {version} (F1 {:.3}) over {current} (F1 {:.3}), measured on {on}", new.f1, old.f1);
    Ok(())
}

fn print_quality(name: &str, q: &Quality) {
    println!("  {name:<6} precision {:.3} recall {:.3} F1 {:.3}", q.precision, q.recall, q.f1);
    for g in &q.per_grade {
        println!("    {:<7} {:>8} alerts  precision {:.3}  recall at or above {:.3}", g.grade, g.alerts, g.precision, g.recall_at_or_above);
    }
}
