//! Identification cases: a household whose risk is confirmed (by a verification outcome, a
//! cadre's visit, or its own application) moves through the procedure's steps
//! ([`crate::procedure`]); every step records who took it, when, and a note.

use chrono::NaiveDate;
use fangpin_connectors::event::HouseholdCode;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::accounts::Account;
use crate::config::CasesConfig;
use crate::procedure::{Action, Step};
use crate::store::{now_china, now_text, Store};
use crate::tasks::{authorize, MEASURES};
use crate::workdays::add_working_days;
use crate::{accounts, audit, privacy, CasesError, Result};

/// How the risk was found.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// fangpin's alert, confirmed by a verification.
    Screening,
    /// A cadre found it on a visit.
    CadreVisit,
    /// The household applied (in person, in writing, the 12317 hotline, the app).
    SelfApplication,
}

impl Source {
    pub fn code(self) -> &'static str {
        match self {
            Source::Screening => "screening",
            Source::CadreVisit => "cadre_visit",
            Source::SelfApplication => "self_application",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        [
            Source::Screening,
            Source::CadreVisit,
            Source::SelfApplication,
        ]
        .into_iter()
        .find(|x| x.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Source::Screening => "部门数据筛查预警",
            Source::CadreVisit => "干部走访发现",
            Source::SelfApplication => "农户自主申报",
        }
    }
}

/// What opening a case needs.
#[derive(Clone, Debug, Deserialize)]
pub struct Opening {
    pub household_code: String,
    #[serde(default)]
    pub category: String,
    pub source: Source,
    #[serde(default)]
    pub alert_id: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// A case in a list.
#[derive(Clone, Debug, Serialize)]
pub struct CaseSummary {
    pub case_id: String,
    pub household_code: String,
    pub village_code: String,
    pub category: String,
    pub source: String,
    pub source_label: &'static str,
    pub alert_id: Option<String>,
    pub step: String,
    pub step_label: &'static str,
    /// The role that must act next, if the case is open.
    pub step_role: Option<&'static str>,
    pub step_started: String,
    pub step_due: String,
    pub identification_due: String,
    pub overdue: bool,
    pub opened_at: String,
    pub opened_by: String,
    pub measures: Vec<String>,
}

/// One step taken.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub seq: i64,
    pub step: String,
    pub step_label: &'static str,
    pub action: String,
    pub actor: String,
    pub role: String,
    pub at: String,
    pub note: String,
}

const CASE_COLUMNS: &str =
    "case_id, household_code, village_code, category, source, alert_id, step, step_started, \
     step_due, identification_due, opened_at, opened_by, measures";

fn summary_of(row: &sqlx::any::AnyRow) -> Result<CaseSummary> {
    let step_code: String = row.try_get("step")?;
    let step = Step::parse(&step_code)
        .ok_or_else(|| CasesError::Internal(format!("stored step {step_code:?}")))?;
    let source_code: String = row.try_get("source")?;
    let source = Source::parse(&source_code)
        .ok_or_else(|| CasesError::Internal(format!("stored source {source_code:?}")))?;
    let step_due: String = row.try_get("step_due")?;
    let today = now_china().date_naive().to_string();
    let measures: String = row.try_get("measures")?;
    Ok(CaseSummary {
        case_id: row.try_get("case_id")?,
        household_code: row.try_get("household_code")?,
        village_code: row.try_get("village_code")?,
        category: row.try_get("category")?,
        source: source_code,
        source_label: source.label(),
        alert_id: row.try_get("alert_id")?,
        step: step_code,
        step_label: step.label(),
        step_role: step.role().map(accounts::Role::code),
        step_started: row.try_get("step_started")?,
        overdue: !step.is_closed() && !step_due.is_empty() && step_due < today,
        step_due,
        identification_due: row.try_get("identification_due")?,
        opened_at: row.try_get("opened_at")?,
        opened_by: row.try_get("opened_by")?,
        measures: serde_json::from_str(&measures)
            .map_err(|e| CasesError::Internal(e.to_string()))?,
    })
}

