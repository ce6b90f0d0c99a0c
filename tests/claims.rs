//! The insurance side on hand-made contract records, through the whole pipeline: exact claim
//! amounts at the deductible and the caps, restatements and negative adjustments, payers that
//! already paid, index months judged on their average, counties without a station, uninsured
//! households, an index added by a file, and the ledger's tamper evidence.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use fangpin_claims::{Claims, Coverage};
use fangpin_connectors::topic::output;
use fangpin_connectors::{SourceRecord, Topic};
use fangpin_pipelines::Pipeline;
use serde_json::{json, Value};

use crate::errors::fails;
use crate::support::{id_card, pipeline, record, MemorySink};

const DAWU: &str = "420922101201-0042";

fn roster(household: &str, industries: &[&str], insured: bool) -> Value {
    json!({"household_code": household, "category": "marginal", "members": 3, "labor_count": 2,
           "head_age": 52, "disabled_members": 0, "chronic_patients": 1, "industries": industries,
           "baseline_income": "36000.00", "insured": insured, "effective_date": "2024-01-01"})
}

/// An inpatient bill of person `person`: `payers` are (fund, critical illness, assistance).
fn bill(household: &str, id: &str, person: u32, date: &str, total: &str, payers: (&str, &str, &str), oop: &str) -> Value {
    json!({"settlement_id": id, "status": "settled", "household_code": household, "id_card": id_card("19700101", person),
           "settle_time": format!("{date}T10:00:00+08:00"), "visit_type": "inpatient", "total_cost": total,
           "fund_paid": payers.0, "critical_illness_paid": payers.1, "assistance_paid": payers.2, "out_of_pocket": oop})
}

/// A bill the household pays whole: out of pocket `oop`, nobody else paid.
fn own_bill(household: &str, id: &str, person: u32, date: &str, oop: &str) -> Value {
    bill(household, id, person, date, oop, ("0.00", "0.00", "0.00"), oop)
}

fn reversal(household: &str, id: &str, person: u32, date: &str, oop: &str) -> Value {
    let mut v = own_bill(household, id, person, date, oop);
    v["status"] = json!("reversed");
    v
}

struct Run {
    pipeline: Pipeline,
    sink: MemorySink,
    offset: u64,
}

impl Run {
    fn new() -> Run {
        Run::with(Coverage::builtin())
    }

    fn with(coverage: Coverage) -> Run {
        Run { pipeline: pipeline().with_claims(Claims::new(coverage).unwrap()), sink: MemorySink::default(), offset: 0 }
    }

    /// Processes one micro-batch of `(topic, record)`.
    async fn batch(&mut self, records: Vec<(Topic, Value)>) -> &mut Run {
        let batch: Vec<SourceRecord> = records
            .into_iter()
            .map(|(t, v)| {
                self.offset += 1;
                record(t, self.offset, v)
            })
            .collect();
        self.pipeline.process(batch, &mut self.sink).await.unwrap();
        self
    }

    fn events(&self) -> &[Value] {
        self.sink.of(output::CLAIMS)
    }

    /// Each claim's latest event, by claim id.
    fn latest(&self) -> BTreeMap<String, Value> {
        self.events().iter().map(|e| (e["claim_id"].as_str().unwrap().to_owned(), e.clone())).collect()
    }

    /// The latest amount of every claim of `coverage`, by month, as exact decimal strings.
    fn amounts(&self, coverage: &str) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .latest()
            .values()
            .filter(|e| e["coverage"] == coverage)
            .map(|e| (e["month"].as_str().unwrap().to_owned(), e["amount"].as_str().unwrap().to_owned()))
            .collect();
        v.sort();
        v
    }
}

#[tokio::test]
async fn the_deductible_edge_is_exact_to_the_fen() {
    let mut run = Run::new();
    run.batch(vec![
        (Topic::Roster, roster(DAWU, &["rice"], true)),
        (Topic::Medical, own_bill(DAWU, "S1", 1, "2024-03-10", "5000.00")),
        (Topic::Medical, own_bill(DAWU, "S2", 2, "2024-03-10", "5000.01")),
    ])
    .await;
    let events = run.events();
    assert_eq!(events.len(), 1, "only the second person is above the deductible: {events:?}");
    assert_eq!(events[0]["amount"], "0.01");
    assert_eq!(events[0]["basis"]["deductible"], "5000.00");
    assert_eq!(events[0]["cap_left"], "79999.99");
    let json = serde_json::to_string(events).unwrap();
    assert!(!json.contains(&id_card("19700101", 2)), "the claim names the person by pseudonym only");
}

