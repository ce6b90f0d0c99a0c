//! Per-household checkpoints. A deployment that spreads households over several instances
//! (Kafka partitions keyed by household code) writes each changed household's state to a
//! compacted changelog topic, and an instance given a partition rebuilds its households' state
//! from it, as Kafka Streams does. The calls are [`crate::Pipeline::take_changed`],
//! [`crate::Pipeline::checkpoint`], [`crate::Pipeline::clear_state`] and
//! [`crate::Pipeline::restore`]; this module is the format.
//!
//! A checkpoint is one binary record per household: the magic `fpck`, the format version as a
//! varint, then in postcard (a small, documented serde wire format: varints, no field names)
//!
//! ```text
//! household  key  window (oldest, newest)  profile (the roster entry)
//! held:  workers [(worker hash, [(month, status, wage)..])..]   employment, by worker and month
//!        parts   [(key hash, contribution)..]                    every other record, in key order
//!        reversed [key hash..]                                   settlements cancelled
//! alerts, shadow_alerts: the household's part of each alert book ([`crate::alerts`]): its
//!        judged months' assessments and what was sent for them, the alerts it remembers
//! rest:  JSON of what is seldom there: records waiting for their roster entry or settlement
//!        (with their masked payloads), the claims book, the outbox
//! ```
//!
//! Of a record only its key's hash and what it contributes are kept ([`crate::ledger`]);
//! months are month indices and amounts exact (mantissa, scale) pairs
//! ([`fangpin_connectors::compact`]). The same state always gives the same bytes. An operator
//! reads a checkpoint with [`inspect`] (`fangpin show-checkpoint FILE`), as JSON.
//!
//! Version 1 was JSON with whole records, version 2 carried the alert books in the JSON part;
//! both are refused with a message saying so, as is any other version: the households it held start again from the records read next.
//!
//! `key` is the pseudonym key's fingerprint: a checkpoint written under another key is refused
//! with [`PipelineError::KeyMismatch`], since its people would not match today's pseudonyms.
//!
//! It never holds a resident ID number: events carry pseudonyms only, and the payloads of
//! waiting records were masked when they arrived, as in dead letters.
//!
//! The window is the stream's watermarks when the checkpoint was written. Restoring extends
//! the restoring pipeline's watermarks with them, so that its window of months is the one the
//! writing pipeline had, even after the oldest records were pruned.

use std::borrow::Cow;
use std::sync::Arc;

use fangpin_connectors::compact::month;
use fangpin_connectors::event::{Event, HouseholdCode, Month, RosterEntry};
use fangpin_connectors::{Position, Topic};
use serde::{Deserialize, Serialize};

use crate::alerts::{Alert, BookEntry};
use crate::error::PipelineError;
use crate::ledger::{Held, Household};
use crate::state::{Provenance, State, WaitingReversal};
use fangpin_claims::BookEntry as ClaimsEntry;

/// What every checkpoint begins with.
const MAGIC: &[u8] = b"fpck";

/// The format written; [`decode`] refuses any other.
const VERSION: u32 = 3;

/// One household's checkpoint after the magic and version: borrowed from the state to write
/// it, owned when read back.
#[derive(Serialize, Deserialize)]
struct Snapshot<'a> {
    household: Cow<'a, HouseholdCode>,
    /// The pseudonym key's fingerprint.
    key: Cow<'a, str>,
    window: Option<Window>,
    profile: Option<Cow<'a, RosterEntry>>,
    held: Held,
    alerts: BookEntry,
    shadow_alerts: BookEntry,
    /// [`Rest`] as JSON, empty when there is none.
    rest: Cow<'a, [u8]>,
}

/// The watermarks of the pipeline that wrote the checkpoint.
#[derive(Copy, Clone, Serialize, Deserialize)]
struct Window {
    #[serde(with = "month")]
    oldest: Month,
    #[serde(with = "month")]
    newest: Month,
}