/// Opens a case at the village review inside the caller's transaction; returns its id. A
/// household has at most one open case: opening another returns the open one's id.
pub async fn open_in(
    tx: &mut AnyConnection,
    account: &Account,
    opening: &Opening,
    config: &CasesConfig,
) -> Result<String> {
    let household = HouseholdCode::parse(&opening.household_code).ok_or_else(|| {
        CasesError::Invalid(format!(
            "户编码 {:?} 格式不对：应为 12 位村代码-4 位序号",
            opening.household_code
        ))
    })?;
    privacy::check_free_text("备注", &opening.note)?;
    let open = sqlx::query_scalar::<_, String>(
        "SELECT case_id FROM cases WHERE household_code = $1 AND step NOT IN ('removed', 'not_identified')",
    )
    .bind(household.as_str().to_owned())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = open {
        return Ok(id);
    }
    let today = now_china().date_naive();
    let overall = add_working_days(today, config.identification_days);
    let due = Step::VillageReview
        .due(today, overall, config)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let case_id = format!("C{}", &accounts::random_token()[..12]);
    let at = now_text();
    sqlx::query(
        "INSERT INTO cases (case_id, household_code, county_code, township_code, village_code, category, source, \
         alert_id, step, step_started, step_due, identification_due, opened_at, opened_by, measures) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '[]')",
    )
    .bind(case_id.clone())
    .bind(household.as_str().to_owned())
    .bind(household.county().to_owned())
    .bind(household.township().to_owned())
    .bind(household.village().to_owned())
    .bind(opening.category.clone())
    .bind(opening.source.code())
    .bind(opening.alert_id.clone())
    .bind(Step::VillageReview.code())
    .bind(today.to_string())
    .bind(due)
    .bind(overall.to_string())
    .bind(at.clone())
    .bind(account.username.clone())
    .execute(&mut *tx)
    .await?;
    insert_step(
        tx,
        &case_id,
        Step::VillageReview,
        "opened",
        account,
        &at,
        &opening.note,
    )
    .await?;
    let detail = serde_json::json!({"household": household.as_str(), "source": opening.source.code(), "alert_id": opening.alert_id});
    audit::append(tx, &account.username, "case.opened", &case_id, &detail).await?;
    Ok(case_id)
}

/// Opens a case by hand (a cadre's visit or a household's application).
pub async fn open(
    store: &Store,
    account: &Account,
    opening: &Opening,
    config: &CasesConfig,
) -> Result<String> {
    authorize(
        store,
        account,
        &opening.household_code,
        &format!("household {}", opening.household_code),
    )
    .await?;
    if !account.role.verifies() {
        return Err(CasesError::Forbidden(
            "只有村、乡镇干部登记新发现的风险户".into(),
        ));
    }
    if opening.source == Source::Screening {
        return Err(CasesError::Invalid(
            "筛查预警的案件由核实结果自动建立".into(),
        ));
    }
    let mut tx = store.begin().await?;
    let id = open_in(&mut tx, account, opening, config).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_step(
    tx: &mut AnyConnection,
    case_id: &str,
    step: Step,
    action: &str,
    account: &Account,
    at: &str,
    note: &str,
) -> Result<()> {
    let seq = Store::next_seq(tx, "case_steps", Some(("case_id", case_id))).await?;
    sqlx::query(
        "INSERT INTO case_steps (case_id, seq, step, action, actor, role, at, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(case_id.to_owned())
    .bind(seq)
    .bind(step.code())
    .bind(action.to_owned())
    .bind(account.username.clone())
    .bind(account.role.code())
    .bind(at.to_owned())
    .bind(note.to_owned())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn fetch(store: &Store, case_id: &str) -> Result<CaseSummary> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE case_id = $1");
    let row = sqlx::query(&sql)
        .bind(case_id.to_owned())
        .fetch_optional(store.pool())
        .await?;
    summary_of(&row.ok_or_else(|| CasesError::NotFound(format!("case {case_id}")))?)
}

/// The case, if it lies in the account's area (a refusal is logged).
async fn fetch_authorized(store: &Store, account: &Account, case_id: &str) -> Result<CaseSummary> {
    let case = fetch(store, case_id).await?;
    authorize(store, account, &case.household_code, &format!("case {case_id}")).await?;
    Ok(case)
}

/// A case with its steps.
#[derive(Debug, Serialize)]
pub struct CaseDetail {
    pub case: CaseSummary,
    pub steps: Vec<StepRecord>,
    /// Whether the viewer's role takes the current step.
    pub may_act: bool,
    pub may_reject: bool,
    /// The earliest date the current step may be completed (a notice must run its days).
    pub earliest: String,
}

pub async fn detail(
    store: &Store,
    account: &Account,
    case_id: &str,
    config: &CasesConfig,
) -> Result<CaseDetail> {
    let case = fetch_authorized(store, account, case_id).await?;
    let rows = sqlx::query("SELECT seq, step, action, actor, role, at, note FROM case_steps WHERE case_id = $1 ORDER BY seq")
        .bind(case_id.to_owned())
        .fetch_all(store.pool())
        .await?;
    let mut steps = Vec::new();
    for r in rows {
        let step: String = r.try_get("step")?;
        steps.push(StepRecord {
            seq: r.try_get("seq")?,
            step_label: Step::parse(&step).map_or("?", Step::label),
            step,
            action: r.try_get("action")?,
            actor: r.try_get("actor")?,
            role: r.try_get("role")?,
            at: r.try_get("at")?,
            note: r.try_get("note")?,
        });
    }
    let step = Step::parse(&case.step).ok_or_else(|| CasesError::Internal("stored step".into()))?;
    let started = NaiveDate::parse_from_str(&case.step_started, "%Y-%m-%d")
        .map_err(|e| CasesError::Internal(e.to_string()))?;
    Ok(CaseDetail {
        may_act: step.role() == Some(account.role),
        may_reject: step.role() == Some(account.role) && step.after(Action::Reject).is_ok(),
        earliest: step.earliest_completion(started, config).to_string(),
        case,
        steps,
    })
}

/// The open and closed cases of the account's area, open first by due date.
pub async fn list(store: &Store, account: &Account) -> Result<Vec<CaseSummary>> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE household_code LIKE $1 \
         ORDER BY CASE WHEN step IN ('removed', 'not_identified') THEN 1 ELSE 0 END, step_due, case_id LIMIT 500"
    );
    let rows = sqlx::query(&sql)
        .bind(format!("{}%", account.area_code))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(summary_of).collect()
}

