//! Clear errors: a wrong flag, file or configuration gives one readable message naming what to
//! fix and a non-zero exit, never a panic.

use std::process::Command;

/// Runs fangpin with `args`; returns its standard error, which must be a failure without a
/// panic.
pub fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fangpin")).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{args:?} panicked:\n{stderr}");
    stderr
}

#[test]
fn a_missing_model_registry_is_an_error_unless_the_rules_were_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let (world, out) = (dir.path().join("world"), dir.path().join("out"));
    std::fs::create_dir_all(&world).unwrap();
    std::fs::write(world.join("dept.rural.roster.ndjson"), "").unwrap();
    let missing = dir.path().join("no-registry");
    let args = ["run", "--from-dir", world.to_str().unwrap(), "--out", out.to_str().unwrap(), "--models", missing.to_str().unwrap()];
    let stderr = fails(&args);
    assert!(stderr.contains("no model is promoted") && stderr.contains("--rules-only"), "{stderr}");
    let mut rules = args.to_vec();
    rules.push("--rules-only");
    let ok = Command::new(env!("CARGO_BIN_EXE_fangpin")).args(&rules).env("FANGPIN_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn a_rate_of_zero_and_unknown_configuration_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().to_str().unwrap().to_owned();
    let out = dir.path().join("out");
    let stderr = fails(&["run", "--from-dir", &world, "--out", out.to_str().unwrap(), "--rate", "0"]);
    assert!(stderr.contains("--rate 0: give a positive number"), "{stderr}");
    let config = dir.path().join("fangpin.toml");
    std::fs::write(&config, "[pipeline]\npoverty_lime = \"8000\"\n").unwrap();
    let stderr = fails(&["run", "--from-dir", &world, "--out", out.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert!(stderr.contains("poverty_lime") && stderr.contains("fangpin.toml"), "{stderr}");
    std::fs::write(&config, "[cases]\ndoor_visit_days = 0\n").unwrap();
    let stderr = fails(&["cases", "serve", "--db", "sqlite://x.db", "--queues", &world, "--outcomes", &world, "--config", config.to_str().unwrap()]);
    assert!(stderr.contains("door_visit_days must be at least 1"), "{stderr}");
    let stderr = fails(&["cases", "verify-audit", "--db", "mysql://somewhere/db"]);
    assert!(stderr.contains("expected sqlite://FILE or postgres://"), "{stderr}");
}

/// Kafka mode keeps state across restarts, so it refuses to start without a configured key, and
/// the key file holds hex like the environment variable.
#[cfg(feature = "kafka")]
#[test]
fn kafka_mode_needs_a_pseudonym_key_and_key_files_hold_hex() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["run", "--brokers", "127.0.0.1:9", "--stop-at-end"])
        .env_remove("FANGPIN_PSEUDONYM_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no pseudonym key"), "{stderr}");
    let key = dir.path().join("pseudonym.key");
    std::fs::write(&key, "raw text, not hex digits\n").unwrap();
    let config = dir.path().join("fangpin.toml");
    std::fs::write(&config, format!("[privacy]\npseudonym_key_file = \"{}\"\n", key.display())).unwrap();
    let stderr = fails(&["run", "--brokers", "127.0.0.1:9", "--stop-at-end", "--config", config.to_str().unwrap()]);
    assert!(stderr.contains("pseudonym key file") && stderr.contains("hex"), "{stderr}");
}

/// A full disk for the outputs (a queue file that is Linux's /dev/full, which refuses every
/// write with ENOSPC) and a missing input directory: one message naming the file and the fix.
#[test]
fn a_full_disk_and_a_missing_input_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (world, out) = (dir.path().join("world"), dir.path().join("out"));
    let ok = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["simulate", "--households", "50", "--out", world.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ok.status.success());
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink("/dev/full", out.join("verify.phone.ndjson")).unwrap();
    let stderr = fails(&["run", "--from-dir", world.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rules-only"]);
    assert!(stderr.contains("verify.phone.ndjson") && stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("free disk space"), "{stderr}");
    let missing = dir.path().join("no-such-world");
    let stderr = fails(&["run", "--from-dir", missing.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rules-only"]);
    assert!(stderr.contains("no-such-world") && stderr.contains("No such file or directory"), "{stderr}");
}

/// No broker listening: the run gives up with the address it tried and the broker's failure.
#[cfg(feature = "kafka")]
#[test]
fn an_unreachable_broker_is_named() {
    let port = crate::support::free_port();
    let brokers = format!("127.0.0.1:{port}");
    let out = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["run", "--brokers", &brokers, "--stop-at-end"])
        .env("FANGPIN_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(&format!("preparing topics on {brokers}")) && stderr.contains("transport failure"), "{stderr}");
}
