//! The monitoring centre's view of the verification work, on the service's `/metrics`: open
//! and overdue tasks by queue and area, how long tasks wait, outcomes, cases by step, and the
//! precision of each grade as the cadres' answers verify it. Gauges are read from the store at
//! each scrape, so every instance sharing a PostgreSQL store reports the same figures; the time
//! to verification is observed by the instance that records it.
//!
//! Labels are queues, GB/T 2260 county and township codes, age bands, outcomes, steps and
//! grades: never a household code or a person.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use sqlx::Row;

use crate::procedure::Step;
use crate::store::{now_china, now_unix, Store};
use crate::tasks::{queue_of_method, OUTCOMES};
use fangpin_connectors::event::VerifyResult;
use fangpin_connectors::topic::output;
use fangpin_models::Grade;
use crate::{CasesError, Result};

/// Every metric name of the cadres' service, defined here only.
pub mod names {
    pub const OPEN_TASKS: &str = "fangpin_cases_open_tasks";
    pub const OVERDUE_TASKS: &str = "fangpin_cases_overdue_tasks";
    pub const OLDEST_OPEN_TASK: &str = "fangpin_cases_oldest_open_task_timestamp_seconds";
    pub const TIME_TO_VERIFICATION: &str = "fangpin_cases_time_to_verification_seconds";
    pub const OUTCOMES: &str = "fangpin_cases_outcomes_total";
    pub const CASES_BY_STEP: &str = "fangpin_cases_in_step";
    pub const VERIFIED_ANSWERS: &str = "fangpin_cases_verified_answers";
    pub const VERIFIED_PRECISION: &str = "fangpin_cases_verified_precision";
    pub const ALL: [&str; 8] = [
        OPEN_TASKS,
        OVERDUE_TASKS,
        OLDEST_OPEN_TASK,
        TIME_TO_VERIFICATION,
        OUTCOMES,
        CASES_BY_STEP,
        VERIFIED_ANSWERS,
        VERIFIED_PRECISION,
    ];
    /// Labels the service uses.
    pub const LABELS: [&str; 7] = ["queue", "county", "township", "age", "outcome", "step", "grade"];
}

/// Age bands of open tasks, by days since they arrived: (label, lower bound in days).
const AGE_BANDS: [(&str, i64); 4] = [("0-1d", 0), ("2-5d", 2), ("6-10d", 6), ("over-10d", 11)];

fn age_band(days: i64) -> &'static str {
    AGE_BANDS
        .iter()
        .rev()
        .find(|(_, from)| days >= *from)
        .map_or(AGE_BANDS[0].0, |(l, _)| l)
}

/// The service's metric families.
#[derive(Clone)]
pub struct CasesMetrics {
    registry: Registry,
    open: GaugeVec,
    overdue: GaugeVec,
    oldest: GaugeVec,
    in_step: GaugeVec,
    verified_answers: GaugeVec,
    verified_precision: GaugeVec,
    time_to_verification: HistogramVec,
    outcomes: IntCounterVec,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    registry
        .register(Box::new(c.clone()))
        .unwrap_or_else(|e| unreachable!("each family is registered once: {e}"));
    c
}

