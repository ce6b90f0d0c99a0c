//! The pipeline's handling of time and corrections, on hand-made records: late records that
//! complete a pair, reversals that break one, duplicates, unknown households, dead letters.

use fangpin_connectors::topic::output;
use fangpin_connectors::Topic;
use fangpin_pipelines::checkpoint;
use serde_json::{json, Value};

use crate::support::{id_card, pipeline, record, MemorySink};

const HOUSEHOLD: &str = "420922101201-0042";

fn roster() -> Value {
    json!({"household_code": HOUSEHOLD, "category": "stable_alleviated", "members": 3, "labor_count": 2,
           "head_age": 52, "disabled_members": 0, "chronic_patients": 1, "industries": ["tea"],
           "baseline_income": "36000.00", "insured": true, "effective_date": "2024-01-01"})
}

/// An inpatient bill of `oop` out of pocket settled in `month` (day 15, China time).
fn bill(id: &str, month: &str, oop: u32, status: &str) -> Value {
    json!({"settlement_id": id, "status": status, "household_code": HOUSEHOLD, "id_card": id_card("19700101", 7),
           "settle_time": format!("{month}-15T10:00:00+08:00"), "visit_type": "inpatient",
           "total_cost": format!("{}.00", oop * 4), "fund_paid": format!("{}.00", oop * 3),
           "critical_illness_paid": "0.00", "assistance_paid": "0.00", "out_of_pocket": format!("{oop}.00")})
}

fn health_hits(p: &fangpin_pipelines::Pipeline) -> Vec<String> {
    p.last_hits().iter().filter(|h| h.code == "health_two_months").map(|h| h.month.to_string()).collect()
}

#[tokio::test]
async fn a_late_record_completes_the_pair() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    p.process(vec![record(Topic::Roster, 1, roster())], &mut sink).await.unwrap();
    p.process(vec![record(Topic::Medical, 1, bill("S2", "2024-07", 2000, "settled"))], &mut sink).await.unwrap();
    assert!(health_hits(&p).is_empty(), "one month alone must not fire");
    // June's bill arrives after July's: re-evaluating June onwards completes the pair in July.
    let alerts = p.process(vec![record(Topic::Medical, 2, bill("S1", "2024-06", 2000, "settled"))], &mut sink).await.unwrap();
    assert_eq!(health_hits(&p), vec!["2024-07"]);
    let alert = alerts.iter().find(|a| a.month == "2024-07").expect("an alert for July");
    // No wage or other income is on record: from the first month the feeds cover, the household's
    // monthly income is last year's for the months before them only (36,000 × 11/12 / 12 in June).
    assert!(alert.reasons.iter().any(|r| r.code == "health_two_months" && r.text.contains("6 月 2000.00 元（73%）")), "{alert:?}");
    assert_eq!(sink.of(&alert.queue).len(), alerts.iter().filter(|a| a.queue == alert.queue).count());
}

#[tokio::test]
async fn a_reversal_removes_the_cost_and_breaks_the_pair() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let first = vec![
        record(Topic::Roster, 1, roster()),
        record(Topic::Medical, 1, bill("S1", "2024-06", 2000, "settled")),
        record(Topic::Medical, 2, bill("S2", "2024-07", 2000, "settled")),
    ];
    p.process(first, &mut sink).await.unwrap();
    assert_eq!(health_hits(&p), vec!["2024-07"]);
    p.process(vec![record(Topic::Medical, 3, bill("S1", "2024-06", 2000, "reversed"))], &mut sink).await.unwrap();
    assert!(health_hits(&p).is_empty(), "after the reversal June has no cost: {:?}", health_hits(&p));
    // The same reversal again is a duplicate, not a second cancellation.
    p.process(vec![record(Topic::Medical, 4, bill("S1", "2024-06", 2000, "reversed"))], &mut sink).await.unwrap();
    assert_eq!(p.stats().duplicates, 1);
}

#[tokio::test]
async fn a_reversal_before_its_settlement_cancels_it_when_it_comes() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let records = vec![
        record(Topic::Roster, 1, roster()),
        record(Topic::Medical, 1, bill("S1", "2024-06", 2000, "reversed")),
        record(Topic::Medical, 2, bill("S1", "2024-06", 2000, "settled")),
        record(Topic::Medical, 3, bill("S2", "2024-07", 2000, "settled")),
        record(Topic::Medical, 4, bill("S9", "2024-07", 10, "reversed")),
    ];
    p.process(records, &mut sink).await.unwrap();
    assert!(health_hits(&p).is_empty());
    p.finish(&mut sink).unwrap();
    let letters = sink.of(output::DEAD_LETTER);
    assert_eq!(letters.len(), 1, "only S9 never found its settlement: {letters:?}");
    assert_eq!(letters[0]["reason"], "orphan_reversal");
    assert_eq!(letters[0]["line"], 4);
}

