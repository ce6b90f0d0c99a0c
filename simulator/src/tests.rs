//! World-level tests on small worlds (seconds each).

use crate::households::{expected_share, Category};
use crate::people::id_is_valid;
use crate::topic::Topic;
use crate::truth::{self, GroundTruth};
use crate::{simulate, SimSummary, WorldConfig, MANIFEST_FILE, TRUTH_FILE};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A fresh, empty directory under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fangpin-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn small(households: u32, seed: u64) -> WorldConfig {
    WorldConfig {
        households,
        seed,
        ..WorldConfig::default()
    }
}

fn run(config: &WorldConfig, dir: &Path) -> SimSummary {
    simulate(config, dir, &mut |_| {}).expect("simulation runs")
}

fn lines(dir: &Path, topic: Topic) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("{}.ndjson", topic.name())))
        .expect("topic file")
        .lines()
        .map(str::to_string)
        .collect()
}

#[derive(serde::Deserialize, Debug)]
struct Entry {
    topic: String,
    line: usize,
    kind: String,
    expected_reason: Option<String>,
}

fn manifest(dir: &Path) -> Vec<Entry> {
    std::fs::read_to_string(dir.join(MANIFEST_FILE))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Line numbers (1-based) of corrupted copies, per topic.
fn dirty_lines(entries: &[Entry]) -> HashMap<String, BTreeSet<usize>> {
    let mut m: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for e in entries.iter().filter(|e| e.expected_reason.is_some()) {
        m.entry(e.topic.clone()).or_default().insert(e.line);
    }
    m
}

/// The clean lines of a topic, parsed.
fn clean(dir: &Path, topic: Topic, dirty: &HashMap<String, BTreeSet<usize>>) -> Vec<Value> {
    let skip = dirty.get(topic.name()).cloned().unwrap_or_default();
    lines(dir, topic)
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(&(i + 1)))
        .map(|(_, l)| serde_json::from_str(l).expect("clean lines parse"))
        .collect()
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().expect("money is a string")).expect("money parses")
}

/// `YYYY-MM` of the month a record belongs to.
fn event_month(topic: Topic, v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    match topic {
        Topic::Roster => s("effective_date")[..7].to_string(),
        Topic::Medical => s("settle_time")[..7].to_string(),
        Topic::Employment => format!("{}-{}", &s("ym")[..4], &s("ym")[4..]),
        Topic::Agri | Topic::Civil => s("month"),
        Topic::Emergency => s("occurred_at")[..7].to_string(),
        Topic::Education => {
            let t = s("term");
            format!(
                "{}-{}",
                &t[..4],
                if t.ends_with("spring") { "03" } else { "09" }
            )
        }
        Topic::Prices | Topic::Weather => s("date")[..7].to_string(),
        Topic::Outcomes => s("verified_at")[..7].to_string(),
    }
}

fn code_is_well_formed(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 17
        && b[12] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 12 || c.is_ascii_digit())
}