impl CasesMetrics {
    pub fn new() -> CasesMetrics {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                GaugeVec::new(Opts::new(name, help), labels)
                    .unwrap_or_else(|e| unreachable!("{e}")),
            )
        };
        let open = gauge(
            names::OPEN_TASKS,
            "Verification tasks not yet answered, by queue, area and days waiting.",
            &["queue", "county", "township", "age"],
        );
        let overdue = gauge(
            names::OVERDUE_TASKS,
            "Open verification tasks past their due date.",
            &["queue", "county", "township"],
        );
        let oldest = gauge(
            names::OLDEST_OPEN_TASK,
            "When the oldest open task of a queue and county arrived (unix time).",
            &["queue", "county"],
        );
        let in_step = gauge(
            names::CASES_BY_STEP,
            "Identification cases by the step they are at.",
            &["step", "county"],
        );
        let verified_answers = gauge(
            names::VERIFIED_ANSWERS,
            "Answered tasks that say whether the risk was real (confirmed or no risk), by the alert's grade.",
            &["grade"],
        );
        let verified_precision = gauge(
            names::VERIFIED_PRECISION,
            "Share of those answers that confirmed the risk, by the alert's grade: the grade's precision as verified.",
            &["grade"],
        );
        // Buckets from an hour to four weeks: the promises are 2 and 5 working days.
        let hours = [1.0, 4.0, 12.0, 24.0, 48.0, 72.0, 120.0, 168.0, 336.0, 672.0];
        let buckets = hours.iter().map(|h| h * 3600.0).collect();
        let time_to_verification = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    names::TIME_TO_VERIFICATION,
                    "Seconds from a task's arrival to its outcome.",
                )
                .buckets(buckets),
                &["queue"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let outcomes = register(
            &registry,
            IntCounterVec::new(
                Opts::new(names::OUTCOMES, "Verification outcomes recorded by cadres."),
                &["queue", "outcome"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        // Every queue's series exist from the start, at zero, so that the first outcome is a
        // change Prometheus can see (a rate needs a sample before it).
        for queue in [output::DOOR_VISIT, output::PHONE] {
            time_to_verification.with_label_values(&[queue]);
            for (outcome, _) in OUTCOMES {
                outcomes.with_label_values(&[queue, outcome]);
            }
        }
        CasesMetrics {
            registry,
            open,
            overdue,
            oldest,
            in_step,
            verified_answers,
            verified_precision,
            time_to_verification,
            outcomes,
        }
    }

    /// The descriptors of every family (for the tests that hold dashboards to them).
    pub fn descriptors(&self) -> Vec<prometheus::core::Desc> {
        use prometheus::core::Collector;
        let collectors: [&dyn Collector; 8] = [
            &self.open,
            &self.overdue,
            &self.oldest,
            &self.in_step,
            &self.verified_answers,
            &self.verified_precision,
            &self.time_to_verification,
            &self.outcomes,
        ];
        collectors.iter().flat_map(|c| c.desc().into_iter().cloned()).collect()
    }

    /// Reads the gauges from the store.
    pub async fn refresh(&self, store: &Store) -> Result<()> {
        let now = now_unix();
        let today = now_china().date_naive().to_string();
        let rows = sqlx::query("SELECT method, county_code, township_code, received_at, due_date FROM tasks WHERE status = 'open'")
            .fetch_all(store.pool())
            .await?;
        self.open.reset();
        self.overdue.reset();
        self.oldest.reset();
        let mut oldest = std::collections::BTreeMap::<(&str, String), i64>::new();
        for row in &rows {
            let method: String = row.try_get("method")?;
            let queue = queue_of_method(&method);
            let county: String = row.try_get("county_code")?;
            let township: String = row.try_get("township_code")?;
            let received: i64 = row.try_get("received_at")?;
            let due: String = row.try_get("due_date")?;
            let band = age_band((now - received).max(0) / 86_400);
            self.open
                .with_label_values(&[queue, &county, &township, band])
                .inc();
            let overdue = self.overdue.with_label_values(&[queue, &county, &township]);
            if due < today {
                overdue.inc();
            }
            let entry = oldest.entry((queue, county)).or_insert(received);
            *entry = (*entry).min(received);
        }
        for ((queue, county), at) in oldest {
            self.oldest
                .with_label_values(&[queue, &county])
                .set(at as f64);
        }
        let rows = sqlx::query("SELECT step, county_code, CAST(COUNT(*) AS BIGINT) AS n FROM cases GROUP BY step, county_code")
            .fetch_all(store.pool())
            .await?;
        self.in_step.reset();
        for row in &rows {
            let step: String = row.try_get("step")?;
            let county: String = row.try_get("county_code")?;
            let n: i64 = row.try_get("n")?;
            if Step::parse(&step).is_some() {
                self.in_step
                    .with_label_values(&[&step, &county])
                    .set(n as f64);
            }
        }
        self.refresh_verified(store).await
    }

    /// Precision per grade from the cadres' answers, by the rule the model card uses
    /// ([`fangpin_models::card::verified`]), for the data team to watch in production.
    async fn refresh_verified(&self, store: &Store) -> Result<()> {
        let rows = sqlx::query("SELECT grade, outcome FROM tasks WHERE outcome IS NOT NULL")
            .fetch_all(store.pool())
            .await?;
        let mut answers = Vec::with_capacity(rows.len());
        for row in &rows {
            let grade = Grade::from_code(&row.try_get::<String, _>("grade")?);
            let outcome: String = row.try_get("outcome")?;
            let at_risk = VerifyResult::parse(&outcome).and_then(VerifyResult::at_risk);
            if let (Some(grade), Some(at_risk)) = (grade, at_risk) {
                answers.push((grade, at_risk));
            }
        }
        self.verified_answers.reset();
        self.verified_precision.reset();
        for v in fangpin_models::card::verified(&answers) {
            self.verified_answers.with_label_values(&[&v.grade]).set(v.answered as f64);
            // A grade nobody has answered yet has no precision, not a precision of zero.
            if v.answered > 0 {
                self.verified_precision.with_label_values(&[&v.grade]).set(v.precision);
            }
        }
        Ok(())
    }

    /// Counts an outcome just recorded and how long its task waited.
    pub fn observe_outcome(&self, recorded: &crate::tasks::Recorded, outcome: &str) {
        self.outcomes
            .with_label_values(&[recorded.queue, outcome])
            .inc();
        self.time_to_verification
            .with_label_values(&[recorded.queue])
            .observe(recorded.waited_seconds.max(0) as f64);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> Result<String> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| CasesError::Internal(format!("metrics encoding: {e}")))?;
        String::from_utf8(out).map_err(|e| CasesError::Internal(e.to_string()))
    }
}

impl Default for CasesMetrics {
    fn default() -> CasesMetrics {
        CasesMetrics::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_fall_in_bands() {
        assert_eq!(super::age_band(0), "0-1d");
        assert_eq!(super::age_band(1), "0-1d");
        assert_eq!(super::age_band(2), "2-5d");
        assert_eq!(super::age_band(10), "6-10d");
        assert_eq!(super::age_band(40), "over-10d");
    }
}