#[tokio::test]
async fn records_wait_for_their_household_and_the_unmatched_are_dead_lettered() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let mut stranger = bill("S1", "2024-06", 2000, "settled");
    stranger["household_code"] = json!("420922101201-9999");
    let records = vec![
        record(Topic::Medical, 1, bill("S1", "2024-06", 2000, "settled")),
        record(Topic::Medical, 2, bill("S2", "2024-07", 2000, "settled")),
        record(Topic::Medical, 3, stranger),
    ];
    p.process(records, &mut sink).await.unwrap();
    assert!(health_hits(&p).is_empty(), "nothing can be judged before the roster entry");
    p.process(vec![record(Topic::Roster, 1, roster())], &mut sink).await.unwrap();
    assert_eq!(health_hits(&p), vec!["2024-07"], "the waiting bills were applied when the household appeared");
    p.finish(&mut sink).unwrap();
    let letters = sink.of(output::DEAD_LETTER);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["reason"], "unknown_household");
    let payload = letters[0]["payload"].as_str().unwrap();
    assert!(!payload.contains(&id_card("19700101", 7)) && payload.contains("[id-masked]"), "{payload}");
}

#[tokio::test]
async fn bad_records_are_dead_lettered_with_their_reason_and_the_run_goes_on() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let mut unbalanced = bill("S3", "2024-07", 2000, "settled");
    unbalanced["out_of_pocket"] = json!("1999.99");
    let mut bad_id = bill("S4", "2024-07", 2000, "settled");
    let id = id_card("19700101", 7);
    let wrong = if id.ends_with('1') { "2" } else { "1" };
    bad_id["id_card"] = json!(format!("{}{wrong}", &id[..17]));
    let mut missing = roster();
    missing.as_object_mut().unwrap().remove("members");
    let mut mistyped = roster();
    mistyped["baseline_income"] = json!(36000.0);
    let mut invalid = roster();
    invalid["category"] = json!("rich");
    let records = vec![
        record(Topic::Roster, 1, roster()),
        fangpin_connectors::SourceRecord {
            topic: Topic::Medical,
            source: std::sync::Arc::from("test"),
            position: fangpin_connectors::Position::Line(1),
            payload: format!("{{\"settlement_id\": \"S5\", \"id_card\": \"{id}\"").into_bytes(),
        },
        record(Topic::Medical, 2, unbalanced),
        record(Topic::Medical, 3, bad_id),
        record(Topic::Roster, 2, missing),
        record(Topic::Roster, 3, mistyped),
        record(Topic::Roster, 4, invalid),
        record(Topic::Medical, 4, bill("S1", "2024-06", 2000, "settled")),
        record(Topic::Medical, 5, bill("S1", "2024-06", 2000, "settled")),
    ];
    p.process(records, &mut sink).await.unwrap();
    let reasons: Vec<(&str, u64)> = sink
        .of(output::DEAD_LETTER)
        .iter()
        .map(|l| (l["reason"].as_str().unwrap(), l["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("malformed_json", 1),
            ("amounts_do_not_add_up", 2),
            ("bad_id_card", 3),
            ("missing_field", 2),
            ("wrong_type", 3),
            ("invalid_value", 4)
        ]
    );
    assert_eq!(p.stats().duplicates, 1);
    let all = serde_json::to_string(sink.of(output::DEAD_LETTER)).unwrap();
    assert!(!all.contains(&id[..17]), "an ID number leaked into the dead letters");
}

