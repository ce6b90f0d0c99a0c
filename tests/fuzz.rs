//! A bounded fuzzer, in the test command: mutated contract records through every decoder and
//! through the pipeline, mutated checkpoints through the restore, and mutated model files
//! through the loader and a grading, mutated coverage and configuration files through their
//! loaders. No input may panic, and no record may fail a batch (the
//! crash loop of a streaming engine that meets one bad record).
//!
//! Each target runs for `FANGPIN_FUZZ_SECONDS` (default 4) from a fixed seed
//! (`FANGPIN_FUZZ_SEED`, default 1), so a failure reproduces; the longer run is
//! `FANGPIN_FUZZ_SECONDS=600 cargo test --test integration fuzz`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fangpin_connectors::{Decoder, DecoderConfig, Pseudonymiser, SourceRecord, Topic};
use fangpin_models::ModelArtifact;
use fangpin_pipelines::registry::Registry;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::support::{pipeline, MemorySink};

fn budget() -> Duration {
    let secs = std::env::var("FANGPIN_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    Duration::from_secs(secs)
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(std::env::var("FANGPIN_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1))
}

/// Strings that have broken parsers before: huge and negative numbers, exponents, escapes,
/// nulls, other types, odd Unicode, very long runs.
const TOKENS: [&str; 24] = [
    "-1", "0", "1e309", "-0.0", "99999999999999999999999", "9223372036854775808", "0.000000001", "\"\"", "null",
    "true", "[]", "{}", "\"\\u0000\"", "\"\\ud800\"", "\"２０２４-０６\"", "\"9999-12-31T23:59:59-23:59\"",
    "\"0001-01-01T00:00:00+14:00\"", "\"2024-02-30\"", "\"420922101201-0042\"", "\"35.12345678\"",
    "\"1.7976931348623157e308\"", "\"NaN\"", "\"Infinity\"", "\"20241\"",
];

/// One random change to a payload: a byte, a cut, a splice of another seed, a token put in
/// place of a JSON value.
fn mutate(rng: &mut ChaCha8Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..rng.random_range(1..=3) {
        if out.is_empty() {
            out.extend_from_slice(b"{}");
        }
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..7) {
            0 => out[at] = rng.random(),
            1 => out.truncate(at),
            2 => {
                let end = (at + rng.random_range(1..16)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let from = rng.random_range(0..other.len().max(1));
                let piece: Vec<u8> = other.iter().skip(from).take(rng.random_range(1..40)).copied().collect();
                out.splice(at..at, piece);
            }
            4 => out.splice(at..at, std::iter::repeat_n(out[at], rng.random_range(1..2000))).for_each(drop),
            _ => {
                // Replace the value after a `:` with a token.
                if let Some(colon) = out[at..].iter().position(|b| *b == b':').map(|p| at + p + 1) {
                    let end = out[colon..].iter().position(|b| *b == b',' || *b == b'}').map_or(out.len(), |p| colon + p);
                    let token = TOKENS[rng.random_range(0..TOKENS.len())].as_bytes().to_vec();
                    out.splice(colon..end, token);
                }
            }
        }
    }
    out
}

/// Up to `per_topic` records of every contract topic of a small simulated world.
fn seeds(dir: &Path, per_topic: usize) -> Vec<(Topic, Vec<u8>)> {
    let world = dir.join("world");
    let status = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["simulate", "--households", "60", "--seed", "3", "--out", world.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut seeds = Vec::new();
    for topic in Topic::ALL {
        let path = world.join(format!("{}.ndjson", topic.name()));
        let text = std::fs::read(&path).unwrap_or_default();
        seeds.extend(text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(per_topic).map(|l| (topic, l.to_vec())));
    }
    assert!(seeds.len() > 100, "too few seeds: {}", seeds.len());
    seeds
}

#[test]
fn fuzz_decoders_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds(dir.path(), 40);
    let decoder = Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"fuzz key, sixteen bytes or more").unwrap());
    let mut rng = rng();
    let started = Instant::now();
    let mut tried = 0u64;
    while started.elapsed() < budget() {
        let (topic, seed) = &seeds[rng.random_range(0..seeds.len())];
        let other = &seeds[rng.random_range(0..seeds.len())].1;
        let payload = mutate(&mut rng, seed, other);
        let topic = if rng.random_range(0..10) == 0 { Topic::ALL[rng.random_range(0..Topic::ALL.len())] } else { *topic };
        let result = catch_unwind(AssertUnwindSafe(|| decoder.decode(topic, &payload).map(|_| ())));
        assert!(result.is_ok(), "the {topic:?} decoder panicked on {:?}", String::from_utf8_lossy(&payload));
        tried += 1;
    }
    assert!(tried > 1000, "only {tried} inputs in {:?}", budget());
    eprintln!("decoders: {tried} mutated records, no panic");
}

#[test]
fn fuzz_no_record_fails_a_batch_or_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds(dir.path(), 25);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut rng = rng();
    let started = Instant::now();
    let (mut batches, mut restores) = (0u64, 0u64);
    while started.elapsed() < budget() {
        let mut p = pipeline();
        let mut sink = MemorySink::default();
        // Valid records first, so that mutated ones meet a household with state.
        let mut records: Vec<SourceRecord> = Vec::new();
        for (i, (topic, seed)) in seeds.iter().enumerate() {
            let payload = if rng.random_range(0..3) == 0 {
                let other = rng.random_range(0..seeds.len());
                mutate(&mut rng, seed, &seeds[other].1)
            } else {
                seed.clone()
            };
            records.push(SourceRecord { topic: *topic, source: "fuzz".into(), position: fangpin_connectors::Position::Line(i as u64 + 1), payload });
        }
        let result = catch_unwind(AssertUnwindSafe(|| runtime.block_on(p.process(records, &mut sink))));
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("a batch failed, which in Kafka mode is a crash loop: {e}"),
            Err(_) => panic!("the pipeline panicked on a batch (seed {:?})", std::env::var("FANGPIN_FUZZ_SEED")),
        }
        batches += 1;
        // Every household's checkpoint restores; a mutated one is refused, never a panic.
        for household in p.take_changed() {
            let Some(snapshot) = p.checkpoint(&household).expect("a checkpoint is written") else { continue };
            let mut fresh = pipeline();
            fresh.restore(&household, &snapshot).unwrap_or_else(|e| panic!("{household:?}'s own checkpoint: {e}"));
            let damaged = mutate(&mut rng, &snapshot, &snapshot);
            let restored = catch_unwind(AssertUnwindSafe(|| fresh.restore(&household, &damaged).map(|_| ())));
            assert!(restored.is_ok(), "restoring a damaged checkpoint panicked: {:?}", String::from_utf8_lossy(&damaged));
            restores += 1;
        }
    }
    assert!(batches >= 2 && restores > 20, "{batches} batches, {restores} restores");
    eprintln!("pipeline: {batches} batches of mutated records, {restores} damaged checkpoints, no failure");
}

