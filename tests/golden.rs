//! Golden tests for the indicator SQL: every `pipelines/indicators/*.sql` file must have a
//! `golden/<name>.json` of cases (input rows → expected household-months), and every case must
//! give exactly its expected rows.

use std::collections::BTreeSet;
use std::path::Path;

use fangpin_connectors::event::Month;
use fangpin_pipelines::indicators::{load_dir, Engine};
use fangpin_pipelines::ledger::MonthFigures;
use fangpin_pipelines::table::{to_batch, MonthRow};
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    /// The month the stream is in (its income still arriving); by default every month is over.
    open_month: Option<Month>,
    rows: Vec<Row>,
    expected: Vec<Expected>,
}

#[derive(Deserialize)]
struct Row {
    household_code: String,
    month: Month,
    eval_from: Option<Month>,
    baseline_income: Option<Decimal>,
    members: Option<i32>,
    category: Option<String>,
    #[serde(flatten)]
    figures: MonthFigures,
}

#[derive(Deserialize)]
struct Expected {
    household_code: String,
    month: Month,
    detail_contains: Option<String>,
}

fn rows(case: &Case) -> Vec<MonthRow> {
    let mut rows: Vec<MonthRow> = case
        .rows
        .iter()
        .map(|r| {
            let first = case.rows.iter().filter(|o| o.household_code == r.household_code).map(|o| o.month).min();
            MonthRow {
                household_code: r.household_code.clone(),
                category: r.category.clone().unwrap_or_else(|| "stable_alleviated".into()),
                members: r.members.unwrap_or(3),
                labor_count: 2,
                baseline_income: r.baseline_income.unwrap_or(Decimal::from(36_000)),
                month: r.month,
                eval_from: r.eval_from.or(first).expect("a row has a month"),
                feeds_start: first.expect("a row has a month"),
                // Every month of a case is over unless the case says which one is open.
                open_month: case.open_month.unwrap_or(Month::new(2999, 1).expect("a month")),
                figures: r.figures.clone(),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.household_code, a.month).cmp(&(&b.household_code, b.month)));
    densify(rows)
}

/// Like the pipeline's table, one row per household and month from its first to its last:
/// months a case leaves out are months without activity.
fn densify(rows: Vec<MonthRow>) -> Vec<MonthRow> {
    let mut dense: Vec<MonthRow> = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(prev) = dense.last().filter(|p| p.household_code == row.household_code).cloned() {
            for gap in 1..(row.month.index() - prev.month.index()) {
                dense.push(MonthRow { month: prev.month.plus(gap), figures: MonthFigures::default(), ..prev.clone() });
            }
        }
        dense.push(row);
    }
    dense
}

#[tokio::test]
async fn every_indicator_matches_its_golden_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/indicators");
    let indicators = load_dir(&dir).expect("indicators load");
    assert!(indicators.len() >= 7, "expected the seven shipped indicators, found {}", indicators.len());
    let mut failures = Vec::new();
    let mut cases_run = 0;
    for indicator in indicators {
        let path = dir.join("golden").join(format!("{}.json", indicator.code));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} has no golden file {}: {e}", indicator.code, path.display()));
        let golden: Golden = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!golden.cases.is_empty(), "{} has no cases", path.display());
        let code = indicator.code.clone();
        let engine = Engine::new(vec![indicator], Decimal::from(8_000)).expect("engine");
        for case in &golden.cases {
            cases_run += 1;
            let evaluation = engine.evaluate(vec![to_batch(&rows(case)).expect("batch")]).await.expect("evaluation");
            let got: BTreeSet<(String, Month)> =
                evaluation.hits.iter().map(|h| (h.household_code.clone(), h.month)).collect();
            let want: BTreeSet<(String, Month)> =
                case.expected.iter().map(|e| (e.household_code.clone(), e.month)).collect();
            if got != want {
                failures.push(format!("{code} / {}: expected {want:?}, got {got:?}", case.name));
                continue;
            }
            for e in &case.expected {
                let Some(needle) = &e.detail_contains else { continue };
                let hit = evaluation.hits.iter().find(|h| h.household_code == e.household_code && h.month == e.month);
                let detail = hit.map(|h| h.detail.as_str()).unwrap_or_default();
                if !detail.contains(needle.as_str()) {
                    failures.push(format!("{code} / {}: detail {detail:?} lacks {needle:?}", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases_run} golden cases failed:\n{}", failures.len(), failures.join("\n"));
}