#[tokio::test]
async fn a_yearly_cap_holds_across_bills_and_months_and_starts_again_next_year() {
    let mut run = Run::new();
    run.batch(vec![(Topic::Roster, roster(DAWU, &["rice"], true)), (Topic::Medical, own_bill(DAWU, "S1", 1, "2024-01-20", "40000.00"))])
        .await;
    run.batch(vec![
        (Topic::Medical, own_bill(DAWU, "S2", 1, "2024-03-02", "30000.00")),
        (Topic::Medical, own_bill(DAWU, "S3", 1, "2024-03-28", "20000.00")),
    ])
    .await;
    run.batch(vec![
        (Topic::Medical, own_bill(DAWU, "S4", 1, "2024-05-05", "10000.00")),
        (Topic::Medical, own_bill(DAWU, "S5", 1, "2025-01-05", "6000.00")),
    ])
    .await;
    // 40,000 − 5,000 in January; the cap of 80,000 reached in March (35,000 + 45,000); nothing in
    // May; a new year's deductible and cap in 2025.
    let expected = [("2024-01", "35000.00"), ("2024-03", "45000.00"), ("2025-01", "1000.00")];
    let expected: Vec<(String, String)> = expected.iter().map(|(m, a)| (m.to_string(), a.to_string())).collect();
    assert_eq!(run.amounts("medical"), expected);
    let march = run.latest().into_values().find(|e| e["month"] == "2024-03").unwrap();
    assert_eq!(march["cap_left"], "0.00");
    assert_eq!(march["basis"]["items"].as_array().unwrap().len(), 2, "both March bills are behind the claim");
}

#[tokio::test]
async fn a_reversal_after_a_paid_claim_emits_negative_adjustments_under_the_same_ids() {
    let mut run = Run::new();
    run.batch(vec![
        (Topic::Roster, roster(DAWU, &["rice"], true)),
        (Topic::Medical, own_bill(DAWU, "S1", 1, "2024-02-10", "12000.00")),
        (Topic::Medical, own_bill(DAWU, "S2", 1, "2024-04-10", "3000.00")),
    ])
    .await;
    let paid: BTreeMap<String, Value> = run.latest();
    assert_eq!(run.amounts("medical"), vec![("2024-02".into(), "7000.00".into()), ("2024-04".into(), "3000.00".into())]);
    run.batch(vec![(Topic::Medical, reversal(DAWU, "S1", 1, "2024-02-10", "12000.00"))]).await;
    let after = run.latest();
    assert_eq!(after.keys().collect::<Vec<_>>(), paid.keys().collect::<Vec<_>>(), "restated under the same claim ids");
    let mut adjustments: Vec<(String, u64, String, String)> = after
        .values()
        .map(|e| {
            let month = e["month"].as_str().unwrap().to_owned();
            (month, e["revision"].as_u64().unwrap(), e["amount"].as_str().unwrap().to_owned(), e["adjustment"].as_str().unwrap().to_owned())
        })
        .collect();
    adjustments.sort();
    // February's claim is withdrawn; April's bill alone no longer clears the deductible.
    assert_eq!(
        adjustments,
        vec![("2024-02".into(), 2, "0.00".into(), "-7000.00".into()), ("2024-04".into(), 2, "0.00".into(), "-3000.00".into())]
    );
    let withdrawn = after.values().find(|e| e["month"] == "2024-02").unwrap();
    assert_eq!((&withdrawn["cap"], &withdrawn["cap_left"]), (&json!("80000.00"), &json!("80000.00")), "{withdrawn}");
    // The same reversal again changes nothing.
    let before = run.events().len();
    run.batch(vec![(Topic::Medical, reversal(DAWU, "S1", 1, "2024-02-10", "12000.00"))]).await;
    assert_eq!(run.events().len(), before);
}