/// The digits of an ID number however it was spelled: escapes decoded, full-width folded,
/// everything but digits and X dropped. Independent of the masking code it checks.
fn digits_only(text: &str) -> String {
    let mut decoded = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        decoded.push_str(&rest[..i]);
        let code = rest.get(i + 2..i + 6).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
        match code {
            Some(c) => {
                decoded.push(c);
                rest = &rest[i + 6..];
            }
            None => {
                decoded.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
        .chars()
        .filter_map(|c| match c {
            '0'..='9' | 'X' | 'x' => Some(c.to_ascii_uppercase()),
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            'Ｘ' | 'ｘ' => Some('X'),
            _ => None,
        })
        .collect()
}

/// A resident ID number in every spelling a department's system might produce, in broken JSON,
/// in the `id_card` field and in records parked for a household the roster does not know yet:
/// no dead letter and no checkpoint holds its digits, after any normalisation.
#[tokio::test]
async fn id_numbers_in_any_spelling_never_reach_dead_letters_or_checkpoints() {
    let id = id_card("19800101", 12);
    let fullwidth: String = id.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap() } else { 'Ｘ' }).collect();
    let escaped: String = id.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    let spaced = format!("{} {} {}", &id[..6], &id[6..14], &id[14..]);
    let dashed = format!("{}-{}-{}", &id[..6], &id[6..14], &id[14..]);
    let zero_width = format!("{}\u{200b}{}", &id[..9], &id[9..]);
    let text_spellings = [id.clone(), id.to_lowercase(), fullwidth, spaced, dashed, zero_width];
    let mut payloads: Vec<(Topic, Vec<u8>)> = Vec::new();
    for s in &text_spellings {
        // Broken JSON, never parsed by the decoder.
        payloads.push((Topic::Medical, format!("{{\"household_code\":\"{HOUSEHOLD}\",\"id_card\":\"{s}\",").into_bytes()));
        // Valid JSON whose id_card is not a valid ID in this spelling.
        let mut v = bill("S-bad", "2024-06", 100, "settled");
        v["id_card"] = json!(s);
        payloads.push((Topic::Medical, v.to_string().into_bytes()));
        // A valid record with the number in a field nobody reads, for an unknown household:
        // parked until the roster knows it, then dead-lettered.
        let mut v = bill(&format!("S-{}", payloads.len()), "2024-06", 100, "settled");
        v["household_code"] = json!("420922101201-0999");
        v["remark"] = json!(format!("患者身份证 {s}"));
        payloads.push((Topic::Medical, v.to_string().into_bytes()));
    }
    // A valid settlement whose identifier is the patient's ID number, with separators: applied,
    // its identifier kept only as a keyed hash.
    let mut v = bill("S-x", "2024-06", 100, "settled");
    v["settlement_id"] = json!(format!("{} {} {}", &id[..6], &id[6..14], &id[14..]));
    payloads.push((Topic::Medical, v.to_string().into_bytes()));
    // A record cut off inside the number: region and birth date, too short to look like an ID.
    payloads.push((Topic::Employment, format!("{{\"household_code\":\"{HOUSEHOLD}\",\"id_card\":\"{}", &id[..14]).into_bytes()));
    // JSON escapes and a broken byte in the middle exist only in raw bytes.
    payloads.push((Topic::Employment, format!("{{\"household_code\":\"{HOUSEHOLD}\",\"id_card\":\"{escaped}\",\"ym\":\"202406\",\"status\":\"employed\",\"wage_fen\":1}}").into_bytes()));
    let mut broken = format!("{{\"household_code\":\"{HOUSEHOLD}\",\"id_card\":\"{}", &id[..8]).into_bytes();
    broken.push(0xff);
    broken.extend_from_slice(format!("{}\"}}", &id[8..]).as_bytes());
    payloads.push((Topic::Employment, broken));

    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let mut records = vec![record(Topic::Roster, 1, roster())];
    for (i, (topic, payload)) in payloads.iter().enumerate() {
        let mut r = record(*topic, i as u64 + 2, json!({}));
        r.payload = payload.clone();
        records.push(r);
    }
    p.process(records, &mut sink).await.unwrap();
    let canonical = digits_only(&id);
    let waiting = fangpin_connectors::event::HouseholdCode::parse("420922101201-0999").unwrap();
    for household in [fangpin_connectors::event::HouseholdCode::parse(HOUSEHOLD).unwrap(), waiting] {
        if let Some(bytes) = p.checkpoint(&household).unwrap() {
            let text = format!("{} {}", String::from_utf8_lossy(&bytes), checkpoint::inspect(&bytes).unwrap());
            assert!(!digits_only(&text).contains(&canonical[..15]), "an ID number in the checkpoint of {household:?}: {text}");
        }
    }
    p.finish(&mut sink).unwrap();
    let letters = sink.of(output::DEAD_LETTER);
    let reasons: Vec<String> = letters.iter().map(|l| format!("{} {}", l["line"], l["reason"])).collect();
    // Three spell a valid ID in a valid record (the number itself, in lower case, as JSON
    // escapes), and one has it as its settlement id: applied under a pseudonym. Every other
    // record is a dead letter.
    assert_eq!(letters.len(), payloads.len() - 4, "{reasons:?}");
    for letter in letters {
        let text = letter.to_string();
        // Not even the region and birth date (the first 14 characters) of the number.
        assert!(!digits_only(&text).contains(&canonical[..14]), "an ID number, or its head, in a dead letter: {text}");
    }
}

/// A contract-valid area with four decimals (more than the table's columns carry) is kept to
/// 0.01 mu, never a failed batch, and still counts for the plan's 30-mu rule.
#[tokio::test]
async fn an_area_with_four_decimals_is_evaluated_not_a_failed_batch() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let farm = json!({"report_id": "A1", "household_code": HOUSEHOLD, "month": "2024-07", "product": "tea",
                      "planted_mu": "35.1234", "disaster_mu": "31.0051", "expected_income": "10000.00",
                      "actual_income": "5000.00"});
    p.process(vec![record(Topic::Roster, 1, roster()), record(Topic::Agri, 1, farm)], &mut sink).await.unwrap();
    let hits: Vec<&str> = p.last_hits().iter().map(|h| h.code.as_str()).collect();
    assert!(hits.contains(&"industry_disaster"), "{hits:?}");
    assert!(sink.of(output::DEAD_LETTER).is_empty());
}

/// Months at the edge of the accepted years: an offset that moves a settlement into 1899 in
/// China time is a dead letter, and a household whose records start in January 1900 (its
/// window reaching back into 1899) checkpoints and restores.
#[tokio::test]
async fn months_at_the_edge_of_the_years_never_make_state_unrestorable() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let mut early = roster();
    early["effective_date"] = json!("1900-01-01");
    let mut moved = bill("S-edge", "1900-01", 100, "settled");
    moved["settle_time"] = json!("1900-01-01T03:00:00+12:00");
    let first = bill("S-first", "1900-01", 100, "settled");
    p.process(vec![record(Topic::Roster, 1, early), record(Topic::Medical, 1, moved), record(Topic::Medical, 2, first)], &mut sink)
        .await
        .unwrap();
    let letters = sink.of(output::DEAD_LETTER);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["field"], "settle_time");
    let household = fangpin_connectors::event::HouseholdCode::parse(HOUSEHOLD).unwrap();
    let snapshot = p.checkpoint(&household).unwrap().expect("the household has state");
    let mut fresh = pipeline();
    fresh.restore(&household, &snapshot).expect("a checkpoint of January 1900 restores");
}