/// The household's cases (any area check is the caller's).
pub async fn of_household(store: &Store, household_code: &str) -> Result<Vec<CaseSummary>> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE household_code = $1 ORDER BY opened_at DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(household_code.to_owned())
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(summary_of).collect()
}

/// Takes an action on a case's current step, as the step's role only.
pub async fn act(
    store: &Store,
    account: &Account,
    case_id: &str,
    action: Action,
    note: &str,
    config: &CasesConfig,
) -> Result<Step> {
    let case = fetch_authorized(store, account, case_id).await?;
    privacy::check_free_text("意见", note)?;
    let step = Step::parse(&case.step).ok_or_else(|| CasesError::Internal("stored step".into()))?;
    match step.role() {
        Some(role) if role == account.role => {}
        Some(role) => {
            return Err(CasesError::Forbidden(format!(
                "「{}」由{}账号办理",
                step.label(),
                role.label()
            )));
        }
        None => return Err(CasesError::Invalid("案件已结束".into())),
    }
    let next = step
        .after(action)
        .map_err(|why| CasesError::Invalid(why.into()))?;
    let today = now_china().date_naive();
    let started = NaiveDate::parse_from_str(&case.step_started, "%Y-%m-%d")
        .map_err(|e| CasesError::Internal(e.to_string()))?;
    if action == Action::Approve && today < step.earliest_completion(started, config) {
        return Err(CasesError::Invalid(format!(
            "公示期未满：{} 之后才能结束公示",
            step.earliest_completion(started, config)
        )));
    }
    let overall = NaiveDate::parse_from_str(&case.identification_due, "%Y-%m-%d")
        .map_err(|e| CasesError::Internal(e.to_string()))?;
    let due = next
        .due(today, overall, config)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let at = now_text();
    let mut tx = store.begin().await?;
    // The step must still be the one read above: two people acting at once cannot both move it.
    let moved = sqlx::query("UPDATE cases SET step = $1, step_started = $2, step_due = $3 WHERE case_id = $4 AND step = $5")
        .bind(next.code())
        .bind(today.to_string())
        .bind(due)
        .bind(case_id.to_owned())
        .bind(step.code())
        .execute(&mut *tx)
        .await?;
    if moved.rows_affected() == 0 {
        return Err(CasesError::Invalid("案件已被他人办理，请刷新".into()));
    }
    let verb = if action == Action::Approve {
        "approved"
    } else {
        "rejected"
    };
    insert_step(&mut tx, case_id, step, verb, account, &at, note).await?;
    let detail = serde_json::json!({"from": step.code(), "to": next.code(), "note": note});
    audit::append(&mut tx, &account.username, "case.step", case_id, &detail).await?;
    tx.commit().await?;
    Ok(next)
}

/// Records an assistance measure started for a monitored household (village or township).
pub async fn add_measure(
    store: &Store,
    account: &Account,
    case_id: &str,
    measure: &str,
    note: &str,
) -> Result<()> {
    let case = fetch_authorized(store, account, case_id).await?;
    privacy::check_free_text("备注", note)?;
    if !account.role.verifies() {
        return Err(CasesError::Forbidden("帮扶措施由村、乡镇干部登记".into()));
    }
    if case.step != Step::Monitored.code() {
        return Err(CasesError::Invalid(
            "县级审定纳入监测后才能登记帮扶措施".into(),
        ));
    }
    if !MEASURES.iter().any(|(c, _)| *c == measure) {
        return Err(CasesError::Invalid(format!("帮扶措施 {measure:?} 无效")));
    }
    let mut measures = case.measures.clone();
    if !measures.iter().any(|m| m == measure) {
        measures.push(measure.to_owned());
    }
    let at = now_text();
    let mut tx = store.begin().await?;
    sqlx::query("UPDATE cases SET measures = $1 WHERE case_id = $2")
        .bind(serde_json::to_string(&measures).map_err(|e| CasesError::Internal(e.to_string()))?)
        .bind(case_id.to_owned())
        .execute(&mut *tx)
        .await?;
    insert_step(
        &mut tx,
        case_id,
        Step::Monitored,
        &format!("measure:{measure}"),
        account,
        &at,
        note,
    )
    .await?;
    audit::append(
        &mut tx,
        &account.username,
        "case.measure",
        case_id,
        &serde_json::json!({"measure": measure, "note": note}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