#[tokio::test]
async fn what_insurance_and_assistance_already_paid_is_never_paid_again() {
    let mut run = Run::new();
    run.batch(vec![
        (Topic::Roster, roster(DAWU, &["rice"], true)),
        // 30,000 billed; basic insurance 15,000, critical illness 5,000, medical assistance 4,000.
        (Topic::Medical, bill(DAWU, "S1", 1, "2024-06-01", "30000.00", ("15000.00", "5000.00", "4000.00"), "6000.00")),
    ])
    .await;
    let e = &run.events()[0];
    assert_eq!(e["amount"], "1000.00", "only the household's 6,000 above the deductible: {e}");
    let figures = &e["basis"]["items"][0]["figures"];
    assert_eq!(figures["assistance_paid"], "4000.00");
    assert_eq!(figures["critical_illness_paid"], "5000.00");
    assert_eq!(e["basis"]["items"][0]["counted"], "6000.00");
}

fn tea_price(county: &str, date: &str, purchase: &str) -> Value {
    json!({"county_code": county, "commodity": "tea", "date": date, "purchase_price": purchase, "cost_price": "40.00"})
}

fn days(month: &str, n: u32) -> impl Iterator<Item = String> + '_ {
    (1..=n).map(move |d| format!("{month}-{d:02}"))
}

#[tokio::test]
async fn the_tea_index_fires_on_the_monthly_average_not_on_a_day() {
    let mut run = Run::new();
    let grower = "420922101201-0001";
    let mut records = vec![
        (Topic::Roster, roster(grower, &["tea"], true)),
        (Topic::Roster, roster("420922101201-0002", &["rice"], true)),
        (Topic::Roster, roster("420902101201-0003", &["tea"], true)),
        (Topic::Medical, own_bill(grower, "S0", 1, "2024-04-01", "10.00")),
    ];
    // April: half the days 25% below cost, half 5% below: the average is 34.00, exactly 15%
    // below the cost of 40.00.
    for (i, d) in days("2024-04", 30).enumerate() {
        records.push((Topic::Prices, tea_price("420922", &d, if i < 15 { "30.00" } else { "38.00" })));
    }
    // May: one day at half the cost, the rest 2.5% below: the average (38.39) is not.
    for (i, d) in days("2024-05", 31).enumerate() {
        records.push((Topic::Prices, tea_price("420922", &d, if i == 0 { "20.00" } else { "39.00" })));
    }
    // June: 34.01 on average, a fen short of the line (and another county's tea at 30.00).
    for d in days("2024-06", 30) {
        records.push((Topic::Prices, tea_price("420922", &d, "34.01")));
        records.push((Topic::Prices, tea_price("420902", &d, "30.00")));
    }
    run.batch(records).await;
    let claims: Vec<&Value> = run.events().iter().filter(|e| e["coverage"] == "industry").collect();
    let mut paid: Vec<(&str, &str, &str)> =
        claims.iter().map(|e| (e["household_code"].as_str().unwrap(), e["month"].as_str().unwrap(), e["amount"].as_str().unwrap())).collect();
    paid.sort();
    // Dawu's tea grower for April only; the rice household beside it never; Xiaonan's grower
    // for its own county's June.
    assert_eq!(paid, vec![("420902101201-0003", "2024-06", "2000.00"), (grower, "2024-04", "2000.00")]);
    let april = claims.iter().find(|e| e["month"] == "2024-04").unwrap();
    let item = &april["basis"]["items"][0];
    assert_eq!(item["kind"], "index");
    assert_eq!(item["figures"]["index_value"], "34.00");
}

fn weather(station: &str, county: &str, date: &str, rain: f64, water: Option<f64>) -> Value {
    json!({"station_id": station, "county_code": county, "date": date, "rainfall_mm": rain, "water_temp_c": water})
}