/// A checkpoint carries its pseudonym key's fingerprint: restored under another key it is
/// refused (its people would not match today's pseudonyms), under the same key it restores.
#[tokio::test]
async fn a_checkpoint_written_under_another_key_is_refused() {
    use fangpin_connectors::{Decoder, DecoderConfig, Pseudonymiser};
    use fangpin_pipelines::registry::GraderSource;
    use fangpin_pipelines::{Metrics, Pipeline, PipelineConfig, PipelineError};

    let mut p = pipeline();
    let mut sink = MemorySink::default();
    p.process(vec![record(Topic::Roster, 1, roster()), record(Topic::Medical, 1, bill("S1", "2024-06", 2000, "settled"))], &mut sink)
        .await
        .unwrap();
    let household = fangpin_connectors::event::HouseholdCode::parse(HOUSEHOLD).unwrap();
    let snapshot = p.checkpoint(&household).unwrap().unwrap();
    pipeline().restore(&household, &snapshot).expect("the same key restores");
    let other = Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"another key, sixteen bytes or more").unwrap());
    let rules = GraderSource::Fixed(std::sync::Arc::new(fangpin_pipelines::indicators::rules_grader(&fangpin_pipelines::indicators::builtin())));
    let mut stranger = Pipeline::new(PipelineConfig::default(), other, rules, Metrics::new()).unwrap();
    match stranger.restore(&household, &snapshot) {
        Err(PipelineError::KeyMismatch { .. }) => {}
        other => panic!("restored under another key: {other:?}"),
    }
}

/// One household the roster does not list can hold at most 200 waiting records: later ones are
/// dead-lettered at once, and the rest when the replay ends.
#[tokio::test]
async fn records_waiting_for_a_roster_entry_are_bounded_per_household() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let stranger = "420922101201-0777";
    let mut waiting = vec![record(Topic::Roster, 1, roster())];
    for i in 0..250u32 {
        let mut b = bill(&format!("W{i}"), "2024-03", 100, "settled");
        b["household_code"] = json!(stranger);
        // A department's 70 KB remark on each: what waits is kept within a broker's message.
        b["remark"] = json!("备注".repeat(12_000));
        waiting.push(record(Topic::Medical, u64::from(i) + 2, b));
    }
    p.process(waiting, &mut sink).await.unwrap();
    let unknown = |s: &MemorySink| s.of(output::DEAD_LETTER).iter().filter(|d| d["reason"] == "unknown_household").count();
    assert_eq!(unknown(&sink), 50, "beyond 200 waiting records of one household");
    let household = fangpin_connectors::event::HouseholdCode::parse(stranger).unwrap();
    let snapshot = p.checkpoint(&household).unwrap().expect("the waiting records are state");
    let held = checkpoint::inspect(&snapshot).unwrap();
    assert_eq!(held["parked"].as_array().unwrap().len(), 200);
    assert!(snapshot.len() < 1_000_000, "a checkpoint of {} bytes is more than a broker takes by default", snapshot.len());
    p.finish(&mut sink).unwrap();
    assert_eq!(unknown(&sink), 250);
    let parked_letter = sink.of(output::DEAD_LETTER).last().unwrap();
    assert!(parked_letter["payload"].as_str().unwrap().ends_with("[truncated]"), "{parked_letter}");
}

#[tokio::test]
async fn reversals_waiting_for_their_settlement_are_bounded_and_expire_with_the_window() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let household = fangpin_connectors::event::HouseholdCode::parse(HOUSEHOLD).unwrap();
    let waiting = |p: &fangpin_pipelines::Pipeline| -> usize {
        let held = checkpoint::inspect(&p.checkpoint(&household).unwrap().unwrap()).unwrap();
        held["waiting_reversals"].as_array().map_or(0, Vec::len)
    };
    let orphans = |s: &MemorySink| s.of(output::DEAD_LETTER).iter().filter(|d| d["reason"] == "orphan_reversal").count();
    // A reversal found by its settlement waits no more.
    let records = vec![record(Topic::Roster, 1, roster()), record(Topic::Medical, 1, bill("S1", "2024-01", 2000, "reversed"))];
    p.process(records, &mut sink).await.unwrap();
    assert_eq!(waiting(&p), 1);
    p.process(vec![record(Topic::Medical, 2, bill("S1", "2024-01", 2000, "settled"))], &mut sink).await.unwrap();
    assert_eq!(waiting(&p), 0, "matched by its settlement");
    // At most 200 reversals of unseen settlements wait; the rest are dead-lettered at once.
    let batch: Vec<_> = (0..230u64).map(|i| record(Topic::Medical, i + 3, bill(&format!("R{i}"), "2024-01", 10, "reversed"))).collect();
    p.process(batch, &mut sink).await.unwrap();
    assert_eq!((waiting(&p), orphans(&sink)), (200, 30));
    // Once January leaves the window (15 months of history: the stream reaches May of the next
    // year), no settlement of theirs can be accepted: they are dead-lettered then, not at the
    // end of time.
    p.process(vec![record(Topic::Medical, 300, bill("S2", "2025-04", 10, "settled"))], &mut sink).await.unwrap();
    assert_eq!((waiting(&p), orphans(&sink)), (200, 30), "January is still in the window in April");
    p.process(vec![record(Topic::Medical, 301, bill("S3", "2025-05", 10, "settled"))], &mut sink).await.unwrap();
    assert_eq!((waiting(&p), orphans(&sink)), (0, 230));
    p.finish(&mut sink).unwrap();
    assert_eq!(orphans(&sink), 230, "none is dead-lettered twice");
}

