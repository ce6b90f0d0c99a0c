//! One identity per alert: replaying the same world in batches of any size gives the same
//! alerts standing at the end (id, grade, score, reasons) and the same state, byte for byte.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use fangpin_connectors::topic::output;
use fangpin_connectors::{Decoder, DecoderConfig, FileSource, Pseudonymiser};
use fangpin_pipelines::registry::{GraderSource, Registry};
use fangpin_pipelines::{Metrics, Pipeline, PipelineConfig};
use serde_json::Value;

use crate::support::{standing_alerts, MemorySink};

/// What a replay ends with: the alerts standing by id, and each household's checkpointed state
/// without the alert books (which count the revisions sent on the way) and claims.
struct Ending {
    alerts: BTreeMap<String, Value>,
    state: BTreeMap<String, String>,
    revisions: u64,
    withdrawals: u64,
    records: u64,
}

async fn replay(world: &Path, batch: usize) -> Ending {
    let key = Pseudonymiser::new(b"batching test key, 16 bytes+").unwrap();
    let registry = Registry::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/registry"));
    let version = registry.promoted().unwrap().expect("a promoted model");
    let grader = GraderSource::Fixed(Arc::new(registry.grader(&version).unwrap()));
    let mut pipeline = Pipeline::new(PipelineConfig::default(), Decoder::new(DecoderConfig::default(), key), grader, Metrics::new())
        .unwrap()
        .with_shadow(Arc::new(fangpin_pipelines::indicators::rules_grader(&fangpin_pipelines::indicators::builtin())));
    let mut source = FileSource::open(world).unwrap();
    let mut sink = MemorySink::default();
    while let Some(records) = source.next_batch(batch).unwrap() {
        pipeline.process(records, &mut sink).await.unwrap();
    }
    pipeline.finish(&mut sink).unwrap();
    let mut state = BTreeMap::new();
    for household in pipeline.take_changed() {
        let Some(bytes) = pipeline.checkpoint(&household).unwrap() else { continue };
        let Value::Object(mut doc) = fangpin_pipelines::checkpoint::inspect(&bytes).unwrap() else { panic!("a checkpoint is an object") };
        for part in ["alerts", "shadow_alerts", "claims"] {
            doc.remove(part);
        }
        state.insert(household.as_str().to_owned(), serde_json::to_string(&doc).unwrap());
    }
    let messages: Vec<Value> = [output::DOOR_VISIT, output::PHONE].iter().flat_map(|q| sink.of(q).to_vec()).collect();
    let stats = pipeline.stats();
    let records = stats.records_in.values().sum();
    Ending { alerts: standing_alerts(&messages), state, revisions: stats.alert_revisions, withdrawals: stats.alert_withdrawals, records }
}

/// The content of an alert a cadre acts on; the time it was sent, its revision number and what
/// changed on the way depend on the batches, by design.
fn content(alert: &Value) -> Value {
    let mut a = alert.clone();
    let map = a.as_object_mut().unwrap();
    for key in ["detected_at", "revision", "status", "changes", "moved_from"] {
        map.remove(key);
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_sizes_give_the_same_alerts_and_state() {
    let tmp = tempfile::tempdir().unwrap();
    let world = tmp.path().join("world");
    let out = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["simulate", "--households", "5000", "--months", "20", "--seed", "31", "--scenario", "eval-a"])
        .arg("--out")
        .arg(&world)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let whole = replay(&world, usize::MAX).await;
    assert!(whole.records > 250_000, "the world must span more than the largest batch: {} records", whole.records);
    assert!(whole.alerts.len() > 100, "too few alerts to compare: {}", whole.alerts.len());
    assert!(whole.state.len() > 1_000, "too few households to compare: {}", whole.state.len());
    let grades: HashSet<&str> = whole.alerts.values().map(|a| a["grade"].as_str().unwrap()).collect();
    assert!(grades.len() >= 2, "the alerts should span grades: {grades:?}");
    for batch in [1_000, 50_000, 250_000] {
        let run = replay(&world, batch).await;
        eprintln!(
            "batches of {batch}: {} alerts standing, {} revisions and {} withdrawals sent (one batch: {}, {}, {})",
            run.alerts.len(),
            run.revisions,
            run.withdrawals,
            whole.alerts.len(),
            whole.revisions,
            whole.withdrawals
        );
        // The revision path must be exercised for the comparison to mean something.
        if batch == 1_000 {
            assert!(run.revisions > 0 && run.withdrawals > 0, "no revision or withdrawal in batches of 1,000");
        }
        let only_whole: Vec<_> = whole.alerts.keys().filter(|id| !run.alerts.contains_key(*id)).take(3).collect();
        let only_run: Vec<_> = run.alerts.keys().filter(|id| !whole.alerts.contains_key(*id)).take(3).collect();
        assert!(
            only_whole.is_empty() && only_run.is_empty(),
            "batches of {batch}: {} alerts standing, one batch {}; only in one batch {only_whole:?}, only in batches {only_run:?}",
            run.alerts.len(),
            whole.alerts.len()
        );
        for (id, alert) in &whole.alerts {
            assert_eq!(content(&run.alerts[id]), content(alert), "batches of {batch}: alert {id} differs");
        }
        assert_eq!(run.state.len(), whole.state.len(), "batches of {batch}: households held");
        for (household, state) in &whole.state {
            assert_eq!(run.state.get(household), Some(state), "batches of {batch}: the state of {household} differs");
        }
    }
}
