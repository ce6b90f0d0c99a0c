//! The human-readable summary at the end of a run.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use fangpin_models::Grade;
use fangpin_simulator::truth::{self, Score, ScoredAlert};
use fangpin_simulator::SimSummary;

use crate::replay::Report;

/// The served grader's and the shadow rules' alerts, scored against the simulator's truth.
pub struct Scores {
    pub served: Score,
    pub served_urgent: Score,
    pub shadow: Option<(Score, Score)>,
}

/// Scores the run's alerts (and its shadow grader's) against the simulator's ground truth.
/// The urgent scores count high and medium alerts only: the ones a fall must not escape.
pub fn score_against_truth(path: &Path, report: &Report) -> Result<Scores> {
    let truth = truth::load(path).with_context(|| format!("reading ground truth {}", path.display()))?;
    let score = |alerted: &BTreeMap<(String, String), Grade>, urgent_only: bool| {
        let alerts: Vec<ScoredAlert> = alerted
            .iter()
            .filter(|(_, g)| !urgent_only || **g >= Grade::Medium)
            .map(|((household, month), grade)| ScoredAlert {
                household_code: household.clone(),
                month: month.clone(),
                grade: grade.code().to_owned(),
            })
            .collect();
        truth::score(&truth, &alerts)
    };
    let s = &report.stats;
    let shadow = (!s.shadow_alerted.is_empty()).then(|| (score(&s.shadow_alerted, false), score(&s.shadow_alerted, true)));
    Ok(Scores { served: score(&s.alerted, false), served_urgent: score(&s.alerted, true), shadow })
}

/// Which world the served model was trained on, against the world just replayed: precision
/// and recall mean something only on a world the model did not learn from.
pub fn worlds_compared(settings: &crate::config::Settings, world: &fangpin_simulator::WorldConfig) -> Vec<String> {
    let this = serde_json::to_string(world).unwrap_or_default();
    let registry = fangpin_pipelines::registry::Registry::open(&settings.models_dir);
    let card = match registry.promoted() {
        Ok(Some(v)) if !settings.rules_only => registry.card(&v).map(|c| (v, c)),
        _ => return vec![format!("this world: {this}; graded by the rules, which were not trained on any world")],
    };
    match card {
        Ok((v, card)) => {
            let mut notes = vec![
                format!("this world: {this}"),
                format!("the served model {v} was trained on another world: {}", card.train_world),
            ];
            for t in &card.tests {
                let q = &t.evaluation.model;
                notes.push(format!(
                    "its card, on a third world: {}: high precision {:.3}, high+medium precision {:.3}, recall {:.3} (household-months)",
                    t.world, q.per_grade[0].precision, q.precision, q.recall
                ));
            }
            notes
        }
        Err(e) => vec![format!("this world: {this}; the served model's card cannot be read: {e}")],
    }
}

