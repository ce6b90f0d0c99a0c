//! Settings of the cadres' service: the procedure's deadlines and the web session's lifetime.
//! Read from the `[cases]` section of the configuration file; every key has a default.

use serde::Deserialize;

/// `[cases]` in the configuration file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CasesConfig {
    /// Working days for a door visit (high grade) after the alert arrives.
    pub door_visit_days: u32,
    /// Working days for a phone check (medium and low grades).
    pub phone_days: u32,
    /// Working days for the village review (asset check and village meeting).
    pub village_review_days: u32,
    /// Calendar days a public notice stays up before the township may review.
    pub notice_days: u32,
    /// Working days for the township review.
    pub township_review_days: u32,
    /// Working days from opening a case to the county's approval, all steps included.
    pub identification_days: u32,
    /// Working days for a risk-removal review.
    pub removal_review_days: u32,
    /// Seconds a login lasts.
    pub session_seconds: u64,
    /// Milliseconds between reads of the queues and publications of outcomes.
    pub poll_ms: u64,
    /// Kafka consumer group reading the queues (with `--brokers`); instances sharing a
    /// PostgreSQL store share the group.
    pub kafka_group: String,
}

impl Default for CasesConfig {
    fn default() -> CasesConfig {
        CasesConfig {
            door_visit_days: 2,
            phone_days: 5,
            village_review_days: 5,
            notice_days: 5,
            township_review_days: 5,
            identification_days: 20,
            removal_review_days: 10,
            session_seconds: 8 * 3600,
            poll_ms: 2000,
            kafka_group: "fangpin-cases".into(),
        }
    }
}

impl CasesConfig {
    /// Refuses settings that would make the procedure meaningless.
    pub fn validate(&self) -> crate::Result<()> {
        let working = [
            ("door_visit_days", self.door_visit_days),
            ("phone_days", self.phone_days),
            ("village_review_days", self.village_review_days),
            ("township_review_days", self.township_review_days),
            ("identification_days", self.identification_days),
            ("removal_review_days", self.removal_review_days),
        ];
        for (key, days) in working {
            if days == 0 {
                return Err(crate::CasesError::Config(format!(
                    "[cases] {key} must be at least 1 working day"
                )));
            }
        }
        if self.session_seconds < 60 {
            return Err(crate::CasesError::Config(
                "[cases] session_seconds must be at least 60".into(),
            ));
        }
        if self.poll_ms == 0 {
            return Err(crate::CasesError::Config(
                "[cases] poll_ms must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
