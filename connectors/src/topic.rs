//! The contract topics fangpin reads and the output topics it writes.

use std::fmt;

/// A department feed from `shared/contracts.md`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    Roster,
    Medical,
    Employment,
    Agri,
    Civil,
    Emergency,
    Education,
    Prices,
    Weather,
    Outcomes,
}

impl Topic {
    /// Every input topic; the roster first because it is the reference every other feed joins.
    pub const ALL: [Topic; 10] = [
        Topic::Roster,
        Topic::Medical,
        Topic::Employment,
        Topic::Agri,
        Topic::Civil,
        Topic::Emergency,
        Topic::Education,
        Topic::Prices,
        Topic::Weather,
        Topic::Outcomes,
    ];

    /// The Kafka topic name (and the file stem in a replay directory).
    pub fn name(self) -> &'static str {
        match self {
            Topic::Roster => "dept.rural.roster",
            Topic::Medical => "dept.medical.settlements",
            Topic::Employment => "dept.hr.employment",
            Topic::Agri => "dept.agri.production",
            Topic::Civil => "dept.civil.assistance",
            Topic::Emergency => "dept.emergency.disasters",
            Topic::Education => "dept.edu.expenses",
            Topic::Prices => "market.prices",
            Topic::Weather => "weather.observations",
            Topic::Outcomes => "verify.outcomes",
        }
    }

    /// The topic with this Kafka name.
    pub fn from_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names of the topics fangpin writes; in the embedded mode, files `<name>.ndjson`.
pub mod output {
    /// High-risk alerts: door visits by township cadres.
    pub const DOOR_VISIT: &str = "verify.door_visit";
    /// Medium and low-risk alerts: phone checks.
    pub const PHONE: &str = "verify.phone";
    /// Every alert, whatever its queue: for dashboards, archives and the task inbox.
    pub const ALERTS: &str = "alerts";
    /// Every rejected record, with its reason and its payload masked.
    pub const DEAD_LETTER: &str = "dead_letter";
    /// Insurance claims raised and restated, keyed by household.
    pub const CLAIMS: &str = "claims.triggered";
}