#[tokio::test]
async fn only_a_bounded_replay_keeps_the_list_of_every_alert() {
    let batch = || {
        vec![
            record(Topic::Roster, 1, roster()),
            record(Topic::Medical, 1, bill("S1", "2024-06", 2000, "settled")),
            record(Topic::Medical, 2, bill("S2", "2024-07", 2000, "settled")),
        ]
    };
    let mut continuous = pipeline();
    let raised = continuous.process(batch(), &mut MemorySink::default()).await.unwrap();
    assert!(!raised.is_empty());
    assert!(continuous.stats().alerted.is_empty(), "a continuous run keeps counts, not every alert");
    let mut replay = pipeline().keep_alert_lists();
    let raised = replay.process(batch(), &mut MemorySink::default()).await.unwrap();
    assert_eq!(replay.stats().alerted.len(), raised.len());
}

#[tokio::test]
async fn a_record_whose_roster_entry_never_comes_is_dead_lettered_after_the_wait() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let mut stranger = bill("S1", "2024-06", 2000, "settled");
    stranger["household_code"] = json!("420922101201-0777");
    p.process(vec![record(Topic::Medical, 1, stranger)], &mut sink).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    p.expire_waiting(now + 29 * 86_400, &mut sink).unwrap();
    assert!(sink.of(output::DEAD_LETTER).is_empty(), "29 days are within the 30-day wait");
    // The wait survives a checkpoint: a restored instance counts from the same start.
    let household = fangpin_connectors::event::HouseholdCode::parse("420922101201-0777").unwrap();
    let snapshot = p.checkpoint(&household).unwrap().unwrap();
    let mut restored = pipeline();
    restored.restore(&household, &snapshot).unwrap();
    restored.expire_waiting(now + 31 * 86_400, &mut sink).unwrap();
    let letters = sink.of(output::DEAD_LETTER);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["reason"], "unknown_household");
    assert!(letters[0]["detail"].as_str().unwrap().contains("within 30 days"), "{}", letters[0]);
    restored.finish(&mut sink).unwrap();
    assert_eq!(sink.of(output::DEAD_LETTER).len(), 1, "not dead-lettered twice");
}

/// Delivery is at least once: after a restart from a checkpoint, the records since the last
/// commit are read again. A record waiting for its roster entry and a reversal waiting for its
/// settlement, read again so, must still wait once: the state is the uninterrupted run's.
#[tokio::test]
async fn a_record_read_again_after_a_restore_still_waits_once() {
    let mut stranger = bill("S1", "2024-06", 2000, "settled");
    stranger["household_code"] = json!("420922101201-0777");
    let replayed = || vec![record(Topic::Medical, 2, stranger.clone()), record(Topic::Medical, 3, bill("S9", "2024-06", 10, "reversed"))];
    let mut first = pipeline();
    let mut sink = MemorySink::default();
    let mut batch = vec![record(Topic::Roster, 1, roster())];
    batch.extend(replayed());
    first.process(batch, &mut sink).await.unwrap();
    let households: Vec<_> = ["420922101201-0777", HOUSEHOLD].iter().map(|c| fangpin_connectors::event::HouseholdCode::parse(c).unwrap()).collect();
    let mut restored = pipeline();
    for h in &households {
        restored.restore(h, &first.checkpoint(h).unwrap().unwrap()).unwrap();
    }
    restored.process(replayed(), &mut sink).await.unwrap();
    for h in &households {
        let (want, got) = (first.checkpoint(h).unwrap().unwrap(), restored.checkpoint(h).unwrap().unwrap());
        assert_eq!(got, want, "{h:?}: the replay changed the state");
    }
    let held = checkpoint::inspect(&restored.checkpoint(&households[0]).unwrap().unwrap()).unwrap();
    assert_eq!(held["parked"].as_array().map(Vec::len), Some(1));
    let held = checkpoint::inspect(&restored.checkpoint(&households[1]).unwrap().unwrap()).unwrap();
    assert_eq!(held["waiting_reversals"].as_array().map(Vec::len), Some(1));
}