/// Prints the summary of a replay, with the world and its score when it was simulated.
pub fn print(report: &Report, simulated: Option<(Option<&SimSummary>, &Scores)>) {
    let s = &report.stats;
    let read: u64 = s.records_in.values().sum();
    let rejected: u64 = s.dead_letters.values().sum();
    println!();
    println!("fangpin run summary");
    println!("===================");
    if let Some((Some(sim), _)) = simulated {
        println!("world: {} households, {} people, {} fall below the line at some month", sim.households, sim.people, sim.fallers);
    }
    println!("records read: {read} in {:.1} s ({:.0} records/s)", report.elapsed.as_secs_f64(), report.records_per_second());
    for (topic, n) in &s.records_in {
        println!("  {topic:<28} {n:>10}");
    }
    let staged: f64 = s.stage_seconds.values().sum();
    if staged > 0.0 {
        let stages: Vec<String> = fangpin_pipelines::metrics::STAGES
            .iter()
            .map(|stage| {
                let t = s.stage_seconds.get(stage).copied().unwrap_or_default();
                format!("{stage} {t:.1} s ({:.0}%)", 100.0 * t / staged)
            })
            .collect();
        println!("time by stage: {}", stages.join(", "));
    }
    println!("duplicates ignored: {}   corrections applied: {}", s.duplicates, s.corrections);
    println!("rejected to dead letters: {rejected}");
    for (reason, n) in &s.dead_letters {
        println!("  {reason:<28} {n:>10}");
    }
    println!("indicator hits:");
    for (code, n) in &s.indicator_hits {
        println!("  {code:<28} {n:>10}");
    }
    println!(
        "alerts standing by county and grade (one per household and risk month; {} revisions and {} withdrawals sent as later records changed them):",
        s.alert_revisions, s.alert_withdrawals
    );
    println!("  {:<22} {:>8} {:>8} {:>8}", "county", "high", "medium", "low");
    let mut by_county: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    for ((county, grade), n) in &s.alerts {
        let row = by_county.entry(county).or_default();
        row[Grade::ALL.iter().position(|g| g == grade).expect("every grade is listed")] += n;
    }
    for (county, [high, medium, low]) in &by_county {
        println!("  {:<22} {high:>8} {medium:>8} {low:>8}", format!("{county} {}", county_name(county)));
    }
    let totals = by_county.values().fold([0u64; 3], |a, r| [a[0] + r[0], a[1] + r[1], a[2] + r[2]]);
    println!("  {:<22} {:>8} {:>8} {:>8}", "total", totals[0], totals[1], totals[2]);
    if let Some((_, scores)) = simulated {
        println!("against the simulator's ground truth (an alert is true when its household is below the line");
        println!("in its month or the three after; a fall is caught by an alert in the three months before it, in it or in the month after):");
        let mut columns = vec![(format!("served: {}", s.grader), &scores.served, &scores.served_urgent)];
        if let Some((all, urgent)) = &scores.shadow {
            columns.push(("shadow: rules".to_owned(), all, urgent));
        }
        print!("  {:<34}", "");
        for (name, _, _) in &columns {
            print!(" {name:>22}");
        }
        println!();
        let row = |label: &str, f: &dyn Fn(&Score, &Score) -> String| {
            print!("  {label:<34}");
            for (_, all, urgent) in &columns {
                print!(" {:>22}", f(all, urgent));
            }
            println!();
        };
        let grade = |s: &Score, g: &str| s.per_grade.get(g).copied().unwrap_or_default();
        let precision = |(n, t): (u64, u64)| if n == 0 { "-".to_owned() } else { format!("{:.3} ({t}/{n})", t as f64 / n as f64) };
        row("high precision", &|a, _| precision(grade(a, "high")));
        row("medium precision", &|a, _| precision(grade(a, "medium")));
        row("low precision", &|a, _| precision(grade(a, "low")));
        row("recall, high or medium alert", &|_, u| format!("{:.3} ({}/{})", u.recall, u.caught, u.fallers));
        row("recall, any alert", &|a, _| format!("{:.3} ({}/{})", a.recall, a.caught, a.fallers));
        row("F1, high or medium alerts", &|_, u| {
            let f1 = if u.precision + u.recall > 0.0 { 2.0 * u.precision * u.recall / (u.precision + u.recall) } else { 0.0 };
            format!("{f1:.3}")
        });
        row("alerts", &|a, _| a.alerts.to_string());
        // Door visits month by month: the measure mixes last year's income with the feeds in the
        // first year, so precision is worth watching as the window fills.
        let by_month: Vec<String> = scores
            .served
            .per_month
            .iter()
            .filter_map(|(month, grades)| grades.get("high").map(|&(n, t)| format!("{month} {:.3} ({t}/{n})", t as f64 / n.max(1) as f64)))
            .collect();
        if !by_month.is_empty() {
            println!("  high precision by risk month, served (the last three months' truth is cut short by the world's end):");
            for chunk in by_month.chunks(4) {
                println!("    {}", chunk.join("   "));
            }
        }
    }
    print_insurance(s);
    for note in &report.notes {
        println!("{note}");
    }
    println!("queues, claims and dead letters: {}", report.out);
}

/// Name of a Xiaogan county-level unit.
fn county_name(code: &str) -> &'static str {
    match code {
        "420902" => "孝南区",
        "420921" => "孝昌县",
        "420922" => "大悟县",
        "420923" => "云梦县",
        "420981" => "应城市",
        "420982" => "安陆市",
        "420984" => "汉川市",
        _ => "",
    }
}

/// Claims by coverage (what they pay now, exact) and premiums by county.
fn print_insurance(s: &fangpin_pipelines::RunStats) {
    if s.claims.is_empty() && s.premiums.is_empty() {
        return;
    }
    println!("insurance claims by coverage (yuan; a restatement changes a claim's amount, a withdrawal takes it back):");
    println!("  {:<12} {:>8} {:>13} {:>12} {:>16}", "coverage", "claims", "restatements", "withdrawals", "amount");
    let mut total = rust_decimal::Decimal::ZERO;
    for (coverage, t) in &s.claims {
        println!("  {coverage:<12} {:>8} {:>13} {:>12} {:>16}", t.claims, t.restatements, t.withdrawals, t.amount);
        total += t.amount;
    }
    println!("  {:<12} {:>8} {:>13} {:>12} {:>16}", "total", "", "", "", total);
    println!("premiums of the insured by county (yuan a year):");
    println!("  {:<22} {:>9} {:>8} {:>13} {:>13} {:>13} {:>11}", "county", "households", "people", "premium", "subsidy", "households pay", "reserve");
    for (county, p) in &s.premiums {
        println!(
            "  {:<22} {:>9} {:>8} {:>13} {:>13} {:>13} {:>11}",
            format!("{county} {}", county_name(county)),
            p.insured_households,
            p.insured_people,
            p.premium,
            p.subsidy,
            p.households_pay,
            p.reserve
        );
    }
}
