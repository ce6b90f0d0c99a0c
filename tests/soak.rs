//! A bounded soak: 30 months of a small Xiaogan arrive at a steady rate while the phone queue's
//! reader is slow (the queue file is a named pipe read at 8 KB/s). Backpressure must hold:
//! fangpin waits for its reader rather than buffering without bound, its memory stays flat once
//! the 13-month window is full, and nothing is dropped: every record is read and the phone
//! alerts standing at the end, as the reader rebuilds them from the messages (revisions and
//! withdrawals included), are those the summary counts.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Resident memory of a process, in KiB (Linux `VmRSS`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn lines_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson") && fangpin_connectors::Topic::ALL.iter().any(|t| p.file_stem().unwrap() == t.name()))
        .map(|p| BufReader::new(std::fs::File::open(p).unwrap()).lines().filter(|l| !l.as_ref().unwrap().trim().is_empty()).count() as u64)
        .sum()
}

#[test]
fn a_steady_stream_with_a_slow_reader_keeps_memory_flat_and_drops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (world, out) = (dir.path().join("world"), dir.path().join("out"));
    let ok = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["simulate", "--households", "1500", "--months", "30", "--seed", "31", "--out", world.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let records = lines_in(&world);
    std::fs::create_dir_all(&out).unwrap();
    let pipe = out.join("verify.phone.ndjson");
    assert!(Command::new("mkfifo").arg(&pipe).status().unwrap().success());

    // The slow reader: 8 KB a second, counting the alerts and bytes it receives.
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::open(&pipe).unwrap();
        let (mut got, mut buf) = (Vec::new(), [0u8; 800]);
        loop {
            let n = file.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            std::thread::sleep(Duration::from_millis(100));
        }
        let messages: Vec<serde_json::Value> =
            String::from_utf8(got.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (messages, got.len())
    });

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["run", "--from-dir", world.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rules-only"])
        .args(["--rate", "10000", "--batch-size", "2000"])
        .env("FANGPIN_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut samples = Vec::new();
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = rss_kib(child.id()) {
            samples.push(kib);
        }
        assert!(started.elapsed() < Duration::from_secs(600), "the soak did not finish in 10 minutes");
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = child.wait().unwrap();
    let mut summary = String::new();
    child.stdout.take().unwrap().read_to_string(&mut summary).unwrap();
    assert!(status.success(), "{summary}");
    let (messages, bytes) = reader.join().unwrap();
    // The phone alerts standing as the reader sees them: each id's latest revision, unless it
    // withdrew the alert or moved it to the door-visit queue. A dropped message (a withdrawal,
    // a move, a first revision) leaves the reader with another set than the summary counts.
    let standing = crate::support::standing_alerts(&messages);
    let received = standing.values().filter(|a| a["queue"] == "verify.phone").count() as u64;
    let took = started.elapsed();

    // Nothing dropped: every record read, every phone alert counted reached the reader.
    let read: u64 = summary
        .lines()
        .find_map(|l| l.strip_prefix("records read: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record count in the summary: {summary}"));
    assert_eq!(read, records, "records read against the lines of the world");
    let total = summary.lines().find(|l| l.trim_start().starts_with("total ") && l.split_whitespace().count() == 4).unwrap();
    let counts: Vec<u64> = total.split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect();
    assert!(received > 300 && messages.len() as u64 > received, "too few phone alerts or revisions to judge: {received} of {}", messages.len());
    assert_eq!(received, counts[1] + counts[2], "phone alerts (medium and low) counted against received: {total}");
    // The reader set the pace: the run lasted at least as long as reading its bytes at 8 KB/s
    // takes, less what the pipe and fangpin's write buffer hold (64 KiB each).
    let reading = (bytes.saturating_sub(128 * 1024)) as f64 / 8_000.0;
    assert!(reading > 30.0, "too few bytes ({bytes}) to hold the run back");
    assert!(took.as_secs_f64() >= reading, "{bytes} bytes read in {took:?}: fangpin did not wait for its reader");

    // Flat memory once the window is full: the last third never exceeds the middle by much.
    assert!(samples.len() > 30, "too few memory samples: {}", samples.len());
    let third = samples.len() / 3;
    let middle = *samples[third..2 * third].iter().max().unwrap();
    let last = *samples[2 * third..].iter().max().unwrap();
    eprintln!(
        "soak: {read} records over 30 months in {:.0} s, {received} phone alerts ({bytes} bytes) at the reader's pace, resident memory {} MiB (middle third) → {} MiB (last third)",
        took.as_secs_f64(),
        middle / 1024,
        last / 1024
    );
    assert!(last as f64 <= middle as f64 * 1.25, "memory grew from {middle} KiB to {last} KiB in the last third");
}