/// One record of a generated history: its event month (the order it belongs in), the
/// correction group it is part of (a later report of the same id), and the record.
#[derive(Clone, Debug)]
struct Entry {
    month: u32,
    correction_of: Option<String>,
    topic: Topic,
    value: Value,
}

/// A generated history of one household: inpatient bills (some reversed later), crop reports
/// (some corrected later) and wages, over six months.
fn history() -> impl proptest::strategy::Strategy<Value = Vec<Entry>> {
    use proptest::prelude::*;
    let bills = prop::collection::vec((1..=6u32, 1..5000u32, prop::option::of(0..=5u32)), 3..12);
    let reports = prop::collection::vec((1..=6u32, prop::collection::vec(1000..8000u32, 1..3)), 0..4);
    let wages = prop::collection::vec(prop::option::of(0..500_000u32), 6);
    (bills, reports, wages).prop_map(|(bills, reports, wages)| {
        let mut history = Vec::new();
        let mut push = |month, correction_of, topic, value| history.push(Entry { month, correction_of, topic, value });
        for (i, (month, oop, reversal)) in bills.into_iter().enumerate() {
            let (id, ym) = (format!("S{i}"), format!("2024-{month:02}"));
            push(month, None, Topic::Medical, bill(&id, &ym, oop, "settled"));
            if let Some(after) = reversal {
                push((month + after).min(6), None, Topic::Medical, bill(&id, &ym, oop, "reversed"));
            }
        }
        for (i, (month, actuals)) in reports.into_iter().enumerate() {
            for (k, actual) in actuals.into_iter().enumerate() {
                let report = json!({"report_id": format!("A{i}"), "household_code": HOUSEHOLD, "month": format!("2024-{month:02}"),
                                    "product": "tea", "planted_mu": "10.5", "disaster_mu": "2.25",
                                    "expected_income": "8000.00", "actual_income": format!("{actual}.00")});
                push(month + k as u32, Some(format!("A{i}")), Topic::Agri, report);
            }
        }
        for (month, wage) in (1..=6u32).zip(wages) {
            if let Some(wage) = wage {
                let v = json!({"household_code": HOUSEHOLD, "id_card": id_card("19800101", 7), "ym": format!("2024{month:02}"),
                               "status": "employed", "wage_fen": wage});
                push(month, None, Topic::Employment, v);
            }
        }
        history
    })
}

/// A history, an arrival order for it (corrections keep theirs: a correction is the later
/// report of an id, by definition), duplicates inserted anywhere, and a micro-batch size.
fn arrivals() -> impl proptest::strategy::Strategy<Value = (Vec<Entry>, Vec<Entry>, usize)> {
    use proptest::prelude::*;
    use proptest::sample::Index;
    history().prop_flat_map(|history| {
        let order = Just((0..history.len()).collect::<Vec<_>>()).prop_shuffle();
        let duplicates = prop::collection::vec((any::<Index>(), any::<Index>()), 0..4);
        (Just(history), order, duplicates, 1..6usize)
    })
    .prop_map(|(history, order, duplicates, batch)| {
        let mut shuffled: Vec<Entry> = order.iter().map(|i| history[*i].clone()).collect();
        let mut corrections: std::collections::BTreeMap<String, Vec<Value>> = std::collections::BTreeMap::new();
        for e in history.iter().filter(|e| e.correction_of.is_some()) {
            corrections.entry(e.correction_of.clone().unwrap()).or_default().push(e.value.clone());
        }
        for e in shuffled.iter_mut().filter(|e| e.correction_of.is_some()) {
            e.value = corrections.get_mut(e.correction_of.as_ref().unwrap()).unwrap().remove(0);
        }
        for (which, at) in duplicates {
            let d = which.get(&shuffled).clone();
            if d.correction_of.is_none() {
                let at = at.index(shuffled.len() + 1);
                shuffled.insert(at, d);
            }
        }
        // Event-time order (stable: corrections keep theirs).
        let mut in_time = history;
        in_time.sort_by_key(|e| e.month);
        (in_time, shuffled, batch)
    })
}

/// A property (proptest, 64 cases, shrunk to a smallest history when it fails): a household's
/// records in any arrival order (reversals before their settlement, late months, duplicates
/// anywhere, micro-batches of any size) give the same ledger as event-time order, and money
/// stays decimal strings.
#[test]
fn any_arrival_order_gives_the_event_time_ledger() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let ledger = |order: &[Entry], batch: usize| -> Value {
        let mut p = pipeline();
        let mut sink = MemorySink::default();
        runtime.block_on(async {
            p.process(vec![record(Topic::Roster, 0, roster())], &mut sink).await.unwrap();
            let records: Vec<_> = order.iter().enumerate().map(|(i, e)| record(e.topic, i as u64 + 1, e.value.clone())).collect();
            for chunk in records.chunks(batch) {
                p.process(chunk.to_vec(), &mut sink).await.unwrap();
            }
        });
        let household = fangpin_connectors::event::HouseholdCode::parse(HOUSEHOLD).unwrap();
        let snapshot = checkpoint::inspect(&p.checkpoint(&household).unwrap().unwrap()).unwrap();
        json!({"workers": snapshot["workers"], "parts": snapshot["parts"], "reversed": snapshot["reversed"]})
    };
    let config = ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |((in_time, shuffled, batch) in arrivals())| {
        let expected = ledger(&in_time, usize::MAX);
        let got = ledger(&shuffled, batch);
        prop_assert_eq!(&got, &expected, "arrival order changed the ledger (batches of {})", batch);
        // Money is exact: every amount the ledger holds reads back as a decimal string.
        let mut amounts = Vec::new();
        amounts_in(&expected, &mut amounts);
        prop_assert!(!amounts.is_empty(), "no amount held: {}", expected);
        for a in amounts {
            prop_assert!(a.is_string(), "{} is not a decimal string in {}", a, expected);
        }
    });
}