#[tokio::test]
async fn a_county_without_a_weather_station_gets_no_weather_claim() {
    let mut run = Run::new();
    let (anlu, yunmeng) = ("420982101201-0001", "420923101201-0002");
    let mut records = vec![
        (Topic::Roster, roster(anlu, &["aquaculture"], true)),
        (Topic::Roster, roster(yunmeng, &["aquaculture"], true)),
        (Topic::Medical, own_bill(anlu, "S0", 1, "2024-07-01", "10.00")),
    ];
    // Anlu's station: two days of 100 mm or more in July (the default threshold), hot water on
    // four days only in August (one short of five). Yunmeng has no station at all.
    for (i, d) in days("2024-07", 31).enumerate() {
        let rain = match i {
            3 => 100.0,
            4 => 180.5,
            _ => 5.0,
        };
        records.push((Topic::Weather, weather("57901", "420982", &d, rain, Some(28.0))));
    }
    for (i, d) in days("2024-08", 31).enumerate() {
        records.push((Topic::Weather, weather("57901", "420982", &d, 0.0, Some(if i < 4 { 33.0 } else { 30.0 }))));
    }
    run.batch(records).await;
    let paid: Vec<(&str, &str, &str)> = run
        .events()
        .iter()
        .map(|e| (e["household_code"].as_str().unwrap(), e["month"].as_str().unwrap(), e["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(paid, vec![(anlu, "2024-07", "3000.00")]);
    assert!(run.pipeline.claims().unwrap().fired().iter().all(|f| f.county_code == "420982"));
}

#[tokio::test]
async fn an_uninsured_household_is_never_paid_and_leaving_the_insurance_takes_claims_back() {
    let mut run = Run::new();
    run.batch(vec![
        (Topic::Roster, roster(DAWU, &["rice"], false)),
        (Topic::Medical, own_bill(DAWU, "S1", 1, "2024-03-10", "25000.00")),
        (Topic::Emergency, json!({"event_id": "EV1", "household_code": DAWU, "hazard": "flood",
            "occurred_at": "2024-03-12T08:00:00+08:00", "house_damage": "collapsed", "direct_loss": "60000.00"})),
    ])
    .await;
    assert!(run.events().is_empty(), "uninsured: {:?}", run.events());
    let insured = roster(DAWU, &["rice"], true);
    run.batch(vec![(Topic::Roster, insured.clone())]).await;
    // The collapsed house's 60,000 paid in full up to the household's yearly 50,000.
    assert_eq!(run.amounts("disaster"), vec![("2024-03".into(), "50000.00".into())]);
    assert_eq!(run.amounts("medical"), vec![("2024-03".into(), "20000.00".into())]);
    // Leaving the insurance from 2025 says nothing of 2024: its claims stand, and 2025's bill
    // is not paid.
    let mut leaves = insured.clone();
    leaves["insured"] = json!(false);
    leaves["effective_date"] = json!("2025-01-01");
    let before = run.events().len();
    run.batch(vec![(Topic::Roster, leaves.clone()), (Topic::Medical, own_bill(DAWU, "S2", 1, "2025-01-10", "9000.00"))]).await;
    assert_eq!(run.events().len(), before, "{:?}", &run.events()[before..]);
    // Leaving from June 2024 takes back 2024's claims.
    leaves["effective_date"] = json!("2024-06-01");
    run.batch(vec![(Topic::Roster, leaves)]).await;
    let latest = run.latest();
    let mut taken_back: Vec<(&str, &str, &str)> = latest
        .values()
        .map(|e| (e["coverage"].as_str().unwrap(), e["amount"].as_str().unwrap(), e["adjustment"].as_str().unwrap()))
        .collect();
    taken_back.sort();
    assert_eq!(taken_back, vec![("disaster", "0.00", "-50000.00"), ("medical", "0.00", "-20000.00")]);
}

#[tokio::test]
async fn education_disaster_and_the_plans_industry_rule_pay_their_shares() {
    let mut run = Run::new();
    let school = |term: &str, fees: &str, aid: &str| {
        json!({"household_code": DAWU, "id_card": id_card("20080101", 3), "term": term, "stage": "high_school", "fees": fees, "aid": aid})
    };
    let farm = |id: &str, month: &str, disaster_mu: &str, expected: &str, actual: &str| {
        json!({"report_id": id, "household_code": DAWU, "month": month, "product": "rice", "planted_mu": "40",
               "disaster_mu": disaster_mu, "expected_income": expected, "actual_income": actual})
    };
    run.batch(vec![
        (Topic::Roster, roster(DAWU, &["rice"], true)),
        // Per-person income 12,000; 30% of it (3,600) is the student's own share.
        (Topic::Education, school("2024-spring", "3000.00", "500.00")),
        (Topic::Education, school("2024-fall", "5000.00", "0.00")),
        (Topic::Emergency, json!({"event_id": "EV1", "household_code": DAWU, "hazard": "hail",
            "occurred_at": "2024-05-12T08:00:00+08:00", "house_damage": "severe", "direct_loss": "10000.01"})),
        // 30 mu is not above 30; 30.01 is, with income down exactly 40%.
        (Topic::Agri, farm("F1", "2024-07", "30", "10000.00", "5000.00")),
        (Topic::Agri, farm("F2", "2024-08", "30.01", "10000.00", "6000.00")),
    ])
    .await;
    // Spring: 2,500 net, under 3,600; fall: 7,500 in the year, 3,900 above.
    assert_eq!(run.amounts("education"), vec![("2024-09".into(), "3900.00".into())]);
    // Severe damage: 80% of the loss, to the fen (8000.008 rounds to 8000.01).
    assert_eq!(run.amounts("disaster"), vec![("2024-05".into(), "8000.01".into())]);
    // Half the 4,000 shortfall.
    assert_eq!(run.amounts("industry"), vec![("2024-08".into(), "2000.00".into())]);
}

#[tokio::test]
async fn a_new_index_is_a_sql_file_and_a_coverage_entry() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hog_price.sql"),
        "-- Hog price index: the monthly average purchase price params.shortfall or more below cost.\n\
         SELECT county_code, month_idx, CAST(ROUND(AVG(purchase_price), 2) AS VARCHAR) AS index_value,\n\
                '生猪月均收购价 ' || CAST(ROUND(AVG(purchase_price), 2) AS VARCHAR) AS detail\n\
         FROM price_days CROSS JOIN params WHERE commodity = 'hog'\n\
         GROUP BY county_code, month_idx, params.shortfall\n\
         HAVING SUM(purchase_price) <= SUM(cost_price) * (1 - params.shortfall)\n",
    )
    .unwrap();
    let toml = format!(
        "{}\n[[index]]\ncode = \"hog_price\"\ncoverage = \"industry\"\nindustry = \"hog\"\namount = \"1500.00\"\nparams = {{ shortfall = \"0.20\" }}\n",
        fangpin_claims::coverage::DEFAULT_TOML
    );
    let path = dir.path().join("coverage.toml");
    std::fs::write(&path, toml).unwrap();
    let mut run = Run::with(Coverage::load(&path, Some(dir.path())).unwrap());
    let farmer = "420921101201-0001";
    let mut records = vec![(Topic::Roster, roster(farmer, &["hog"], true)), (Topic::Medical, own_bill(farmer, "S0", 1, "2024-03-01", "1.00"))];
    for d in days("2024-03", 31) {
        records.push((Topic::Prices, json!({"county_code": "420921", "commodity": "hog", "date": d, "purchase_price": "11.20", "cost_price": "14.00"})));
    }
    run.batch(records).await;
    assert_eq!(run.amounts("industry"), vec![("2024-03".into(), "1500.00".into())]);
    assert_eq!(run.events()[0]["basis"]["items"][0]["id"], "hog_price");
    // A trigger whose SQL names a column the series lack is refused before the first record.
    std::fs::write(dir.path().join("hog_price.sql"), "SELECT county_code, month_idx, price AS index_value, '' AS detail FROM price_days").unwrap();
    let e = fails(&["claims", "check-coverage", path.to_str().unwrap(), "--triggers", dir.path().to_str().unwrap()]);
    assert!(e.contains("index trigger hog_price") && e.contains("price"), "{e}");
    // Listed in the coverage without its SQL file: refused, naming the file to add.
    std::fs::remove_file(dir.path().join("hog_price.sql")).unwrap();
    let e = Claims::new(Coverage::load(&path, Some(dir.path())).unwrap()).err().unwrap().to_string();
    assert!(e.contains("hog_price.sql"), "{e}");
}

fn fangpin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fangpin"))
}