#[test]
fn same_seed_same_bytes_other_seed_other_world() {
    let (a, b, c) = (scratch("det-a"), scratch("det-b"), scratch("det-c"));
    let sa = run(&small(600, 7), &a);
    let sb = run(&small(600, 7), &b);
    run(&small(600, 8), &c);
    assert_eq!(sa, sb);
    let mut files: Vec<String> = Topic::ALL
        .iter()
        .map(|t| format!("{}.ndjson", t.name()))
        .collect();
    files.extend([
        TRUTH_FILE.into(),
        MANIFEST_FILE.into(),
        crate::WORLD_FILE.into(),
    ]);
    for f in &files {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    for f in [TRUTH_FILE, "dept.hr.employment.ndjson"] {
        assert_ne!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(c.join(f)).unwrap(),
            "{f}"
        );
    }
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn ids_valid_unique_and_medical_amounts_add_up() {
    let dir = scratch("ids");
    run(&small(1_500, 11), &dir);
    let m = manifest(&dir);
    let dirty = dirty_lines(&m);
    let mut owner: HashMap<String, String> = HashMap::new();
    for topic in [Topic::Medical, Topic::Employment, Topic::Education] {
        for v in clean(&dir, topic, &dirty) {
            let id = v["id_card"].as_str().unwrap();
            assert!(id_is_valid(id), "{topic:?}: {id}");
            let code = v["household_code"].as_str().unwrap();
            let first = owner
                .entry(id.to_string())
                .or_insert_with(|| code.to_string());
            assert_eq!(first, code, "one ID number, one household");
        }
    }
    assert!(owner.len() > 1_000, "people appear in the feeds");
    let medical = clean(&dir, Topic::Medical, &dirty);
    assert!(medical.len() > 1_000);
    for v in &medical {
        let parts =
            dec(&v["fund_paid"]) + dec(&v["critical_illness_paid"]) + dec(&v["assistance_paid"]);
        assert_eq!(
            dec(&v["total_cost"]) - parts,
            dec(&v["out_of_pocket"]),
            "{v}"
        );
        assert!(dec(&v["out_of_pocket"]) >= Decimal::ZERO);
        assert!(v["settle_time"].as_str().unwrap().ends_with("+08:00"));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_manifest_line_is_what_it_says() {
    let dir = scratch("manifest");
    let summary = run(
        &WorldConfig {
            dirty_rate: 0.05,
            ..small(1_200, 5)
        },
        &dir,
    );
    let entries = manifest(&dir);
    let roster: BTreeSet<String> = lines(&dir, Topic::Roster)
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["household_code"].as_str().map(str::to_string))
        .collect();
    let files: BTreeMap<&str, Vec<String>> = Topic::ALL
        .iter()
        .map(|&t| (t.name(), lines(&dir, t)))
        .collect();
    let listed: HashMap<(&str, usize), &str> = entries
        .iter()
        .map(|e| ((e.topic.as_str(), e.line), e.kind.as_str()))
        .collect();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for e in &entries {
        *kinds.entry(e.kind.clone()).or_default() += 1;
        let topic = Topic::ALL
            .into_iter()
            .find(|t| t.name() == e.topic)
            .expect("known topic");
        let file = &files[e.topic.as_str()];
        let text = &file[e.line - 1];
        let parsed: Option<Value> = serde_json::from_str(text).ok();
        let ctx = format!("{} line {} ({}): {text}", e.topic, e.line, e.kind);
        if e.kind == "malformed_json" {
            assert!(parsed.is_none(), "{ctx}");
            continue;
        }
        let v = parsed.unwrap_or_else(|| panic!("{ctx}"));
        let obj = v.as_object().unwrap();
        let reason = e.expected_reason.as_deref();
        match e.kind.as_str() {
            "missing_field" => {
                // Compare with the original record's field count: one fewer.
                let full = file
                    .iter()
                    .find_map(|l| serde_json::from_str::<Value>(l).ok())
                    .unwrap();
                assert!(obj.len() < full.as_object().unwrap().len(), "{ctx}");
            }
            "wrong_type" => assert!(
                obj.iter().any(|(k, v)| match k.as_str() {
                    "wage_fen" | "members" | "labor_count" | "rainfall_mm" => v.is_string(),
                    "assistance" => !v.is_array(),
                    _ =>
                        v.is_number()
                            && !matches!(
                                k.as_str(),
                                "head_age"
                                    | "disabled_members"
                                    | "chronic_patients"
                                    | "water_temp_c"
                            ),
                }),
                "{ctx}"
            ),
            "bad_id_card" => assert!(!id_is_valid(v["id_card"].as_str().unwrap()), "{ctx}"),
            "bad_household_code" => assert!(
                !code_is_well_formed(v["household_code"].as_str().unwrap()),
                "{ctx}"
            ),
            "unknown_enum" | "impossible_date" => {
                assert_eq!(reason, Some("invalid_value"), "{ctx}")
            }
            "amounts_do_not_add_up" => {
                let parts = dec(&v["fund_paid"])
                    + dec(&v["critical_illness_paid"])
                    + dec(&v["assistance_paid"]);
                assert_ne!(
                    dec(&v["total_cost"]) - parts,
                    dec(&v["out_of_pocket"]),
                    "{ctx}"
                );
            }
            "unknown_household" => {
                let code = v["household_code"].as_str().unwrap();
                assert!(code_is_well_formed(code) && !roster.contains(code), "{ctx}");
            }
            "duplicate" => assert!(file[..e.line - 1].contains(text), "{ctx}"),
            "late" => {
                let month = event_month(topic, &v);
                let next_plain = (e.line..file.len())
                    .find(|&i| !listed.contains_key(&(e.topic.as_str(), i + 1)));
                if let Some(i) = next_plain {
                    let later: Value = serde_json::from_str(&file[i]).unwrap();
                    assert!(event_month(topic, &later) > month, "{ctx}");
                }
            }
            "reversal" => {
                assert_eq!(v["status"], "reversed", "{ctx}");
                let id = v["settlement_id"].as_str().unwrap();
                assert!(
                    file[..e.line - 1]
                        .iter()
                        .any(|l| l.contains(id) && l.contains("\"settled\"")),
                    "{ctx}"
                );
            }
            "correction" => {
                let key = if topic == Topic::Agri {
                    "report_id"
                } else {
                    "household_code"
                };
                let id = format!("\"{}\"", v[key].as_str().unwrap());
                assert!(
                    file[..e.line - 1]
                        .iter()
                        .any(|l| l.contains(&id) && l != text),
                    "{ctx}"
                );
            }
            other => panic!("unknown manifest kind {other}"),
        }
        if ["duplicate", "late", "reversal", "correction"].contains(&e.kind.as_str()) {
            assert_eq!(reason, None, "{ctx}");
        } else {
            assert!(reason.is_some(), "{ctx}");
        }
    }
    assert_eq!(kinds, summary.dirty_per_kind);
    for k in [
        "malformed_json",
        "missing_field",
        "wrong_type",
        "bad_id_card",
        "bad_household_code",
        "unknown_enum",
        "impossible_date",
        "amounts_do_not_add_up",
        "unknown_household",
        "duplicate",
        "late",
    ] {
        assert!(
            kinds.get(k).copied().unwrap_or(0) > 0,
            "no {k} in a 1,200-household world"
        );
    }
    // Corrupted copies are about dirty_rate of all lines.
    let total: u64 = summary.records_per_topic.values().sum();
    let corrupted = entries
        .iter()
        .filter(|e| e.expected_reason.is_some())
        .count() as f64;
    let share = corrupted / total as f64;
    assert!((0.04..0.06).contains(&share), "corrupted share {share}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn category_mix_roster_and_truth_agree_with_the_plan() {
    let dir = scratch("mix");
    let summary = run(&small(2_000, 3), &dir);
    let truths: Vec<GroundTruth> = truth::load(&dir.join(TRUTH_FILE)).unwrap();
    assert_eq!(truths.len(), 2_000);
    for c in [
        Category::Stable,
        Category::Unstable,
        Category::Marginal,
        Category::Sudden,
        Category::General,
    ] {
        let share = truths.iter().filter(|t| t.category == c.as_str()).count() as f64 / 2_000.0;
        let want = expected_share(c);
        assert!(
            (share - want).abs() < 0.015 + want * 0.2,
            "{c:?}: {share} vs {want}"
        );
    }
    let people: u32 = truths.iter().map(|t| t.members).sum();
    let mean = people as f64 / 2_000.0;
    assert!((2.9..3.2).contains(&mean), "mean household size {mean}");
    assert_eq!(people, summary.people);
    // Every roster household is in the truth; roster records come first with the start date.
    let roster = lines(&dir, Topic::Roster);
    let first: Value = serde_json::from_str(&roster[0]).unwrap();
    assert_eq!(first["effective_date"], "2024-01-01");
    let fallers = truths
        .iter()
        .filter(|t| t.first_below_month.is_some())
        .count() as u32;
    assert_eq!(fallers, summary.fallers);
    let share = fallers as f64 / 2_000.0;
    assert!((0.03..0.14).contains(&share), "faller share {share}");
    for t in truths.iter().filter(|t| t.first_below_month.is_some()) {
        assert_eq!(t.first_below_month.as_ref(), t.below_line_months.first());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn no_long_digit_runs_outside_id_numbers() {
    let dir = scratch("digits");
    run(&small(500, 9), &dir);
    for topic in Topic::ALL {
        for l in lines(&dir, topic) {
            // Blank out id_card values, then look for 15+ consecutive digits.
            let mut s = l.clone();
            while let Some(p) = s.find("\"id_card\":\"") {
                let start = p + 11;
                let end = s[start..].find('"').map_or(s.len(), |e| start + e);
                s.replace_range(p..end, "");
            }
            let mut run = 0;
            for b in s.bytes() {
                run = if b.is_ascii_digit() { run + 1 } else { 0 };
                assert!(run < 15, "{}: {l}", topic.name());
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Fall rate, primary causes, causes named, fallers per category and first below-line months of
/// a written world, as a few lines of text.
fn world_report(dir: &Path, summary: &SimSummary) -> String {
    let truths = truth::load(&dir.join(TRUTH_FILE)).unwrap();
    let mut primary: BTreeMap<String, u32> = BTreeMap::new();
    let mut any: BTreeMap<String, u32> = BTreeMap::new();
    let mut by_category: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut first: BTreeMap<String, u32> = BTreeMap::new();
    for t in &truths {
        let e = by_category.entry(t.category.clone()).or_default();
        e.0 += 1;
        let Some(f) = &t.first_below_month else {
            continue;
        };
        e.1 += 1;
        *first.entry(f.clone()).or_default() += 1;
        *primary
            .entry(t.causes.first().cloned().unwrap_or_else(|| "none".into()))
            .or_default() += 1;
        for c in &t.causes {
            *any.entry(c.clone()).or_default() += 1;
        }
    }
    let share = |n: u32| format!("{:.1}%", 100.0 * n as f64 / summary.fallers.max(1) as f64);
    let primary_share: BTreeMap<&String, String> =
        primary.iter().map(|(k, &v)| (k, share(v))).collect();
    format!(
        "people {}\nfallers {} ({:.2}%)\nprimary cause {primary:?}\nprimary cause share \
         {primary_share:?}\ncause named {any:?}\nper category (households, fallers) \
         {by_category:?}\nfirst below-line month {first:?}\n",
        summary.people,
        summary.fallers,
        100.0 * summary.fallers as f64 / truths.len() as f64
    )
}

/// The default world, timed. Run with `cargo test -p fangpin-simulator -- --ignored --nocapture`
/// (set `FANGPIN_SIM_KEEP=1` to keep the ~500 MB of output).
#[test]
#[ignore]
fn default_world() {
    let dir = scratch("default");
    let t = std::time::Instant::now();
    let summary = simulate(&WorldConfig::default(), &dir, &mut |m| eprintln!("{m}")).unwrap();
    eprintln!("simulated in {:.1}s", t.elapsed().as_secs_f64());
    eprintln!("{}", serde_json::to_string_pretty(&summary).unwrap());
    eprint!("{}", world_report(&dir, &summary));
    if std::env::var_os("FANGPIN_SIM_KEEP").is_some() {
        eprintln!("output kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The three preset worlds at the default size, timed; the report goes to
/// `/tmp/fangpin-sim-presets.txt`. Run with
/// `cargo test -p fangpin-simulator preset_worlds -- --ignored --nocapture`.
#[test]
#[ignore]
fn preset_worlds() {
    let mut text = String::new();
    for name in crate::PRESETS {
        let dir = scratch(&format!("preset-{name}"));
        let config = WorldConfig {
            knobs: crate::Knobs::preset(name).unwrap(),
            ..WorldConfig::default()
        };
        let t = std::time::Instant::now();
        let summary = simulate(&config, &dir, &mut |_| {}).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let lines: u64 = summary.records_per_topic.values().sum();
        text.push_str(&format!(
            "== {name}: {} households, {lines} lines, simulated in {secs:.1}s\n{}\n",
            summary.households,
            world_report(&dir, &summary)
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
    eprint!("{text}");
    std::fs::write("/tmp/fangpin-sim-presets.txt", text).unwrap();
}

/// Each household's true flows, as the simulator booked them: code → (members, flows).
type Flows = BTreeMap<String, (u32, Vec<(i32, crate::truth::Flow, Decimal)>)>;

/// Runs `config` into `dir`, keeping every household's booked flows.
fn run_observed(config: &WorldConfig, dir: &Path) -> (SimSummary, Flows) {
    let mut flows = Flows::new();
    let summary = crate::simulate_observed(config, dir, &mut |_| {}, &mut |hh, ledger| {
        flows.insert(
            hh.code.clone(),
            (hh.members.len() as u32, ledger.flows.clone()),
        );
    })
    .expect("simulation runs");
    (summary, flows)
}

/// `Σ window / members`, rounded to fen, spelled as the truth spells it.
fn per_capita(sum: Decimal, members: u32) -> String {
    format!("{:.2}", (sum / Decimal::from(members)).round_dp(2))
}

/// Lines of a topic without the corrupted copies and duplicates the manifest lists, parsed.
fn delivered(dir: &Path, topic: Topic, entries: &[Entry]) -> Vec<Value> {
    let skip: BTreeSet<usize> = entries
        .iter()
        .filter(|e| e.topic == topic.name())
        .filter(|e| e.expected_reason.is_some() || e.kind == "duplicate")
        .map(|e| e.line)
        .collect();
    lines(dir, topic)
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(&(i + 1)))
        .map(|(_, l)| serde_json::from_str(l).expect("delivered lines parse"))
        .collect()
}

/// Roster household code → (members, baseline_income) from the last roster record.
fn roster(dir: &Path, entries: &[Entry]) -> HashMap<String, (u32, Decimal)> {
    delivered(dir, Topic::Roster, entries)
        .iter()
        .map(|v| {
            (
                v["household_code"].as_str().unwrap().to_string(),
                (
                    v["members"].as_u64().unwrap() as u32,
                    dec(&v["baseline_income"]),
                ),
            )
        })
        .collect()
}

#[test]
fn truth_is_the_official_measure_of_the_true_flows() {
    let dir = scratch("flows");
    let config = WorldConfig {
        months: 14,
        ..small(400, 21)
    };
    let (summary, flows) = run_observed(&config, &dir);
    let truths = truth::load(&dir.join(TRUTH_FILE)).unwrap();
    let roster = roster(&dir, &manifest(&dir));
    let cal = crate::calendar::Calendar::new(2024, 1, 14);
    let line = config.poverty_line;
    assert_eq!(truths.len(), 400);
    let mut fallers = 0;
    for t in &truths {
        let (members, fl) = &flows[&t.household_code];
        assert_eq!(*members, t.members);
        // N_k for k = −12..13, summed from the flows by this test.
        let mut net = vec![Decimal::ZERO; 26];
        for &(k, _, amount) in fl {
            assert!((-12..14).contains(&k), "flow in month {k}");
            net[(k + 12) as usize] += amount;
        }
        // Last year's official net income is the roster's baseline.
        let last_year: Decimal = net[..12].iter().sum();
        let floor = Decimal::from(100 * members);
        assert_eq!(
            roster[&t.household_code].1,
            last_year.round_dp(0).max(floor),
            "{}",
            t.household_code
        );
        assert_eq!(t.income_per_capita.len(), 14);
        let mut below = Vec::new();
        for m in 0..14usize {
            let sum: Decimal = net[m + 1..=m + 12].iter().sum();
            assert_eq!(
                t.income_per_capita[m],
                per_capita(sum, *members),
                "{} month {m}",
                t.household_code
            );
            if sum < line * Decimal::from(*members) {
                below.push(cal.ym_dash(m as u32));
            }
        }
        assert_eq!(t.below_line_months, below, "{}", t.household_code);
        fallers += u32::from(!below.is_empty());
    }
    assert_eq!(fallers, summary.fallers);
    assert!(fallers > 0, "someone falls in 400 households");
    // Every kind of flow shows up somewhere, and incomes are mostly positive.
    let kinds: BTreeSet<String> = flows
        .values()
        .flat_map(|(_, f)| f.iter().map(|x| format!("{:?}", x.1)))
        .collect();
    for k in [
        "Wage",
        "Farm",
        "Transfer",
        "Unreported",
        "Medical",
        "Education",
    ] {
        assert!(kinds.contains(k), "no {k} flow");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_unreported_income_the_feeds_carry_the_truth() {
    let dir = scratch("feeds-truth");
    let config = WorldConfig {
        months: 14,
        knobs: crate::Knobs {
            unreported_income_share: 0.0,
            unreported_worker_share: 0.0,
            ..crate::Knobs::default()
        },
        ..small(300, 13)
    };
    let (_, flows) = run_observed(&config, &dir);
    let entries = manifest(&dir);
    let roster = roster(&dir, &entries);
    let cal = crate::calendar::Calendar::new(2024, 1, 14);
    let month_of = |s: &str| crate::calendar::month_key(&s[..7]).unwrap() - (2024 * 12);
    // (household, month index) → net income the feeds carry.
    let mut net: HashMap<(String, i32), Decimal> = HashMap::new();
    let mut add = |code: &str, k: i32, amount: Decimal| {
        assert!(
            (0..14).contains(&k),
            "a record of month {k}: no feed covers the warm-up"
        );
        *net.entry((code.to_string(), k)).or_default() += amount;
    };
    let code = |v: &Value| v["household_code"].as_str().unwrap().to_string();
    for v in delivered(&dir, Topic::Employment, &entries) {
        let ym = v["ym"].as_str().unwrap();
        let k = month_of(&format!("{}-{}", &ym[..4], &ym[4..]));
        add(
            &code(&v),
            k,
            Decimal::new(v["wage_fen"].as_i64().unwrap(), 2),
        );
    }
    // A later report with the same id corrects the earlier one.
    let mut agri: BTreeMap<String, (String, i32, Decimal)> = BTreeMap::new();
    for v in delivered(&dir, Topic::Agri, &entries) {
        let k = month_of(v["month"].as_str().unwrap());
        agri.insert(
            v["report_id"].as_str().unwrap().to_string(),
            (code(&v), k, dec(&v["actual_income"])),
        );
    }
    for (c, k, a) in agri.values() {
        add(c, *k, *a);
    }
    for v in delivered(&dir, Topic::Civil, &entries) {
        add(
            &code(&v),
            month_of(v["month"].as_str().unwrap()),
            dec(&v["amount"]),
        );
    }
    // A reversal cancels its settlement.
    let mut bills: BTreeMap<String, (String, i32, Decimal)> = BTreeMap::new();
    for v in delivered(&dir, Topic::Medical, &entries) {
        let id = v["settlement_id"].as_str().unwrap().to_string();
        if v["status"] == "reversed" {
            assert!(bills.remove(&id).is_some(), "reversal of an unknown bill");
        } else {
            let k = month_of(v["settle_time"].as_str().unwrap());
            bills.insert(id, (code(&v), k, dec(&v["out_of_pocket"])));
        }
    }
    for (c, k, a) in bills.values() {
        add(c, *k, -*a);
    }
    for v in delivered(&dir, Topic::Education, &entries) {
        let k = month_of(&event_month(Topic::Education, &v));
        add(&code(&v), k, dec(&v["aid"]) - dec(&v["fees"]));
    }
    for v in delivered(&dir, Topic::Emergency, &entries) {
        let k = month_of(v["occurred_at"].as_str().unwrap());
        add(&code(&v), k, -dec(&v["direct_loss"]));
    }
    let truths = truth::load(&dir.join(TRUTH_FILE)).unwrap();
    let (mut checked, mut exact) = (0, 0);
    for t in &truths {
        let members = roster[&t.household_code].0;
        assert_eq!(members, t.members);
        // Hidden losses are the one true flow no feed shows.
        let hidden = |k: i32| -> Decimal {
            flows[&t.household_code]
                .1
                .iter()
                .filter(|f| f.0 == k && f.1 == crate::truth::Flow::Hidden)
                .map(|f| f.2)
                .sum()
        };
        for m in 12..14i32 {
            let window = m - 11..=m;
            let feeds: Decimal = window
                .clone()
                .map(|k| {
                    net.get(&(t.household_code.clone(), k))
                        .copied()
                        .unwrap_or_default()
                })
                .sum();
            let unseen: Decimal = window.map(hidden).sum();
            assert_eq!(
                t.income_per_capita[m as usize],
                per_capita(feeds + unseen, members),
                "{} {}",
                t.household_code,
                cal.ym_dash(m as u32)
            );
            checked += 1;
            exact += u32::from(unseen.is_zero());
        }
    }
    assert_eq!(checked, 600);
    assert!(exact > 500, "most households have no hidden loss: {exact}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn knobs_validate_by_name_and_presets_differ() {
    let bad = crate::Knobs {
        farm_share: 1.4,
        ..crate::Knobs::default()
    };
    let msg = bad.validate().unwrap_err().to_string();
    assert!(
        msg.contains("knobs.farm_share is 1.4: must be within 0..=0.9"),
        "{msg}"
    );
    let config = WorldConfig {
        knobs: bad,
        ..small(10, 1)
    };
    let err = simulate(&config, &scratch("bad-knobs"), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("knobs.farm_share"), "{err}");
    let weights = crate::Knobs {
        county_weights: vec![1.0; 3],
        ..crate::Knobs::default()
    };
    let msg = weights.validate().unwrap_err().to_string();
    assert!(msg.contains("knobs.county_weights"), "{msg}");
    let nan = crate::Knobs {
        shock_rate: f64::NAN,
        ..crate::Knobs::default()
    };
    assert!(nan
        .validate()
        .unwrap_err()
        .to_string()
        .contains("knobs.shock_rate"));
    // Unknown keys are refused; a world.json config without knobs still loads.
    assert!(serde_json::from_str::<crate::Knobs>(r#"{"farm_shares": 0.3}"#).is_err());
    let partial: crate::Knobs = serde_json::from_str(r#"{"farm_share": 0.3}"#).unwrap();
    assert_eq!(partial.farm_share, 0.3);
    assert_eq!(partial.income_level, 1.0);
    let mut old = serde_json::to_value(WorldConfig::default()).unwrap();
    old.as_object_mut().unwrap().remove("knobs");
    let loaded: WorldConfig = serde_json::from_value(old).unwrap();
    assert_eq!(loaded, WorldConfig::default());

    assert_eq!(crate::Knobs::preset("train"), Some(crate::Knobs::default()));
    assert_eq!(crate::Knobs::preset("eval-c"), None);
    let presets: Vec<crate::Knobs> = crate::PRESETS
        .iter()
        .map(|n| crate::Knobs::preset(n).expect("a preset"))
        .collect();
    for (name, k) in crate::PRESETS.iter().zip(&presets) {
        k.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = serde_json::to_string(k).unwrap();
        assert_eq!(&serde_json::from_str::<crate::Knobs>(&text).unwrap(), k);
    }
    for i in 0..presets.len() {
        for j in i + 1..presets.len() {
            assert_ne!(presets[i], presets[j]);
        }
    }
}

#[test]
fn knobs_change_the_world_and_keep_it_deterministic() {
    let (a, b, c) = (scratch("knob-a"), scratch("knob-b"), scratch("knob-c"));
    let eval = WorldConfig {
        knobs: crate::Knobs::preset("eval-a").unwrap(),
        ..small(500, 7)
    };
    run(&eval, &a);
    run(&eval, &b);
    run(&small(500, 7), &c);
    for f in [
        TRUTH_FILE,
        "dept.hr.employment.ndjson",
        crate::WORLD_FILE,
        MANIFEST_FILE,
    ] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two runs of one config"
        );
        assert_ne!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(c.join(f)).unwrap(),
            "{f}"
        );
    }
    // eval-a weights the key counties: Xiaochang and Dawu hold most households.
    let truths = truth::load(&a.join(TRUTH_FILE)).unwrap();
    let key = truths
        .iter()
        .filter(|t| ["420921", "420922"].contains(&t.county_code.as_str()))
        .count();
    assert!(key > 250, "{key} of 500 in the key counties");
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}
