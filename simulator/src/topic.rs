//! The ten contract topics the simulator writes.

/// A contract topic; its file is `<name>.ndjson`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Topic {
    /// `dept.rural.roster`
    Roster,
    /// `dept.medical.settlements`
    Medical,
    /// `dept.hr.employment`
    Employment,
    /// `dept.agri.production`
    Agri,
    /// `dept.civil.assistance`
    Civil,
    /// `dept.emergency.disasters`
    Emergency,
    /// `dept.edu.expenses`
    Education,
    /// `market.prices`
    Prices,
    /// `weather.observations`
    Weather,
    /// `verify.outcomes`
    Outcomes,
}

impl Topic {
    /// Every topic, in the order files are written.
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

    /// The topic name (and file stem).
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

    /// Whether records are keyed by `household_code` (and so can arrive late).
    pub fn per_household(self) -> bool {
        !matches!(self, Topic::Prices | Topic::Weather)
    }
}