/// What a checkpoint seldom holds, as JSON: the claims and alert message types already
/// serialise to it, and the masked payloads of waiting records stay readable.
#[derive(Default, Serialize, Deserialize)]
struct Rest<'a> {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    parked: Vec<ParkedRecord<'a>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    waiting_reversals: Vec<ReversalRecord<'a>>,
    /// Claims issued to the household (amount and revision of each), so that another instance
    /// restates them rather than raising them again.
    #[serde(default, skip_serializing_if = "ClaimsEntry::is_empty")]
    claims: ClaimsEntry,
    /// Alerts booked above and not yet known to be sent: whoever restores this sends them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    outbox: Vec<Alert>,
}

impl Rest<'_> {
    fn is_empty(&self) -> bool {
        self.parked.is_empty()
            && self.waiting_reversals.is_empty()
            && self.claims.is_empty()
            && self.outbox.is_empty()
    }
}

/// What a household's checkpoint holds besides its state: its parts of the books, and the
/// alerts waiting to be sent.
pub(crate) struct Books {
    pub alerts: BookEntry,
    pub shadow_alerts: BookEntry,
    pub claims: ClaimsEntry,
    pub outbox: Vec<Alert>,
}

/// Where a waiting record came from: enough for its dead letter if its match never comes.
#[derive(Serialize, Deserialize)]
struct Origin<'a> {
    topic: Cow<'a, str>,
    source: Cow<'a, str>,
    #[serde(flatten)]
    position: Position,
    /// Masked when the record arrived.
    payload: Cow<'a, str>,
    /// When it began to wait (unix seconds).
    since: i64,
}

/// A record waiting for its household's roster entry.
#[derive(Serialize, Deserialize)]
struct ParkedRecord<'a> {
    from: Origin<'a>,
    event: Cow<'a, Event>,
}

/// A reversal waiting for its settlement.
#[derive(Serialize, Deserialize)]
struct ReversalRecord<'a> {
    settlement_id: Cow<'a, str>,
    /// The reversal's month, from which it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    month: Option<Month>,
    from: Origin<'a>,
}

impl<'a> Origin<'a> {
    fn of(p: &'a Provenance) -> Origin<'a> {
        Origin {
            topic: Cow::Borrowed(p.topic),
            source: Cow::Borrowed(&p.source),
            position: p.position,
            payload: Cow::Borrowed(&p.masked_payload),
            since: p.waiting_since,
        }
    }

    fn into_provenance(self) -> Result<Provenance, String> {
        // Provenance keeps the topic as the contract's own `&'static str`.
        let topic = Topic::from_name(&self.topic).ok_or_else(|| format!("unknown topic {:?}", self.topic))?.name();
        Ok(Provenance {
            topic,
            source: Arc::from(self.source.as_ref()),
            position: self.position,
            masked_payload: self.payload.into_owned(),
            waiting_since: self.since,
        })
    }
}

/// `code`'s checkpoint, or `None` when nothing is held for it any more (write a tombstone).
pub(crate) fn encode(
    code: &HouseholdCode,
    key: &str,
    state: &State,
    books: Books,
) -> Result<Option<Vec<u8>>, PipelineError> {
    let internal = |e: String| PipelineError::Internal(format!("checkpoint of {code}: {e}"));
    let Books { alerts, shadow_alerts, claims, outbox } = books;
    let household = state.household(code);
    let rest = Rest {
        parked: state.parked(code).iter().map(|(p, e)| ParkedRecord { from: Origin::of(p), event: Cow::Borrowed(e) }).collect(),
        waiting_reversals: state
            .waiting_reversals(code)
            .iter()
            .map(|w| ReversalRecord { settlement_id: Cow::Borrowed(&w.settlement_id), month: w.month, from: Origin::of(&w.provenance) })
            .collect(),
        claims,
        outbox,
    };
    if household.is_none() && rest.is_empty() && alerts.is_empty() && shadow_alerts.is_empty() {
        return Ok(None);
    }
    let rest = if rest.is_empty() { Vec::new() } else { serde_json::to_vec(&rest).map_err(|e| internal(e.to_string()))? };
    let snapshot = Snapshot {
        household: Cow::Borrowed(code),
        key: Cow::Borrowed(key),
        window: state.oldest().zip(state.newest()).map(|(oldest, newest)| Window { oldest, newest }),
        profile: household.map(|h| Cow::Borrowed(&h.profile)),
        held: household.map(Household::held).unwrap_or_default(),
        alerts,
        shadow_alerts,
        rest: Cow::Owned(rest),
    };
    let mut out = MAGIC.to_vec();
    out = postcard::to_extend(&VERSION, out).map_err(|e| internal(e.to_string()))?;
    Ok(Some(postcard::to_extend(&snapshot, out).map_err(|e| internal(e.to_string()))?))
}

/// The snapshot in `bytes`, after checking the magic and the version.
fn read(bytes: &[u8]) -> Result<Snapshot<'_>, String> {
    if bytes.first() == Some(&b'{') {
        return Err(format!(
            "format version 1 (JSON, whole records); this build reads version {VERSION}: \
             rebuild the household's state by replaying its feeds"
        ));
    }
    let body = bytes.strip_prefix(MAGIC).ok_or("not a fangpin checkpoint (no `fpck` at its start)")?;
    let (version, body) = postcard::take_from_bytes::<u32>(body).map_err(|e| format!("unreadable version: {e}"))?;
    if version == 2 {
        return Err(format!("format version 2 (alert books as JSON); this build reads version {VERSION}"));
    }
    if version != VERSION {
        return Err(format!("format version {version}; this build reads version {VERSION}"));
    }
    match postcard::take_from_bytes::<Snapshot>(body) {
        Ok((snapshot, [])) => Ok(snapshot),
        Ok((_, left)) => Err(format!("unreadable: {} bytes after the end", left.len())),
        Err(e) => Err(format!("unreadable: {e}")),
    }
}

