//! Criterion micro-benchmarks of the hot paths, on a small simulated world (2,000 households,
//! twelve months): decoding one record, applying one record to the household state, one
//! indicator batch (features and the seven indicators over every household's year), and
//! grading one household-month with the promoted model.
//!
//! `cargo bench -p fangpin-pipelines --bench hot_paths` (see BENCHMARKS.md).

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fangpin_connectors::decode::{Decoder, DecoderConfig};
use fangpin_connectors::event::{Event, HouseholdCode};
use fangpin_connectors::file_source::{FileSource, SourceRecord};
use fangpin_connectors::pseudonym::Pseudonymiser;
use fangpin_models::grade::{GradingInput, IndicatorHit};
use fangpin_models::Grader;
use fangpin_pipelines::indicators::{self, Engine, Evaluation};
use fangpin_pipelines::features::FeatureSet;
use fangpin_pipelines::pipeline;
use fangpin_pipelines::registry::Registry;
use fangpin_pipelines::state::{Provenance, State};
use fangpin_pipelines::table::{self, MonthRow};
use fangpin_simulator::WorldConfig;
use rust_decimal::Decimal;

const HOUSEHOLDS: u32 = 2_000;
const HISTORY_MONTHS: i32 = 24;

struct World {
    records: Vec<SourceRecord>,
    events: Vec<Event>,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = WorldConfig { households: HOUSEHOLDS, ..WorldConfig::default() };
    fangpin_simulator::simulate(&config, dir.path(), &mut |_| {}).expect("the simulator runs");
    let mut source = FileSource::open(dir.path()).expect("the world opens");
    let records = source.next_batch(usize::MAX).expect("the world reads").unwrap_or_default();
    let decoder = decoder();
    let events = records.iter().filter_map(|r| decoder.decode(r.topic, &r.payload).ok()).collect();
    World { records, events }
}

fn decoder() -> Decoder {
    Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"criterion benchmark key").expect("a valid key"))
}

fn provenance() -> Provenance {
    Provenance { topic: "bench", source: Arc::from("bench"), position: fangpin_connectors::Position::Line(1), masked_payload: String::new(), waiting_since: 0 }
}

fn state_of(events: &[Event]) -> State {
    let mut state = State::new(HISTORY_MONTHS);
    for event in events {
        state.offer(provenance, event.clone());
    }
    state
}

/// Every household's whole window, as one `household_months` batch.
fn months_batch(state: &mut State) -> datafusion::arrow::array::RecordBatch {
    let (first, last) = (state.window_start().unwrap(), state.newest().unwrap());
    let rows: Vec<MonthRow> = state
        .take_touched()
        .into_iter()
        .filter_map(|(code, _)| state.household(&code).map(|h| MonthRow::for_household(h, first, last, first, first)))
        .flatten()
        .collect();
    table::to_batch(&rows).expect("a valid batch")
}

/// Grading inputs as the pipeline builds them, for every evaluated household-month.
fn grading_inputs(state: &State, evaluation: &Evaluation) -> Vec<GradingInput> {
    evaluation
        .evaluated
        .iter()
        .filter_map(|(code, month)| {
            let household = HouseholdCode::parse(code)?;
            let h = state.household(&household)?;
            let row = evaluation.feature_rows.get(&(code.clone(), *month))?;
            let before = evaluation.feature_rows.get(&(code.clone(), month.plus(-3)));
            let hits: Vec<IndicatorHit> = evaluation
                .hits
                .iter()
                .filter(|hit| &hit.household_code == code && hit.month == *month)
                .map(|hit| IndicatorHit { code: hit.code.clone(), detail: hit.detail.clone() })
                .collect();
            Some(pipeline::grading_input(&FeatureSet::builtin(), &household, h, row, before, hits, Decimal::from(8_000)))
        })
        .collect()
}

fn hot_paths(c: &mut Criterion) {
    let world = world();
    let decoder = decoder();

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(world.records.len() as u64));
    group.bench_function("every record of the world", |b| {
        b.iter(|| world.records.iter().filter(|r| decoder.decode(r.topic, &r.payload).is_ok()).count())
    });
    group.finish();

    let mut group = c.benchmark_group("state");
    group.throughput(Throughput::Elements(world.events.len() as u64));
    group.bench_function("apply every record to the ledgers", |b| {
        b.iter_batched(|| world.events.clone(), |events| state_of(&events), BatchSize::LargeInput)
    });
    group.finish();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let engine = Engine::new(indicators::builtin(), Decimal::from(8_000)).expect("the built-in indicators load");
    let mut state = state_of(&world.events);
    let batch = months_batch(&mut state);
    let mut group = c.benchmark_group("indicators");
    group.sample_size(10);
    group.throughput(Throughput::Elements(batch.num_rows() as u64));
    group.bench_function("features and seven indicators, one batch of household-months", |b| {
        b.iter(|| runtime.block_on(engine.evaluate(vec![batch.clone()])).expect("the indicators run"))
    });
    group.finish();

    let evaluation = runtime.block_on(engine.evaluate(vec![batch])).expect("the indicators run");
    let inputs = grading_inputs(&state, &evaluation);
    let registry = Registry::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/registry"));
    let version = registry.promoted().expect("the registry reads").expect("a promoted model");
    let grader = registry.grader(&version).expect("the promoted model loads");
    let mut group = c.benchmark_group("grading");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("promoted model, every household-month", |b| {
        b.iter(|| inputs.iter().filter(|input| grader.grade(input).is_some()).count())
    });
    group.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
