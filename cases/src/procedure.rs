//! The national identification procedure as steps: who may take each one, what follows, and
//! its deadline.
//!
//! ```text
//! verification (a task) ─confirmed_risk─► village_review ─► public_notice ─► township_review
//!   ─► county_approval ─► monitored ─► removal_review ─► removed
//! village_review, township_review, county_approval ─reject─► not_identified
//! ```
//! A cadre who found the household on a visit, or a household that applied itself, opens a case
//! directly at `village_review`.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::accounts::Role;
use crate::config::CasesConfig;
use crate::workdays::add_working_days;

/// Where a case stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Asset check and village review meeting (village).
    VillageReview,
    /// The 5-day public notice in the village (village closes it once it has run).
    PublicNotice,
    /// Township review.
    TownshipReview,
    /// County approval: the household becomes a monitored household.
    CountyApproval,
    /// Monitored, with assistance measures; the township starts the removal review.
    Monitored,
    /// Risk-removal review once income is stable again (county decides).
    RemovalReview,
    /// Left monitoring.
    Removed,
    /// Rejected at a review: not a monitored household.
    NotIdentified,
}

/// What a person does to a case.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Completes the current step; the case moves to the next.
    Approve,
    /// Ends the case at a review: not identified.
    Reject,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::VillageReview,
        Step::PublicNotice,
        Step::TownshipReview,
        Step::CountyApproval,
        Step::Monitored,
        Step::RemovalReview,
        Step::Removed,
        Step::NotIdentified,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Step::VillageReview => "village_review",
            Step::PublicNotice => "public_notice",
            Step::TownshipReview => "township_review",
            Step::CountyApproval => "county_approval",
            Step::Monitored => "monitored",
            Step::RemovalReview => "removal_review",
            Step::Removed => "removed",
            Step::NotIdentified => "not_identified",
        }
    }

    pub fn parse(code: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The step's name on the pages.
    pub fn label(self) -> &'static str {
        match self {
            Step::VillageReview => "村级评议",
            Step::PublicNotice => "村内公示",
            Step::TownshipReview => "乡镇审核",
            Step::CountyApproval => "县级审定",
            Step::Monitored => "纳入监测、落实帮扶",
            Step::RemovalReview => "风险消除评议",
            Step::Removed => "已消除风险",
            Step::NotIdentified => "未认定",
        }
    }

    /// The one role that may complete this step; `None` for the closed steps.
    pub fn role(self) -> Option<Role> {
        match self {
            Step::VillageReview | Step::PublicNotice => Some(Role::Village),
            Step::TownshipReview | Step::Monitored => Some(Role::Township),
            Step::CountyApproval | Step::RemovalReview => Some(Role::County),
            Step::Removed | Step::NotIdentified => None,
        }
    }

    pub fn is_closed(self) -> bool {
        self.role().is_none()
    }

    /// Where the action leads, or why it cannot be taken here.
    pub fn after(self, action: Action) -> Result<Step, &'static str> {
        match (self, action) {
            (Step::VillageReview, Action::Approve) => Ok(Step::PublicNotice),
            (Step::PublicNotice, Action::Approve) => Ok(Step::TownshipReview),
            (Step::TownshipReview, Action::Approve) => Ok(Step::CountyApproval),
            (Step::CountyApproval, Action::Approve) => Ok(Step::Monitored),
            (Step::Monitored, Action::Approve) => Ok(Step::RemovalReview),
            (Step::RemovalReview, Action::Approve) => Ok(Step::Removed),
            (Step::VillageReview | Step::TownshipReview | Step::CountyApproval, Action::Reject) => {
                Ok(Step::NotIdentified)
            }
            (Step::RemovalReview, Action::Reject) => Ok(Step::Monitored),
            (Step::PublicNotice | Step::Monitored, Action::Reject) => Err("这一步不能驳回"),
            (Step::Removed | Step::NotIdentified, _) => Err("案件已结束"),
        }
    }

    /// When a step entered on `started` must be done. The identification steps share the
    /// overall deadline `identification_due`; none may end after it.
    pub fn due(
        self,
        started: NaiveDate,
        identification_due: NaiveDate,
        c: &CasesConfig,
    ) -> Option<NaiveDate> {
        let own = match self {
            Step::VillageReview => add_working_days(started, c.village_review_days),
            Step::PublicNotice => started + Duration::days(i64::from(c.notice_days)),
            Step::TownshipReview => add_working_days(started, c.township_review_days),
            Step::CountyApproval => identification_due,
            Step::RemovalReview => return Some(add_working_days(started, c.removal_review_days)),
            Step::Monitored | Step::Removed | Step::NotIdentified => return None,
        };
        Some(own.min(identification_due))
    }

    /// The earliest date the step may be completed: a public notice must have run its days.
    pub fn earliest_completion(self, started: NaiveDate, c: &CasesConfig) -> NaiveDate {
        match self {
            Step::PublicNotice => started + Duration::days(i64::from(c.notice_days)),
            _ => started,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_has_one_role_and_reviews_can_reject() {
        assert_eq!(
            Step::VillageReview.after(Action::Approve),
            Ok(Step::PublicNotice)
        );
        assert_eq!(
            Step::CountyApproval.after(Action::Approve),
            Ok(Step::Monitored)
        );
        assert_eq!(
            Step::TownshipReview.after(Action::Reject),
            Ok(Step::NotIdentified)
        );
        assert!(Step::PublicNotice.after(Action::Reject).is_err());
        assert!(Step::Removed.after(Action::Approve).is_err());
        assert_eq!(Step::CountyApproval.role(), Some(Role::County));
        for s in Step::ALL {
            assert_eq!(Step::parse(s.code()), Some(s));
        }
    }

    #[test]
    fn the_notice_runs_its_days_and_no_step_outlives_the_overall_deadline() {
        let c = CasesConfig::default();
        let start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let overall = add_working_days(start, c.identification_days);
        assert_eq!(
            Step::PublicNotice.earliest_completion(start, &c),
            start + Duration::days(5)
        );
        let late = NaiveDate::from_ymd_opt(2026, 12, 28).unwrap();
        assert_eq!(Step::TownshipReview.due(late, overall, &c), Some(overall));
    }
}