/// A checkpoint read back, ready to replace the household's state.
pub(crate) struct Restored {
    pub household: Option<Household>,
    pub parked: Vec<(Provenance, Event)>,
    pub waiting_reversals: Vec<WaitingReversal>,
    pub alerts: BookEntry,
    pub shadow_alerts: BookEntry,
    pub claims: ClaimsEntry,
    pub outbox: Vec<Alert>,
    /// The watermarks of the pipeline that wrote it.
    pub seen: Vec<Month>,
}

/// Reads `code`'s checkpoint; refuses another version, another household's, or a damaged one.
pub(crate) fn decode(code: &HouseholdCode, key: &str, bytes: &[u8]) -> Result<Restored, PipelineError> {
    let fail = |message: String| PipelineError::Checkpoint { household: code.to_string(), message };
    let s = read(bytes).map_err(fail)?;
    if *s.household != *code {
        return Err(fail(format!("the record holds household {}", s.household)));
    }
    if *s.key != *key {
        return Err(PipelineError::KeyMismatch { household: code.to_string(), written: s.key.into_owned(), ours: key.to_owned() });
    }
    let rest: Rest = if s.rest.is_empty() {
        Rest::default()
    } else {
        serde_json::from_slice(&s.rest).map_err(|e| fail(format!("unreadable waiting records or books: {e}")))?
    };
    if let Some(p) = rest.parked.iter().find(|p| p.event.household() != Some(code)) {
        return Err(fail(format!("a record of another household: {:?}", p.event)));
    }
    if let Some(a) = rest.outbox.iter().find(|a| a.household_code != code.as_str()) {
        return Err(fail(format!("an alert of another household waits to be sent: {}", a.alert_id)));
    }
    let household = match s.profile {
        Some(profile) if profile.household != *code => {
            return Err(fail(format!("a roster entry of household {}", profile.household)));
        }
        Some(profile) => Some(Household::restore(profile.into_owned(), s.held)),
        None if s.held == Held::default() => None,
        None => return Err(fail("records without a roster entry".to_owned())),
    };
    let parked = rest
        .parked
        .into_iter()
        .map(|p| Ok((p.from.into_provenance()?, p.event.into_owned())))
        .collect::<Result<_, String>>()
        .map_err(fail)?;
    let waiting_reversals = rest
        .waiting_reversals
        .into_iter()
        .map(|w| {
            let provenance = w.from.into_provenance()?;
            Ok(WaitingReversal { settlement_id: w.settlement_id.into_owned(), month: w.month, provenance })
        })
        .collect::<Result<_, String>>()
        .map_err(fail)?;
    Ok(Restored {
        household,
        parked,
        waiting_reversals,
        alerts: s.alerts,
        shadow_alerts: s.shadow_alerts,
        claims: rest.claims,
        outbox: rest.outbox,
        seen: s.window.map(|w| vec![w.oldest, w.newest]).unwrap_or_default(),
    })
}

