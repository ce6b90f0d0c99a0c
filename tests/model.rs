//! The risk model's loop through the real binary: snapshots → training → registry →
//! promotion → serving, on a small simulated world.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fangpin_connectors::event::Month;
use fangpin_connectors::{Decoder, DecoderConfig, FileSource, Pseudonymiser};
use fangpin_models::ModelArtifact;
use fangpin_pipelines::registry::{GraderSource, PromotedModel, Registry};
use fangpin_pipelines::features::FeatureSet;
use fangpin_pipelines::{Metrics, Pipeline, PipelineConfig};

use crate::support::MemorySink;

fn fangpin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(args)
        .env("FANGPIN_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff")
        .output()
        .expect("fangpin runs")
}

fn ok(args: &[&str]) -> String {
    let out = fangpin(args);
    assert!(out.status.success(), "fangpin {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A simulated world and its feature snapshots.
struct Data {
    _tmp: tempfile::TempDir,
    world: PathBuf,
    snapshots: PathBuf,
    root: PathBuf,
}

fn data(seed: &str) -> Data {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let (world, snapshots) = (root.join("world"), root.join("snapshots"));
    // 15 months: training months, a three-month gap and three validation months, all labelled.
    ok(&["simulate", "--households", "3000", "--months", "15", "--seed", seed, "--out", world.to_str().unwrap()]);
    ok(&[
        "run", "--from-dir", world.to_str().unwrap(), "--out", root.join("out").to_str().unwrap(),
        "--rules-only", "--features-out", snapshots.to_str().unwrap(),
    ]);
    Data { _tmp: tmp, world, snapshots, root }
}

fn train(d: &Data, registry: &Path, extra: &[&str]) -> String {
    let truth = d.world.join("ground_truth.ndjson");
    let mut args = vec![
        "model", "train", "--features", d.snapshots.to_str().unwrap(),
        "--truth", truth.to_str().unwrap(), "--registry", registry.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

#[test]
fn training_is_reproducible_and_artifacts_round_trip() {
    let d = data("11");
    let (a, b) = (d.root.join("reg-a"), d.root.join("reg-b"));
    let card = train(&d, &a, &[]);
    train(&d, &b, &[]);
    assert!(card.contains("rules only") && card.contains("Calibration"), "{card}");
    assert_targets_met(&Registry::open(&a).card("v1").unwrap());
    let model_a = std::fs::read(a.join("v1/model.json")).unwrap();
    assert_eq!(model_a, std::fs::read(b.join("v1/model.json")).unwrap(), "same data and seed must give the same model");
    for f in ["card.json", "card.md"] {
        assert!(a.join("v1").join(f).exists(), "{f} missing");
    }

    // serde round trip: the reloaded artifact predicts exactly what the original does.
    let artifact: ModelArtifact = serde_json::from_slice(&model_a).unwrap();
    let again: ModelArtifact = serde_json::from_str(&serde_json::to_string(&artifact).unwrap()).unwrap();
    assert_eq!(artifact, again);
    let rows = snapshot_rows(&d);
    assert!(rows.len() > 1000);
    let differing = rows.iter().filter(|f| artifact.probability(f) != again.probability(f)).count();
    assert_eq!(differing, 0);
    assert!(rows.iter().any(|f| artifact.probability(f) > 0.5), "the model never predicts risk");
}

#[tokio::test]
async fn cadre_answers_override_the_truth_in_the_training_labels() {
    let d = tokio::task::spawn_blocking(|| data("15")).await.unwrap();
    let truth = fangpin_simulator::truth::load(&d.world.join("ground_truth.ndjson")).unwrap();
    let h = truth[0].household_code.clone();
    let march = Month::new(2024, 3).unwrap();
    let positives = |rows: &[fangpin_models::train::Example]| rows.iter().filter(|e| e.label).count();
    let examples = |below: Vec<(String, Month)>, answers: Vec<(String, Month, bool)>| {
        let snapshots = d.snapshots.clone();
        async move { fangpin_pipelines::training::examples(&snapshots, &FeatureSet::builtin(), &below, &answers).await.unwrap() }
    };
    // Below the line in March labels January to March (the fall is within three months).
    assert_eq!(positives(&examples(vec![(h.clone(), march)], vec![]).await), 3);
    // A cadre found no risk in March: that month's label follows the cadre.
    assert_eq!(positives(&examples(vec![(h.clone(), march)], vec![(h.clone(), march, false)]).await), 2);
    // A cadre confirmed risk where the truth has none.
    assert_eq!(positives(&examples(vec![], vec![(h.clone(), march, true)]).await), 1);
}

/// Feature vectors of the snapshot rows (read back through the training SQL).
fn snapshot_rows(d: &Data) -> Vec<Vec<f64>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let examples = runtime
        .block_on(fangpin_pipelines::training::examples(&d.snapshots, &FeatureSet::builtin(), &[], &[]))
        .expect("snapshots read back");
    examples.into_iter().map(|e| e.features).collect()
}

/// Every grade of a card must reach its precision target on the validation months, which
/// chose its thresholds; a card that misses it describes a model not fit to serve.
fn assert_targets_met(card: &fangpin_models::card::ModelCard) {
    let q = &card.evaluation.model;
    let high = &q.per_grade[0];
    assert!(
        high.alerts > 0 && high.precision >= card.config.high_precision,
        "{}: high grade precision {:.3} on {} validation alerts, target {}",
        card.version, high.precision, high.alerts, card.config.high_precision
    );
    assert!(
        q.precision >= card.config.medium_precision,
        "{}: high and medium precision {:.3}, target {}",
        card.version, q.precision, card.config.medium_precision
    );
}

#[test]
fn the_shipped_model_is_trained_on_these_features_and_meets_its_targets() {
    let registry = Registry::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/registry"));
    let v = registry.promoted().unwrap().expect("a model is promoted");
    let card = registry.card(&v).unwrap();
    assert_eq!(card.feature_version, FeatureSet::builtin().version(), "the features changed since {v} was trained: retrain it");
    assert_targets_met(&card);
    assert!(!card.tests.is_empty(), "the shipped card must report on a world training never saw");
    assert!(card.tests.iter().all(|t| t.world != card.train_world));
}

#[test]
fn a_model_with_other_features_is_refused() {
    let d = data("12");
    let registry = d.root.join("reg");
    train(&d, &registry, &[]);
    let path = registry.join("v1/model.json");
    let mut artifact: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    artifact["feature_version"] = serde_json::json!("f1-000000000000");
    std::fs::write(&path, artifact.to_string()).unwrap();
    let out = fangpin(&["model", "promote", "v1", "--registry", registry.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("f1-000000000000") && err.contains(&FeatureSet::builtin().version()), "{err}");
    assert!(Registry::open(&registry).promoted().unwrap().is_none());
}

#[test]
fn promotion_of_a_worse_model_is_refused_unless_forced() {
    let d = data("13");
    let registry = d.root.join("reg");
    let r = registry.to_str().unwrap();
    train(&d, &registry, &[]);
    ok(&["model", "promote", "v1", "--registry", r]);
    // v2 is v1 with thresholds no probability reaches: it would never alert, a worse model.
    train(&d, &registry, &[]);
    let path = registry.join("v2/model.json");
    let mut v2: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v2["thresholds"] = serde_json::json!({"high": 1.5, "medium": 1.5, "low": 1.5});
    std::fs::write(&path, v2.to_string()).unwrap();
    let truth = d.world.join("ground_truth.ndjson");
    let compare = ["--features", d.snapshots.to_str().unwrap(), "--truth", truth.to_str().unwrap()];
    let mut args = vec!["model", "promote", "v2", "--registry", r];
    args.extend_from_slice(&compare);
    let out = fangpin(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused") && err.contains("--force"), "{err}");
    assert_eq!(Registry::open(&registry).promoted().unwrap().as_deref(), Some("v1"));
    args.push("--force");
    ok(&args);
    assert_eq!(Registry::open(&registry).promoted().unwrap().as_deref(), Some("v2"));
    let listing = ok(&["model", "list", "--registry", r]);
    assert!(listing.contains("* v2") && listing.contains("  v1"), "{listing}");
}

#[tokio::test]
async fn a_promotion_is_served_without_a_restart() {
    let d = tokio::task::spawn_blocking(|| {
        let d = data("14");
        let registry = d.root.join("reg");
        train(&d, &registry, &[]);
        train(&d, &registry, &["--seed", "7"]);
        ok(&["model", "promote", "v1", "--registry", registry.to_str().unwrap()]);
        d
    })
    .await
    .unwrap();
    let registry = Registry::open(&d.root.join("reg"));
    let source = GraderSource::Promoted(PromotedModel::open(registry.clone()).unwrap());
    let decoder = Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"test key, sixteen bytes or more").unwrap());
    let mut pipeline = Pipeline::new(PipelineConfig::default(), decoder, source, Metrics::new()).unwrap();
    let mut files = FileSource::open(&d.world).unwrap();
    let mut sink = MemorySink::default();
    let mut versions = Vec::new();
    let mut batches = 0;
    while let Some(batch) = files.next_batch(20_000).unwrap() {
        batches += 1;
        if batches == 4 {
            registry.promote("v2").unwrap();
        }
        for alert in pipeline.process(batch, &mut sink).await.unwrap() {
            versions.push((batches, alert.grader.name.clone(), alert.grader.version.clone()));
        }
    }
    assert!(versions.iter().any(|(b, n, v)| *b < 4 && n == "model" && v == "v1"), "no v1 alert before the promotion");
    assert!(versions.iter().all(|(b, _, v)| *b < 4 || v == "v2"), "an alert after the promotion is not stamped v2");
    assert!(versions.iter().any(|(b, _, _)| *b >= 4), "no alert after the promotion to check");
    // Every model alert names the model's reasons in figures.
    let alerts: Vec<_> = sink.topics.values().flatten().filter(|a| a.get("grader").is_some() && a["status"] != "withdrawn").collect();
    assert!(alerts.iter().all(|a| a["reasons"][0]["code"] == "model" && a["reasons"][0]["text"].as_str().unwrap().contains('%')));
}

/// An analyst's new indicator file becomes a feature of the next model trained with it: the
/// run writes its `hit_` column, training learns it and the card lists it, and the model serves
/// only runs with that file. Snapshots that carry it are refused by training without it, and an
/// indicator that never fires is named by training and the card as one the model ignores.
#[test]
fn a_new_indicator_file_becomes_a_feature_after_retraining_or_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (world, indicators) = (root.join("world"), root.join("indicators"));
    std::fs::create_dir_all(&indicators).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/indicators");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, indicators.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        indicators.join("repeated_inpatient.sql"),
        "-- 多次住院: two inpatient bills or more in three months\n\
         SELECT household_code, month_idx, '近 3 个月住院 ' || CAST(inpatient_bills_3m AS VARCHAR) || ' 次' AS detail\n\
         FROM household_features WHERE month_idx >= eval_from AND inpatient_bills_3m >= 2\n",
    )
    .unwrap();
    ok(&["simulate", "--households", "3000", "--months", "15", "--seed", "16", "--out", world.to_str().unwrap()]);
    let snapshots = |name: &str, dir: &Path| {
        let out = root.join(name);
        ok(&[
            "run", "--from-dir", world.to_str().unwrap(), "--out", root.join(format!("{name}-out")).to_str().unwrap(),
            "--rules-only", "--indicators", dir.to_str().unwrap(), "--features-out", out.to_str().unwrap(),
        ]);
        out
    };
    let with_new = snapshots("snapshots", &indicators);
    let truth = world.join("ground_truth.ndjson");
    let train = |snapshots: &Path, registry: &str, indicators: Option<&Path>| {
        let mut args = vec![
            "model".to_owned(), "train".into(), "--features".into(), snapshots.display().to_string(),
            "--truth".into(), truth.display().to_string(), "--registry".into(), root.join(registry).display().to_string(),
        ];
        if let Some(dir) = indicators {
            args.extend(["--indicators".to_owned(), dir.display().to_string()]);
        }
        fangpin(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Trained with the file, the model has its feature.
    let out = train(&with_new, "reg", Some(&indicators));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let card = String::from_utf8_lossy(&out.stdout);
    assert!(card.contains("`hit_repeated_inpatient`"), "the card does not list the new feature: {card}");
    let registry = root.join("reg");
    let reg = registry.to_str().unwrap();
    ok(&["model", "promote", "v1", "--registry", reg, "--indicators", indicators.to_str().unwrap()]);
    let served = |indicators: &Path| {
        fangpin(&[
            "run", "--from-dir", world.to_str().unwrap(), "--out", root.join("served").to_str().unwrap(),
            "--models", reg, "--indicators", indicators.to_str().unwrap(),
        ])
    };
    let run = served(&indicators);
    assert!(run.status.success(), "the model does not serve the run it was trained for: {}", String::from_utf8_lossy(&run.stderr));
    let run = served(&shipped);
    assert!(!run.status.success(), "a run without the new file was served a model that reads it");
    assert!(String::from_utf8_lossy(&run.stderr).contains("feature"), "{}", String::from_utf8_lossy(&run.stderr));

    // Training without the file on snapshots that carry it is refused, naming the column.
    let out = train(&with_new, "reg-without", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("hit_repeated_inpatient") && err.contains("--indicators"), "{err}");

    // An indicator that never fires cannot be learned: training says so, and the card too.
    std::fs::write(
        indicators.join("no_household.sql"),
        "-- 从不: a rule no household meets\nSELECT household_code, month_idx, '' AS detail FROM household_features WHERE 1 = 0\n",
    )
    .unwrap();
    let with_never = snapshots("snapshots-never", &indicators);
    let out = train(&with_never, "reg-never", Some(&indicators));
    let (err, card) = (String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success() && err.contains("no_household never fired"), "{err}");
    assert!(card.contains("never fired in the training rows, which the model therefore ignores: no_household."), "{card}");
}

/// Cadres' answers, given to training with the queues they answer, label their rows and give
/// the card each grade's precision in the field: the confirmed share of the answered alerts
/// of that grade, as the alerts' latest revisions grade them.
#[test]
fn the_card_gives_each_grades_precision_from_the_cadres_answers() {
    let d = data("17");
    let queues = d.root.join("out");
    let mut latest: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for queue in ["verify.door_visit.ndjson", "verify.phone.ndjson"] {
        for line in std::fs::read_to_string(queues.join(queue)).unwrap().lines() {
            let a: serde_json::Value = serde_json::from_str(line).unwrap();
            latest.insert(a["alert_id"].as_str().unwrap().to_owned(), a["grade"].as_str().unwrap().to_owned());
        }
    }
    // Every third answered alert had no risk; every seventh household was not reached.
    let (mut outcomes, mut expected) = (String::new(), std::collections::BTreeMap::<&str, (u64, u64)>::new());
    for (i, (id, grade)) in latest.iter().take(120).enumerate() {
        let outcome = if i % 7 == 6 { "unreachable" } else if i % 3 == 2 { "no_risk" } else { "confirmed_risk" };
        outcomes.push_str(&serde_json::json!({"alert_id": id, "outcome": outcome}).to_string());
        outcomes.push('\n');
        if outcome != "unreachable" {
            let e = expected.entry(grade.as_str()).or_default();
            e.0 += 1;
            e.1 += u64::from(outcome == "confirmed_risk");
        }
    }
    assert!(expected.len() >= 2, "the answered alerts should span grades: {expected:?}");
    let answers = d.root.join("verify.outcomes.ndjson");
    std::fs::write(&answers, outcomes).unwrap();
    let registry = d.root.join("reg");
    let card_md = train(&d, &registry, &["--outcomes", answers.to_str().unwrap(), "--alerts", queues.to_str().unwrap()]);
    assert!(card_md.contains("## Verified by cadres"), "{card_md}");
    let card = Registry::open(&registry).card("v1").unwrap();
    for v in &card.verified {
        let (answered, confirmed) = expected.get(v.grade.as_str()).copied().unwrap_or_default();
        assert_eq!((v.answered, v.confirmed), (answered, confirmed), "grade {}", v.grade);
        if answered > 0 {
            assert!((v.precision - confirmed as f64 / answered as f64).abs() < 1e-12);
        }
    }
    assert_eq!(card.verified.iter().map(|v| v.answered).sum::<u64>(), expected.values().map(|e| e.0).sum::<u64>());
}