/// Final amount of every claim id in a replay's `claims.triggered`, and the number of events.
fn final_claims(out: &Path) -> (BTreeMap<String, String>, usize) {
    let text = std::fs::read_to_string(out.join("claims.triggered.ndjson")).unwrap();
    let mut last = BTreeMap::new();
    let mut n = 0;
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let revision = e["revision"].as_u64().unwrap();
        let (amount, seen) = last.entry(e["claim_id"].as_str().unwrap().to_owned()).or_insert((String::new(), 0));
        assert_eq!(revision, *seen + 1, "revisions of a claim follow each other: {e}");
        *amount = e["amount"].as_str().unwrap().to_owned();
        *seen = revision;
        n += 1;
    }
    (last.into_iter().map(|(id, (a, _))| (id, a)).collect(), n)
}

#[test]
fn claims_do_not_depend_on_batching_and_the_ledger_names_its_first_broken_entry() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let ok = fangpin()
        .args(["simulate", "--households", "1500", "--seed", "23", "--out", world.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let replay = |batch: &str| {
        let out = dir.path().join(format!("out-{batch}"));
        // One key for both runs: a person's pseudonym is part of the claim's identity.
        let ok = fangpin()
            .env("FANGPIN_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff")
            .args(["run", "--from-dir", world.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rules-only", "--batch-size", batch])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
        out
    };
    let (whole, small) = (replay("100000000"), replay("2000"));
    let (once, events_once) = final_claims(&whole);
    let (batched, events_batched) = final_claims(&small);
    assert!(once.len() > 100, "too few claims to judge: {}", once.len());
    let differ: Vec<_> = once.iter().filter(|(id, a)| batched.get(*id) != Some(a)).take(5).collect();
    assert!(differ.is_empty() && once.len() == batched.len(), "final claims differ with the batches: {differ:?}");
    // Small batches may restate a claim that one batch computes once (a late record arriving in a
    // later batch), never the other way round.
    assert!(events_batched >= events_once, "small batches gave fewer claim events ({events_batched}, {events_once} in one batch)");

    let ledger = small.join("claims-ledger.ndjson");
    let verified = fangpin().args(["claims", "verify-ledger", ledger.to_str().unwrap()]).output().unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    assert!(String::from_utf8_lossy(&verified.stdout).contains(&format!("{events_batched} entries")));

    let lines: Vec<String> = std::fs::read_to_string(&ledger).unwrap().lines().map(str::to_owned).collect();
    let tamper = |name: &str, lines: &[String]| {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        fails(&["claims", "verify-ledger", path.to_str().unwrap()])
    };
    // An amount raised by a fen in the tenth entry.
    let mut changed = lines.clone();
    let amount = serde_json::from_str::<Value>(&changed[9]).unwrap()["claim"]["amount"].as_str().unwrap().to_owned();
    let raised = (amount.parse::<f64>().unwrap() * 100.0 + 1.0) / 100.0;
    changed[9] = changed[9].replacen(&format!("\"amount\":\"{amount}\""), &format!("\"amount\":\"{raised:.2}\""), 1);
    assert_ne!(changed[9], lines[9]);
    let e = tamper("changed.ndjson", &changed);
    assert!(e.contains("entry 10 is broken") && e.contains("claim was changed"), "{e}");
    // An entry removed.
    let mut removed = lines.clone();
    removed.remove(4);
    let e = tamper("removed.ndjson", &removed);
    assert!(e.contains("entry 5 is broken"), "{e}");
    // Two entries swapped.
    let mut swapped = lines.clone();
    swapped.swap(6, 7);
    let e = tamper("swapped.ndjson", &swapped);
    assert!(e.contains("entry 7 is broken"), "{e}");
    // No claim event names an ID number.
    let claims = std::fs::read_to_string(small.join("claims.triggered.ndjson")).unwrap();
    assert!(!fangpin_connectors::id_like::contains(&claims), "an ID number in claims.triggered");
}

#[test]
fn a_bad_coverage_file_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coverage.toml");
    std::fs::write(&path, fangpin_claims::coverage::DEFAULT_TOML.replace("deductible = \"5000.00\"", "deductible = \"-5\"")).unwrap();
    let e = fails(&["claims", "check-coverage", path.to_str().unwrap()]);
    assert!(e.contains("medical.deductible is -5"), "{e}");
    let e = fails(&["demo", "--households", "10", "--coverage", path.to_str().unwrap(), "--out", dir.path().to_str().unwrap()]);
    assert!(e.contains("medical.deductible is -5"), "{e}");
}