/// A checkpoint as JSON, for an operator reading the changelog and for tests: every part by
/// name (`household`, `key`, `oldest`, `newest`, `profile`, `workers`, `parts`, `reversed`,
/// and those of the books and the rest that are there), months and amounts written as everywhere else.
pub fn inspect(bytes: &[u8]) -> Result<serde_json::Value, String> {
    use serde_json::{json, Value};
    let s = read(bytes)?;
    let mut out = json!({
        "v": VERSION,
        "household": s.household,
        "key": s.key,
        "profile": s.profile,
        "workers": s.held.workers,
        "parts": s.held.parts,
        "reversed": s.held.reversed,
    });
    let map = out.as_object_mut().expect("an object");
    if let Some(w) = s.window {
        map.insert("oldest".into(), json!(w.oldest));
        map.insert("newest".into(), json!(w.newest));
    }
    for (name, book) in [("alerts", &s.alerts), ("shadow_alerts", &s.shadow_alerts)] {
        if !book.is_empty() {
            map.insert(name.into(), json!(book));
        }
    }
    if !s.rest.is_empty() {
        let rest: Value = serde_json::from_slice(&s.rest).map_err(|e| format!("unreadable waiting records or books: {e}"))?;
        map.extend(rest.as_object().cloned().unwrap_or_default());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fangpin_connectors::event::HouseholdCode;
    use fangpin_connectors::pseudonym::id_card_check_char;
    use fangpin_connectors::topic::output;
    use fangpin_connectors::{
        mask_id_numbers, ConnectorError, Decoder, DecoderConfig, Position, Pseudonymiser, Sink, SourceRecord, Topic,
    };
    use serde_json::{json, Value};

    use super::inspect;
    use crate::registry::GraderSource;
    use crate::{Alert, Metrics, Pipeline, PipelineConfig, PipelineError};

    /// Medical bills: a pair completed after the restore, a reversal before its settlement, an
    /// orphan reversal, and one record of every other household feed.
    const H1: &str = "420922101201-0001";
    /// Alerted before the restore, unemployed after it.
    const H2: &str = "420922101201-0002";
    /// A bill waiting for the roster entry that comes after the restore.
    const H3: &str = "420922101201-0003";
    /// Never on the roster: its records are dead-lettered at the end.
    const H4: &str = "420922101201-0004";

    fn pipeline() -> Pipeline {
        let decoder =
            Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"test key, sixteen bytes or more").unwrap());
        let rules = GraderSource::Fixed(Arc::new(crate::indicators::rules_grader(&crate::indicators::builtin())));
        Pipeline::new(PipelineConfig::default(), decoder, rules, Metrics::new()).unwrap()
    }

    /// Keeps every message sent, in order.
    #[derive(Default)]
    struct MemorySink {
        sent: Vec<(String, Value)>,
    }

    impl Sink for MemorySink {
        fn send(&mut self, topic: &str, _key: &str, payload: &[u8]) -> Result<(), ConnectorError> {
            self.sent.push((topic.to_owned(), serde_json::from_slice(payload).expect("outputs are JSON")));
            Ok(())
        }

        fn flush(&mut self) -> Result<(), ConnectorError> {
            Ok(())
        }
    }

    impl MemorySink {
        fn dead_letters(&self) -> Vec<&Value> {
            self.sent.iter().filter(|(t, _)| t == output::DEAD_LETTER).map(|(_, v)| v).collect()
        }
    }

    /// A valid resident ID number; `seq` tells people apart.
    fn id_card(seq: u32) -> String {
        let first17 = format!("42092219700101{seq:03}");
        let check = id_card_check_char(first17.as_bytes()).expect("17 digits");
        format!("{first17}{}", check as char)
    }

    fn record(topic: Topic, offset: u64, json: Value) -> SourceRecord {
        SourceRecord { topic, source: Arc::from(topic.name()), position: Position::Offset(offset), payload: json.to_string().into_bytes() }
    }

    fn roster_entry(h: &str) -> Value {
        json!({"household_code": h, "category": "stable_alleviated", "members": 3, "labor_count": 2,
            "head_age": 52, "disabled_members": 0, "chronic_patients": 1, "industries": ["tea"],
            "baseline_income": "36000.00", "insured": true, "effective_date": "2024-01-01"})
    }

    fn roster(offset: u64, h: &str) -> SourceRecord {
        record(Topic::Roster, offset, roster_entry(h))
    }

    /// An inpatient bill with `oop` yuan out of pocket, settled on the 15th of `month`.
    fn bill(offset: u64, h: &str, id: &str, month: &str, oop: u32, status: &str) -> SourceRecord {
        let bill = json!({"settlement_id": id, "status": status, "household_code": h, "id_card": id_card(7),
            "settle_time": format!("{month}-15T10:00:00+08:00"), "visit_type": "inpatient",
            "total_cost": format!("{}.00", oop * 4), "fund_paid": format!("{}.00", oop * 3),
            "critical_illness_paid": "0.00", "assistance_paid": "0.00", "out_of_pocket": format!("{oop}.00")});
        record(Topic::Medical, offset, bill)
    }

    fn work(offset: u64, h: &str, ym: &str, status: &str, wage_fen: u64) -> SourceRecord {
        let report = json!({"household_code": h, "id_card": id_card(8), "ym": ym, "status": status, "wage_fen": wage_fen});
        record(Topic::Employment, offset, report)
    }

    /// Before the checkpoint: only the first pipeline sees it.
    fn first_batch() -> Vec<SourceRecord> {
        vec![
            roster(1, H1),
            roster(2, H2),
            bill(1, H1, "S1", "2024-06", 2000, "settled"),
            // Its settlement comes after the restore: the cancellation must survive it.
            bill(2, H1, "S5", "2024-05", 1800, "reversed"),
            bill(3, H1, "S9", "2024-05", 10, "reversed"),
            record(Topic::Agri, 1, json!({"report_id": "NY-1", "household_code": H1, "month": "2024-05",
                "product": "rice", "planted_mu": "3.50", "disaster_mu": "0.5", "expected_income": "4200.00",
                "actual_income": "4100.10"})),
            record(Topic::Civil, 1, json!({"payment_id": "MZ-1", "household_code": H1, "month": "2024-05",
                "kind": "dibao", "amount": "615.00"})),
            record(Topic::Education, 1, json!({"household_code": H1, "id_card": id_card(9), "term": "2024-spring",
                "stage": "high_school", "fees": "3800.00", "aid": "1500.5"})),
            record(Topic::Emergency, 1, json!({"event_id": "YJ-1", "household_code": H1, "hazard": "flood",
                "occurred_at": "2024-04-30T23:10:00Z", "house_damage": "minor", "direct_loss": "500.75"})),
            bill(4, H2, "T1", "2024-03", 2000, "settled"),
            bill(5, H2, "T2", "2024-04", 2000, "settled"),
            work(1, H2, "202404", "employed", 300_000),
            work(2, H2, "202405", "unemployed", 0),
            work(3, H2, "202406", "unemployed", 0),
            bill(6, H3, "U1", "2024-06", 2000, "settled"),
            bill(7, H4, "V1", "2024-06", 100, "settled"),
            record(Topic::Outcomes, 1, json!({"alert_id": "A-1", "household_code": H4,
                "verified_at": "2024-06-30T17:45:00+00:00", "method": "door_visit", "outcome": "no_risk",
                "assistance": ["medical_assistance"], "verifier": "HC-0815"})),
        ]
    }

    /// After the checkpoint: both pipelines see it and must agree.
    fn second_batch() -> Vec<SourceRecord> {
        let mut no_members = roster_entry(H1);
        no_members.as_object_mut().unwrap().remove("members");
        vec![
            bill(10, H1, "S2", "2024-07", 2000, "settled"),
            bill(11, H1, "S5", "2024-05", 1800, "settled"),
            bill(12, H1, "S1", "2024-06", 2000, "settled"),
            work(4, H2, "202407", "unemployed", 0),
            bill(13, H2, "T2", "2024-04", 2100, "settled"),
            roster(3, H3),
            record(Topic::Roster, 9, no_members),
        ]
    }

    /// Alerts without the wall-clock time they were raised at.
    fn comparable(alerts: Vec<Alert>) -> Vec<Alert> {
        alerts.into_iter().map(|a| Alert { detected_at: String::new(), ..a }).collect()
    }

    /// The first pipeline after the first batch, with every changed household's checkpoint.
    async fn checkpointed() -> (Pipeline, Vec<(HouseholdCode, Vec<u8>)>) {
        let mut a = pipeline();
        let alerts = a.process(first_batch(), &mut MemorySink::default()).await.unwrap();
        assert!(alerts.iter().any(|a| a.household_code == H2), "H2 is alerted before the checkpoint: {alerts:?}");
        let changed = a.take_changed();
        let households: Vec<&str> = changed.iter().map(HouseholdCode::as_str).collect();
        assert_eq!(households, [H1, H2, H3, H4]);
        let snapshots = changed
            .into_iter()
            .map(|h| {
                let bytes = a.checkpoint(&h).unwrap().expect("something is held for every changed household");
                (h, bytes)
            })
            .collect();
        (a, snapshots)
    }

    fn restored(snapshots: &[(HouseholdCode, Vec<u8>)]) -> Pipeline {
        let mut b = pipeline();
        for (h, bytes) in snapshots {
            b.restore(h, bytes).unwrap();
        }
        b
    }

    #[tokio::test]
    async fn a_restored_pipeline_carries_on_as_the_original() {
        let (mut a, snapshots) = checkpointed().await;
        for (h, bytes) in &snapshots {
            eprintln!("checkpoint of {h}: {} bytes", bytes.len());
            assert!(bytes.starts_with(b"fpck\x03"), "{bytes:?}");
            // Pseudonyms and masked payloads only: no run of digits that could be an ID number,
            // in the bytes or in what an operator reads of them.
            let text = String::from_utf8_lossy(bytes);
            assert_eq!(mask_id_numbers(&text), text, "an ID-like number in {text}");
            let shown = inspect(bytes).unwrap().to_string();
            assert_eq!(mask_id_numbers(&shown), shown, "an ID-like number in {shown}");
        }
        // H1 holds one record of each household feed; what a checkpoint keeps of them is what
        // the figures and the claims read, never the record.
        let shown = inspect(&snapshots[0].1).unwrap();
        assert_eq!(shown["household"], H1);
        let parts = shown["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 5, "S1 and one record of each other feed: {shown}");
        let transfer = parts.iter().find_map(|p| p[1].get("Transfer")).expect("the dibao payment");
        assert_eq!(transfer, &json!({"month": "2024-05", "amount": "615.00", "temporary": false}));
        assert_eq!(shown["reversed"].as_array().map(Vec::len), Some(2), "S5 and S9 are reversed: {shown}");
        assert!(!shown.to_string().contains("MZ-1"), "a transfer keeps no id: {shown}");
        // The second pipeline held other households: clearing forgets them.
        let mut b = pipeline();
        b.process(vec![roster(1, "420922101201-0005")], &mut MemorySink::default()).await.unwrap();
        b.clear_state();
        assert_eq!(b.checkpoint(&HouseholdCode::parse("420922101201-0005").unwrap()).unwrap(), None);
        for (h, bytes) in &snapshots {
            b.restore(h, bytes).unwrap();
        }
        // The same state checkpoints to the same bytes.
        for (h, bytes) in &snapshots {
            assert_eq!(b.checkpoint(h).unwrap().as_ref(), Some(bytes), "{h}");
        }

        let (mut sink_a, mut sink_b) = (MemorySink::default(), MemorySink::default());
        let alerts_a = comparable(a.process(second_batch(), &mut sink_a).await.unwrap());
        let alerts_b = comparable(b.process(second_batch(), &mut sink_b).await.unwrap());
        // The health rule's alerts: these households have no income on record, so they are
        // under the line as well once the feeds cover a month.
        let alerted: Vec<(&str, &str)> = alerts_a
            .iter()
            .filter(|a| a.reasons.iter().any(|r| r.code == "health_two_months"))
            .map(|a| (a.household_code.as_str(), a.month.as_str()))
            .collect();
        assert!(alerted.contains(&(H1, "2024-07")), "the June bill held in the checkpoint completes the pair: {alerted:?}");
        assert!(!alerted.iter().any(|&(h, m)| h == H1 && m == "2024-06"), "S5 stays cancelled: {alerted:?}");
        assert_eq!(alerts_a, alerts_b);
        assert_eq!(a.take_changed(), b.take_changed());
        assert_eq!(a.stats().duplicates, b.stats().duplicates);

        // A pipeline without the checkpoint judges the second batch otherwise.
        let mut fresh = pipeline();
        let alerts_fresh = comparable(fresh.process(second_batch(), &mut MemorySink::default()).await.unwrap());
        assert_ne!(alerts_a, alerts_fresh);

        a.finish(&mut sink_a).unwrap();
        b.finish(&mut sink_b).unwrap();
        let (letters_a, letters_b) = (sink_a.dead_letters(), sink_b.dead_letters());
        let reasons: Vec<(&str, u64)> =
            letters_a.iter().map(|l| (l["reason"].as_str().unwrap(), l["offset"].as_u64().unwrap())).collect();
        assert_eq!(
            reasons,
            [("missing_field", 9), ("unknown_household", 7), ("unknown_household", 1), ("orphan_reversal", 3)],
            "the bad roster record, H4's bill and outcome, S9's reversal"
        );
        assert_eq!(letters_a, letters_b);
        // Everything waiting was taken: H4 now holds nothing, a tombstone.
        let h4 = HouseholdCode::parse(H4).unwrap();
        assert!(b.take_changed().contains(&h4));
        assert_eq!(b.checkpoint(&h4).unwrap(), None);
    }

    #[tokio::test]
    async fn a_tombstone_forgets_the_household() {
        let (_, snapshots) = checkpointed().await;
        let (h1, bytes) = &snapshots[0];
        let mut b = pipeline();
        b.restore(h1, bytes).unwrap();
        assert!(b.checkpoint(h1).unwrap().is_some());
        b.restore(h1, b"").unwrap();
        assert_eq!(b.checkpoint(h1).unwrap(), None);
        // A later snapshot replaces an earlier one.
        b.restore(h1, bytes).unwrap();
        b.restore(h1, bytes).unwrap();
        assert_eq!(b.checkpoint(h1).unwrap().as_deref(), Some(bytes.as_slice()));
    }

    #[tokio::test]
    async fn unreadable_snapshots_are_refused_and_change_nothing() {
        let (_, snapshots) = checkpointed().await;
        let (h1, bytes) = &snapshots[0];
        let h2 = &snapshots[1].0;
        let mut b = pipeline();
        b.restore(h1, bytes).unwrap();
        // A checkpoint of the first format: JSON with whole records.
        let v1 = format!(
            r#"{{"v":1,"household":"{H1}","key":"3f9c0a1b2c3d4e5f","profile":{},"records":[]}}"#,
            roster_entry(H1)
        );
        let v2 = [b"fpck\x02".as_slice(), &bytes[5..]].concat();
        let v4 = [b"fpck\x04".as_slice(), &bytes[5..]].concat();
        let cut = &bytes[..bytes.len() - 3];
        let longer = [bytes.as_slice(), b"\0"].concat();
        let bad: [(&HouseholdCode, &[u8], &str); 7] = [
            (h2, bytes, "holds household 420922101201-0001"),
            (h1, v1.as_bytes(), "format version 1 (JSON, whole records); this build reads version 3"),
            (h1, &v2, "format version 2 (alert books as JSON); this build reads version 3"),
            (h1, &v4, "format version 4; this build reads version 3"),
            (h1, cut, "unreadable"),
            (h1, &longer, "1 bytes after the end"),
            (h1, b"not a checkpoint", "not a fangpin checkpoint"),
        ];
        for (key, snapshot, why) in bad {
            let err = b.restore(key, snapshot).unwrap_err();
            assert!(matches!(err, PipelineError::Checkpoint { .. }) && err.to_string().contains(why), "{err}");
        }
        assert_eq!(b.checkpoint(h1).unwrap().as_deref(), Some(bytes.as_slice()));
        assert_eq!(b.checkpoint(h2).unwrap(), None);
    }

    /// Held alerts leave only through [`Pipeline::deliver_held`]; until then each household's
    /// checkpoint carries them, and a pipeline that restores it sends them again, as they were.
    #[tokio::test]
    async fn held_alerts_travel_in_the_checkpoint_until_sent() {
        let queued = |sink: &MemorySink| sink.sent.iter().filter(|(t, _)| t == output::PHONE || t == output::DOOR_VISIT).count();
        let mut a = pipeline().hold_alerts();
        let mut sink = MemorySink::default();
        let alerts = a.process(first_batch(), &mut sink).await.unwrap();
        let h2 = HouseholdCode::parse(H2).unwrap();
        let held: Vec<&Alert> = alerts.iter().filter(|a| a.household_code == H2).collect();
        assert!(!held.is_empty(), "H2 is alerted: {alerts:?}");
        assert_eq!(queued(&sink), 0, "nothing is sent before the checkpoint");
        let changed = a.take_changed();
        assert!(changed.contains(&h2));
        let snapshot = a.checkpoint(&h2).unwrap().unwrap();
        let text = inspect(&snapshot).unwrap().to_string();
        assert_eq!(mask_id_numbers(&text), text, "an ID-like number in a checkpoint with held alerts: {text}");
        let outbox: Value = inspect(&snapshot).unwrap()["outbox"].clone();
        assert_eq!(outbox.as_array().map(Vec::len), Some(held.len()), "{outbox}");

        // Sent once the checkpoint is acknowledged: the next checkpoint carries no outbox.
        let sent = a.deliver_held(&mut sink).unwrap();
        assert_eq!(sent.len(), alerts.len());
        assert_eq!(queued(&sink), alerts.len() + alerts.iter().filter(|a| a.moved_from.is_some()).count());
        // Sent, the alerts leave the next checkpoint, so that a restore does not send them again.
        assert!(a.take_changed().contains(&h2), "a household whose alerts were sent is checkpointed again");
        let after = a.checkpoint(&h2).unwrap().unwrap();
        assert!(inspect(&after).unwrap().get("outbox").is_none());

        // A successor restores the checkpoint written before the send: it sends H2's alerts
        // again, byte for byte, then writes the household back without them.
        let mut b = pipeline().hold_alerts();
        b.restore(&h2, &snapshot).unwrap();
        assert!(b.take_changed().is_empty());
        let mut sink_b = MemorySink::default();
        let resent = b.deliver_held(&mut sink_b).unwrap();
        assert_eq!(resent.iter().collect::<Vec<_>>(), held);
        assert_eq!(b.take_changed(), vec![h2.clone()]);
        assert_eq!(b.checkpoint(&h2).unwrap(), Some(after));
    }

    #[tokio::test]
    async fn restored_households_are_not_re_evaluated() {
        let (_, snapshots) = checkpointed().await;
        let mut b = restored(&snapshots);
        assert!(b.take_changed().is_empty(), "restoring changes nothing that needs writing back");
        let alerts = b.process(Vec::new(), &mut MemorySink::default()).await.unwrap();
        assert!(alerts.is_empty(), "{alerts:?}");
        assert!(b.last_hits().is_empty());
        assert!(b.take_changed().is_empty());
    }
}