/// Every value under a money field of `v`, at any depth.
fn amounts_in<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if ["out_of_pocket", "total_cost", "wage", "amount", "actual_income", "expected_income"].contains(&k.as_str()) {
                    out.push(x);
                } else {
                    amounts_in(x, out);
                }
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| amounts_in(x, out)),
        _ => {}
    }
}

/// A second household, alone and below the line whatever its records: a `below_line` hit in
/// every month it is judged.
const OTHER: &str = "420922101201-0043";

fn poor_roster() -> Value {
    let mut poor = roster();
    poor["household_code"] = json!(OTHER);
    poor["members"] = json!(1);
    poor["labor_count"] = json!(1);
    poor["chronic_patients"] = json!(0);
    poor["baseline_income"] = json!("6000.00");
    poor
}

/// While a month is the newest its income is still arriving (filled from last year's); when the
/// next month begins it is closed, and every household is judged again from it, also those
/// without a record in the new month, so that no month's final judgement is the open one's.
#[tokio::test]
async fn a_new_month_judges_every_household_again_from_the_month_it_closes() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let poor = poor_roster();
    let mut other_bill = bill("O1", "2024-06", 100, "settled");
    other_bill["household_code"] = json!(OTHER);
    let first = vec![
        record(Topic::Roster, 1, roster()),
        record(Topic::Roster, 2, poor),
        record(Topic::Medical, 1, bill("S1", "2024-06", 2000, "settled")),
        record(Topic::Medical, 2, other_bill),
    ];
    p.process(first, &mut sink).await.unwrap();
    let below = |p: &fangpin_pipelines::Pipeline| -> Vec<(String, String)> {
        p.last_hits().iter().filter(|h| h.code == "below_line").map(|h| (h.household_code.clone(), h.month.to_string())).collect()
    };
    assert_eq!(below(&p), [(OTHER.to_owned(), "2024-06".to_owned())]);
    // Only the first household has a July record; the second is judged again from June all the same.
    p.process(vec![record(Topic::Medical, 3, bill("S2", "2024-07", 2000, "settled"))], &mut sink).await.unwrap();
    assert_eq!(below(&p), [(OTHER.to_owned(), "2024-06".to_owned()), (OTHER.to_owned(), "2024-07".to_owned())]);
}

