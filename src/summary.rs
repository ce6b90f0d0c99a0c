//! The human-readable summary at the end of a run.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use fangpin_models::Grade;
use fangpin_simulator::truth::{self, Score, ScoredAlert};
use fangpin_simulator::SimSummary;

use crate::replay::Report;

/// Scores the run's alerts against the simulator's ground truth.
pub fn score_against_truth(path: &Path, report: &Report) -> Result<Score> {
    let truth = truth::load(path).with_context(|| format!("reading ground truth {}", path.display()))?;
    let alerts: Vec<ScoredAlert> = report
        .stats
        .alerted
        .iter()
        .map(|(household, month, grade)| ScoredAlert {
            household_code: household.clone(),
            month: month.clone(),
            grade: grade.code().to_owned(),
        })
        .collect();
    Ok(truth::score(&truth, &alerts))
}

/// Prints the summary of a replay, with the world and its score when it was simulated.
pub fn print(report: &Report, simulated: Option<(&SimSummary, &Score)>) {
    let s = &report.stats;
    let read: u64 = s.records_in.values().sum();
    let rejected: u64 = s.dead_letters.values().sum();
    println!();
    println!("fangpin run summary");
    println!("===================");
    if let Some((sim, _)) = simulated {
        println!("world: {} households, {} people, {} fall below the line at some month", sim.households, sim.people, sim.fallers);
    }
    println!("records read: {read} in {:.1} s ({:.0} records/s)", report.elapsed.as_secs_f64(), report.records_per_second());
    for (topic, n) in &s.records_in {
        println!("  {topic:<28} {n:>10}");
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
    println!("alerts by county and grade:");
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
    if let Some((_, score)) = simulated {
        println!("against the simulator's ground truth:");
        println!(
            "  precision {:.3} ({} of {} alerts precede or fall in a month below the line within 3 months)",
            score.precision, score.true_alerts, score.alerts
        );
        println!(
            "  recall    {:.3} ({} of {} households that fell below the line were alerted by the month they fell)",
            score.recall, score.caught, score.fallers
        );
        for (grade, (alerts, true_alerts)) in &score.per_grade {
            let p = if *alerts == 0 { 0.0 } else { *true_alerts as f64 / *alerts as f64 };
            println!("  {grade:<7} precision {p:.3} ({true_alerts} of {alerts})");
        }
    }
    println!("queues and dead letters: {}", report.out.display());
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