#[test]
fn fuzz_model_files_are_refused_or_served_never_a_panic() {
    // The model that ships, whichever version is promoted.
    let registry = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/registry");
    let promoted = Registry::open(&registry).promoted().unwrap().expect("a promoted model ships");
    let path = registry.join(promoted).join("model.json");
    let text = std::fs::read(&path).unwrap();
    let features = fangpin_pipelines::features::FeatureSet::builtin();
    let (names, version) = (features.names(), features.version());
    let row = vec![0.5; names.len()];
    let mut rng = rng();
    let started = Instant::now();
    let (mut tried, mut served) = (0u64, 0u64);
    while started.elapsed() < budget() {
        let damaged = mutate(&mut rng, &text, &text);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let Ok(artifact) = serde_json::from_slice::<ModelArtifact>(&damaged) else { return false };
            let Ok(grader) = fangpin_models::ModelGrader::new(artifact, names, version, features.labels().to_vec()) else {
                return false;
            };
            let p = grader.artifact().probability(&row);
            let _ = grader.artifact().contributions(&row);
            assert!(p.is_finite(), "a served model gives probability {p}");
            true
        }));
        match outcome {
            Ok(true) => served += 1,
            Ok(false) => {}
            Err(_) => panic!("a damaged model file panicked the loader or the grader: {}", String::from_utf8_lossy(&damaged)),
        }
        tried += 1;
    }
    assert!(tried > 100, "only {tried} model files");
    eprintln!("models: {tried} damaged model files, {served} still served, no panic");
}

/// Mutated configuration through the loaders: the coverage file through the claims library, a
/// whole `fangpin.toml` (every section) through the binary. Every outcome is a value or an
/// error message, never a panic.
#[test]
fn fuzz_configuration_files_are_refused_with_a_message_never_a_panic() {
    let mut rng = rng();
    let coverage = fangpin_claims::coverage::DEFAULT_TOML.as_bytes();
    let started = Instant::now();
    let (mut tried, mut accepted) = (0u64, 0u64);
    while started.elapsed() < budget() / 2 {
        let damaged = mutate(&mut rng, coverage, coverage);
        let text = String::from_utf8_lossy(&damaged).into_owned();
        let outcome = catch_unwind(AssertUnwindSafe(|| match fangpin_claims::Coverage::parse(&text, "fuzz") {
            Ok(c) => fangpin_claims::Claims::new(c).is_ok(),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                false
            }
        }));
        match outcome {
            Ok(ok) => accepted += u64::from(ok),
            Err(_) => panic!("a damaged coverage file panicked the loader: {text}"),
        }
        tried += 1;
    }
    assert!(tried > 100, "only {tried} coverage files");

    let dir = tempfile::tempdir().unwrap();
    let seed = "[pipeline]\npoverty_line = \"8000\"\nhistory_months = 12\nbatch_size = 1000\n\n\
                [privacy]\npseudonym_key_file = \"/nonexistent/key\"\n\n\
                [claims]\ntriggers_dir = \"/nonexistent\"\n\n\
                [cases]\ndoor_visit_days = 2\n\n\
                [kafka]\nbrokers = \"127.0.0.1:9\"\npartitions = 4\n";
    let empty = dir.path().join("world");
    std::fs::create_dir_all(&empty).unwrap();
    let config = dir.path().join("fangpin.toml");
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < budget() / 2 {
        let damaged = mutate(&mut rng, seed.as_bytes(), seed.as_bytes());
        std::fs::write(&config, &damaged).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_fangpin"))
            .args(["run", "--rules-only", "--config", config.to_str().unwrap(), "--from-dir", empty.to_str().unwrap(), "--out"])
            .arg(dir.path().join("out"))
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "a damaged configuration panicked fangpin:\n{}\n{stderr}", String::from_utf8_lossy(&damaged));
        runs += 1;
    }
    assert!(runs > 10, "only {runs} configuration files");
    eprintln!("configuration: {tried} damaged coverage files ({accepted} still valid), {runs} damaged fangpin.toml, no panic");
}