/// The ledger keeps what each record contributes, never the record: duplicates, corrections
/// (also into another month) and reversals (before or after their settlement, outpatient or
/// inpatient) give exact monthly figures, and what a checkpoint holds restores them unchanged.
#[test]
fn the_ledger_keeps_contributions_that_give_exact_figures() {
    use fangpin_connectors::event::*;
    use fangpin_pipelines::ledger::{Applied, Household};
    use rust_decimal::Decimal;

    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let h = HouseholdCode::parse(HOUSEHOLD).unwrap();
    let (may, june) = (Month::new(2024, 5).unwrap(), Month::new(2024, 6).unwrap());
    let bill = |id: &str, month, visit_type, oop: &str, status| {
        Event::Medical(MedicalSettlement {
            settlement_id: id.into(),
            status,
            household: h.clone(),
            patient: PersonKey("p1".into()),
            month,
            visit_type,
            total_cost: d(oop) * d("2"),
            fund_paid: d(oop),
            critical_illness_paid: Decimal::ZERO,
            assistance_paid: Decimal::ZERO,
            out_of_pocket: d(oop),
        })
    };
    let work = |worker: &str, month, status, wage: &str| {
        Event::Employment(EmploymentReport { household: h.clone(), worker: PersonKey(worker.into()), month, status, wage: d(wage) })
    };
    let pay = |id: &str, month, kind, amount: &str| {
        Event::Assistance(AssistancePayment { payment_id: id.into(), household: h.clone(), month, kind, amount: d(amount) })
    };
    let profile: RosterEntry = serde_json::from_value(json!({"household": HOUSEHOLD, "category": "marginal", "members": 3,
        "labor_count": 2, "head_age": 50, "disabled_members": 0, "chronic_patients": 0, "industries": [],
        "baseline_income": "20000.00", "insured": true, "effective_date": "2024-01-01"}))
    .unwrap();
    let mut ledger = Household::new(profile.clone());
    use EmploymentStatus::*;
    use SettlementStatus::*;
    use VisitType::*;
    let steps: Vec<(Event, Applied)> = vec![
        (work("w1", may, Employed, "3000.00"), Applied::Changed(may)),
        (work("w1", may, Employed, "3000.00"), Applied::Duplicate),
        (work("w1", june, Unemployed, "0"), Applied::Changed(june)),
        (work("w2", june, Employed, "2500.00"), Applied::Changed(june)),
        // Outpatient O1, reversed after it settled; O2 reversed before it comes.
        (bill("O1", may, Outpatient, "120.00", Settled), Applied::Changed(may)),
        (bill("O1", may, Outpatient, "120.00", Reversed), Applied::Changed(may)),
        (bill("O2", june, Outpatient, "80.00", Reversed), Applied::ReversalParked),
        (bill("O2", june, Outpatient, "80.00", Settled), Applied::Changed(june)),
        (bill("O3", june, Outpatient, "45.50", Settled), Applied::Changed(june)),
        // Inpatient I1 corrected from May into June; I2 reversed.
        (bill("I1", may, Inpatient, "1000.00", Settled), Applied::Changed(may)),
        (bill("I1", june, Inpatient, "1200.00", Settled), Applied::Corrected(may)),
        (bill("I2", june, Inpatient, "700.00", Settled), Applied::Changed(june)),
        (bill("I2", june, Inpatient, "700.00", Reversed), Applied::Changed(june)),
        (pay("P1", june, AssistanceKind::Temporary, "500.00"), Applied::Changed(june)),
        (pay("P1", june, AssistanceKind::Temporary, "600.00"), Applied::Corrected(june)),
        (pay("P2", june, AssistanceKind::Dibao, "615.00"), Applied::Changed(june)),
    ];
    for (i, (event, expected)) in steps.into_iter().enumerate() {
        assert_eq!(ledger.apply(event), expected, "step {i}");
    }
    let months = ledger.months(may, june);
    assert_eq!((months[0].wages, months[0].medical_oop, months[0].inpatient_bills), (d("3000.00"), Decimal::ZERO, 0));
    let j = &months[1];
    assert_eq!((j.wages, j.workers_reported, j.unemployed_workers), (d("2500.00"), 2, 1));
    assert_eq!(j.wage_loss, d("3000.00"), "w1 normally earned his May wage");
    assert_eq!(j.medical_oop, d("1245.50"), "O3 and the corrected I1; O2 and I2 are reversed");
    assert_eq!(j.inpatient_bills, 1);
    assert_eq!((j.transfers, j.temp_assistance), (d("1215.00"), d("600.00")));
    // Claims count the inpatient bill as corrected, not the reversed one.
    let counted: Vec<_> = ledger.countable().map(|c| c.month()).collect();
    assert_eq!(counted, [june]);
    // Key hashes, as an operator reads them, never hold a run of 8 digits (ID-shaped text).
    let shown = serde_json::to_string(&ledger.held()).unwrap();
    assert!(shown.contains("\"reversed\":[\""), "{shown}");
    assert!(!regex::Regex::new("[0-9]{8}").unwrap().is_match(&shown), "a run of digits in {shown}");
    // A checkpoint's contents restore the same ledger.
    let again = Household::restore(profile, ledger.held());
    assert_eq!(again, ledger);
    assert_eq!(again.months(may, june), months);
}

/// A month close judges the touched households with everyone else, but a late record whose
/// month the close would carry out of the judged months is judged before it, in the same batch.
#[tokio::test]
async fn a_late_month_is_judged_before_a_jump_carries_it_out_of_the_window() {
    let mut p = pipeline();
    let mut sink = MemorySink::default();
    let poor = poor_roster();
    let other_bill = |id: &str, month: &str| {
        let mut b = bill(id, month, 100, "settled");
        b["household_code"] = json!(OTHER);
        b
    };
    // Records from 2023-01 to 2024-06: the window (15 months before the newest) is pruned, so
    // months are judged from 2024-02 on.
    let first = vec![
        record(Topic::Roster, 1, roster()),
        record(Topic::Roster, 2, poor),
        record(Topic::Medical, 1, bill("S1", "2023-01", 2000, "settled")),
        record(Topic::Medical, 2, bill("S2", "2024-06", 2000, "settled")),
    ];
    p.process(first, &mut sink).await.unwrap();
    let below = |p: &fangpin_pipelines::Pipeline| -> Vec<String> {
        p.last_hits().iter().filter(|h| h.code == "below_line" && h.household_code == OTHER).map(|h| h.month.to_string()).collect()
    };
    assert_eq!(below(&p).first().map(String::as_str), Some("2024-02"));
    // A late record for 2024-03, then one for 2024-08: from then on months are judged from
    // 2024-04, so March is judged before the jump or never.
    let second = vec![
        record(Topic::Medical, 3, other_bill("O1", "2024-03")),
        record(Topic::Medical, 4, bill("S3", "2024-08", 2000, "settled")),
    ];
    p.process(second, &mut sink).await.unwrap();
    let months = below(&p);
    assert!(months.contains(&"2024-03".to_owned()), "March was not judged again: {months:?}");
    assert!(months.contains(&"2024-08".to_owned()), "the new month was not judged: {months:?}");
}
