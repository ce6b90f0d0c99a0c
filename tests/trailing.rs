//! The trailing windows the pipeline computes in Rust (`pipelines/src/trailing.rs`) equal the
//! same windows stated as SQL window functions (`pipelines/sql/trailing_windows.sql`) run over
//! every month of every household: each feature column and each indicator hit, on a simulated
//! world long enough that windows are cut short, with households judged from different months
//! and feeds beginning late for some.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use datafusion::arrow::compute::concat_batches;
use datafusion::prelude::SessionContext;
use fangpin_connectors::{Decoder, DecoderConfig, FileSource, Pseudonymiser};
use fangpin_pipelines::indicators::{builtin, Engine, Evaluation};
use fangpin_pipelines::state::{Provenance, State};
use fangpin_pipelines::table::{raw_batch, to_batch, MonthRow};
use fangpin_pipelines::PipelineConfig;
use rust_decimal::Decimal;

const WINDOWS_SQL: &str = include_str!("../pipelines/sql/trailing_windows.sql");

fn provenance() -> Provenance {
    Provenance { topic: "test", source: Arc::from("test"), position: fangpin_connectors::Position::Line(1), masked_payload: String::new(), waiting_since: 0 }
}

/// Every household's rows of the retained window; the `n`th household is judged from a month
/// that moves with `n`, and every third one's feeds begin five months into the window.
fn world_rows(world: &Path) -> Vec<MonthRow> {
    let decoder = Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"trailing windows test key").unwrap());
    let mut state = State::new(PipelineConfig::default().history_months);
    let mut source = FileSource::open(world).unwrap();
    while let Some(records) = source.next_batch(50_000).unwrap() {
        for record in records {
            if let Ok(event) = decoder.decode(record.topic, &record.payload) {
                state.offer(provenance, event);
            }
        }
        state.prune();
    }
    let (first, last) = (state.window_start().unwrap(), state.newest().unwrap());
    let span = last.index() - first.index() + 1;
    assert!(span >= 15, "the window must be longer than a year to cut windows short: {span} months");
    let mut households: Vec<_> = state.households().collect();
    households.sort_by(|a, b| a.0.cmp(b.0));
    households
        .iter()
        .enumerate()
        .flat_map(|(n, (_, h))| {
            let n = n as i32;
            let eval_from = first.plus(n % span);
            let feeds_start = if n % 3 == 0 { first.plus(5) } else { first };
            MonthRow::for_household(h, first, last, eval_from, feeds_start)
        })
        .collect()
}

async fn by_sql(engine: &Engine, rows: &[MonthRow]) -> Evaluation {
    let ctx = SessionContext::new();
    ctx.register_batch("month_figures", raw_batch(rows).unwrap()).unwrap();
    let batches = ctx.sql(WINDOWS_SQL).await.unwrap().collect().await.unwrap();
    let months = concat_batches(&batches[0].schema(), &batches).unwrap();
    engine.evaluate(vec![months]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_windows_equal_their_sql_statement() {
    let tmp = tempfile::tempdir().unwrap();
    let world = tmp.path().join("world");
    let out = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["simulate", "--households", "800", "--months", "20", "--seed", "17", "--scenario", "eval-a"])
        .arg("--out")
        .arg(&world)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = world_rows(&world);
    let engine = Engine::new(builtin(), Decimal::from(8_000)).unwrap();

    let rust = engine.evaluate(vec![to_batch(&rows).unwrap()]).await.unwrap();
    let sql = by_sql(&engine, &rows).await;

    assert_eq!(rust.evaluated, sql.evaluated, "the household-months reported on differ");
    assert!(rust.evaluated.len() > 3_000, "too few household-months to compare: {}", rust.evaluated.len());
    let mut keys: Vec<_> = sql.feature_rows.keys().collect();
    keys.sort();
    assert_eq!(rust.feature_rows.len(), sql.feature_rows.len(), "feature rows differ in number");
    for key in keys {
        assert_eq!(rust.feature_rows.get(key), sql.feature_rows.get(key), "feature columns of {key:?} differ");
    }
    assert_eq!(rust.hits, sql.hits, "indicator hits differ");
    let codes: std::collections::BTreeSet<&str> = sql.hits.iter().map(|h| h.code.as_str()).collect();
    assert!(codes.len() >= 5, "too few indicators fire to compare them: {codes:?}");
}
