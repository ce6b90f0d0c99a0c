//! Verification tasks. An alert id (a household's risk month) is one task: the same id arriving
//! again with a later revision updates the task and keeps each content as a revision, a
//! withdrawal closes the task as withdrawn and a later revision opens it again; an alert that
//! supersedes an earlier one closes the earlier task. A cadre's outcome closes the task,
//! is queued for `verify.outcomes` in the same transaction, and a confirmed risk opens an
//! identification case.

use chrono::{DateTime, FixedOffset, NaiveDate};
use fangpin_connectors::topic::output;
use fangpin_models::Reason;
use fangpin_pipelines::alerts::AlertStatus;
use fangpin_pipelines::Alert;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::accounts::Account;
use crate::config::CasesConfig;
use crate::store::{now_china, now_text, now_unix, Store};
use crate::workdays::add_working_days;
use crate::{audit, cases, outbox, privacy, CasesError, Result};

/// The outcomes of the contract's `verify.outcomes`.
pub const OUTCOMES: [(&str, &str); 3] = [
    ("confirmed_risk", "确认存在风险"),
    ("no_risk", "核实无风险"),
    ("unreachable", "无法联系"),
];

/// Assistance measures a cadre can start, with their names on the pages.
pub const MEASURES: [(&str, &str); 7] = [
    ("medical_assistance", "医疗救助"),
    ("temporary_assistance", "临时救助"),
    ("insurance_claim", "防贫保险理赔"),
    ("employment_help", "就业帮扶"),
    ("dibao", "低保"),
    ("education_aid", "教育资助"),
    ("industry_support", "产业帮扶"),
];

/// How a task is verified: the contract's `method`.
pub fn method_of_queue(queue: &str) -> Result<&'static str> {
    match queue {
        output::DOOR_VISIT => Ok("door_visit"),
        output::PHONE => Ok("phone"),
        other => Err(CasesError::Invalid(format!(
            "alert for unknown queue {other:?}"
        ))),
    }
}

fn method_rank(method: &str) -> u8 {
    if method == "door_visit" {
        0
    } else {
        1
    }
}

/// A task as pages and the API show it.
#[derive(Clone, Debug, Serialize)]
pub struct Task {
    pub alert_id: String,
    pub household_code: String,
    pub county_code: String,
    pub township_code: String,
    pub village_code: String,
    pub category: String,
    pub risk_month: String,
    pub method: String,
    pub grade: String,
    pub score: f64,
    pub reasons: Vec<Reason>,
    pub grader: String,
    pub revision: i64,
    pub status: String,
    pub closed_reason: Option<String>,
    pub raised_at: String,
    /// When the task arrived (unix seconds).
    pub received_at: i64,
    pub due_date: String,
    pub overdue: bool,
    pub supersedes: Option<String>,
    pub outcome: Option<String>,
    pub assistance: Vec<String>,
    pub note: Option<String>,
    pub verifier: Option<String>,
    pub verified_at: Option<String>,
}

const TASK_COLUMNS: &str = "alert_id, household_code, county_code, township_code, village_code, category, \
     risk_month, method, grade, score, reasons, grader, revision, status, closed_reason, raised_at, received_at, due_date, \
     supersedes, outcome, assistance, note, verifier, verified_at";

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| CasesError::Internal(format!("stored JSON: {e}")))
}

fn task_of(row: &sqlx::any::AnyRow, today: NaiveDate) -> Result<Task> {
    let reasons: String = row.try_get("reasons")?;
    let assistance: Option<String> = row.try_get("assistance")?;
    let due_date: String = row.try_get("due_date")?;
    let status: String = row.try_get("status")?;
    let overdue = status == "open"
        && NaiveDate::parse_from_str(&due_date, "%Y-%m-%d").is_ok_and(|d| d < today);
    Ok(Task {
        alert_id: row.try_get("alert_id")?,
        household_code: row.try_get("household_code")?,
        county_code: row.try_get("county_code")?,
        township_code: row.try_get("township_code")?,
        village_code: row.try_get("village_code")?,
        category: row.try_get("category")?,
        risk_month: row.try_get("risk_month")?,
        method: row.try_get("method")?,
        grade: row.try_get("grade")?,
        score: row.try_get("score")?,
        reasons: json(&reasons)?,
        grader: row.try_get("grader")?,
        revision: row.try_get("revision")?,
        status,
        closed_reason: row.try_get("closed_reason")?,
        raised_at: row.try_get("raised_at")?,
        received_at: row.try_get("received_at")?,
        due_date,
        overdue,
        supersedes: row.try_get("supersedes")?,
        outcome: row.try_get("outcome")?,
        assistance: match assistance {
            Some(a) => json(&a)?,
            None => Vec::new(),
        },
        note: row.try_get("note")?,
        verifier: row.try_get("verifier")?,
        verified_at: row.try_get("verified_at")?,
    })
}

/// What applying an alert did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Created,
    Revised,
    Unchanged,
}

/// Applies one alert from a queue inside the caller's transaction.
pub async fn apply_alert(
    tx: &mut AnyConnection,
    alert: &Alert,
    received: DateTime<FixedOffset>,
    config: &CasesConfig,
) -> Result<Applied> {
    let method = method_of_queue(&alert.queue)?;
    let days = if method == "door_visit" {
        config.door_visit_days
    } else {
        config.phone_days
    };
    let due = add_working_days(received.date_naive(), days).to_string();
    let reasons =
        serde_json::to_string(&alert.reasons).map_err(|e| CasesError::Internal(e.to_string()))?;
    let grade = alert.grade.code();
    let grader = format!("{} {}", alert.grader.name, alert.grader.version);
    let existing = sqlx::query(
        "SELECT revision, method, due_date, status, alert_revision FROM tasks WHERE alert_id = $1",
    )
    .bind(alert.alert_id.clone())
    .fetch_optional(&mut *tx)
    .await?;
    let alert_revision = i64::from(alert.revision);
    if let Some(row) = &existing {
        // A revision older than one applied: a replayed or reordered queue.
        if alert_revision < row.try_get::<i64, _>("alert_revision")? {
            return Ok(Applied::Unchanged);
        }
    }
    if alert.status == AlertStatus::Withdrawn {
        return withdraw(tx, alert, existing.is_some()).await;
    }
    let (applied, revision, method) = match existing {
        None => {
            sqlx::query(
                "INSERT INTO tasks (alert_id, household_code, county_code, township_code, village_code, category, \
                 risk_month, method, grade, score, reasons, grader, revision, status, raised_at, received_at, due_date, \
                 supersedes, alert_revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, 'open', $13, $14, $15, $16, $17)",
            )
            .bind(alert.alert_id.clone())
            .bind(alert.household_code.clone())
            .bind(alert.county_code.clone())
            .bind(alert.township_code.clone())
            .bind(alert.village_code.clone())
            .bind(alert.category.clone())
            .bind(alert.month.clone())
            .bind(method)
            .bind(grade)
            .bind(alert.score)
            .bind(reasons.clone())
            .bind(grader)
            .bind(alert.detected_at.clone())
            .bind(received.timestamp())
            .bind(due)
            .bind(alert.supersedes.clone())
            .bind(alert_revision)
            .execute(&mut *tx)
            .await?;
            (Applied::Created, 1, method.to_owned())
        }
        Some(row) => {
            // A later revision of the alert applies even when its content was seen before
            // (figures that went back); the same revision again is a replay.
            let newer = alert_revision > row.try_get::<i64, _>("alert_revision")?;
            // A withdrawn task raised again is open again, for the content it now carries.
            if newer && row.try_get::<String, _>("status")? == "withdrawn" {
                sqlx::query("UPDATE tasks SET status = 'open', closed_reason = NULL WHERE alert_id = $1")
                    .bind(alert.alert_id.clone())
                    .execute(&mut *tx)
                    .await?;
                audit::append(tx, "queue", "task.reopened", &alert.alert_id, &serde_json::json!({"alert_revision": alert_revision}))
                    .await?;
            }
            // Under the same revision number (queues written before alerts had revisions), any
            // content the id already carried is a replay: queues replayed from the start, or
            // two queue topics read in another order than they were written, must not turn a
            // task back to an older content.
            if !newer {
                let seen = sqlx::query("SELECT grade, score, reasons FROM task_revisions WHERE alert_id = $1")
                    .bind(alert.alert_id.clone())
                    .fetch_all(&mut *tx)
                    .await?;
                for earlier in &seen {
                    let same = earlier.try_get::<String, _>("grade")? == grade
                        && earlier.try_get::<String, _>("reasons")? == reasons
                        && (earlier.try_get::<f64, _>("score")? - alert.score).abs() < 1e-9;
                    if same {
                        return Ok(Applied::Unchanged);
                    }
                }
            }
            let revision = row.try_get::<i64, _>("revision")? + 1;
            // A higher grade may move a phone check to a door visit, and never later than before.
            let old_method: String = row.try_get("method")?;
            let old_due: String = row.try_get("due_date")?;
            let method = if method_rank(method) < method_rank(&old_method) {
                method
            } else {
                old_method.as_str()
            };
            let due = old_due.min(due);
            sqlx::query(
                "UPDATE tasks SET grade = $1, score = $2, reasons = $3, grader = $4, revision = $5, method = $6, \
                 due_date = $7, alert_revision = $8 WHERE alert_id = $9",
            )
            .bind(grade)
            .bind(alert.score)
            .bind(reasons.clone())
            .bind(grader)
            .bind(revision)
            .bind(method.to_owned())
            .bind(due)
            .bind(alert_revision)
            .bind(alert.alert_id.clone())
            .execute(&mut *tx)
            .await?;
            (Applied::Revised, revision, method.to_owned())
        }
    };
    insert_revision(tx, &alert.alert_id, revision, grade, alert.score, &reasons, received.timestamp()).await?;
    let action = if applied == Applied::Created { "task.created" } else { "task.revised" };
    let detail = serde_json::json!({"revision": revision, "grade": grade, "method": method, "month": alert.month});
    audit::append(tx, "queue", action, &alert.alert_id, &detail).await?;
    if let Some(old) = alert
        .supersedes
        .as_deref()
        .filter(|old| *old != alert.alert_id)
    {
        let reason = format!("由预警 {} 取代（新增原因或等级提高）", alert.alert_id);
        let closed = sqlx::query("UPDATE tasks SET status = 'superseded', closed_reason = $1 WHERE alert_id = $2 AND status = 'open'")
            .bind(reason)
            .bind(old.to_owned())
            .execute(&mut *tx)
            .await?;
        if closed.rows_affected() > 0 {
            audit::append(
                tx,
                "queue",
                "task.superseded",
                old,
                &serde_json::json!({"by": alert.alert_id}),
            )
            .await?;
        }
    }
    Ok(applied)
}

/// A withdrawal: the risk is gone, or another month's alert covers it. An open task closes as
/// withdrawn with the alert's reason; an answered one keeps its answer; one never seen is not
/// created.
async fn withdraw(tx: &mut AnyConnection, alert: &Alert, exists: bool) -> Result<Applied> {
    if !exists {
        return Ok(Applied::Unchanged);
    }
    let reason = alert.changes.join("; ");
    let closed = sqlx::query(
        "UPDATE tasks SET status = 'withdrawn', closed_reason = $1, alert_revision = $2 WHERE alert_id = $3 AND status = 'open'",
    )
    .bind(reason.clone())
    .bind(i64::from(alert.revision))
    .bind(alert.alert_id.clone())
    .execute(&mut *tx)
    .await?;
    if closed.rows_affected() == 0 {
        return Ok(Applied::Unchanged);
    }
    let detail = serde_json::json!({"alert_revision": alert.revision, "reason": reason});
    audit::append(tx, "queue", "task.withdrawn", &alert.alert_id, &detail).await?;
    Ok(Applied::Revised)
}

async fn insert_revision(
    tx: &mut AnyConnection,
    alert_id: &str,
    revision: i64,
    grade: &str,
    score: f64,
    reasons: &str,
    received: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO task_revisions (alert_id, revision, grade, score, reasons, received_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(alert_id.to_owned())
    .bind(revision)
    .bind(grade.to_owned())
    .bind(score)
    .bind(reasons.to_owned())
    .bind(received)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Refuses, and logs, a person reaching outside their area.
pub async fn authorize(
    store: &Store,
    account: &Account,
    household_code: &str,
    subject: &str,
) -> Result<()> {
    if account.covers(household_code) {
        return Ok(());
    }
    tracing::warn!(user = %account.username, area = %account.area_code, %subject, "access outside the account's area refused");
    let detail = serde_json::json!({"area": account.area_code});
    audit::record(store, &account.username, "access.denied", subject, &detail).await?;
    Err(CasesError::Forbidden(format!(
        "{subject} is not in your area"
    )))
}

/// Most tasks a list shows; the rest are counted, and come up as the first are answered.
pub const LIST_LIMIT: i64 = 500;

/// The account's tasks: open ones (or all with `all`), door visits first, then by score and
/// due date, at most [`LIST_LIMIT`] of them, with how many there are in all.
pub async fn list(store: &Store, account: &Account, all: bool) -> Result<(Vec<Task>, i64)> {
    let status = if all { "" } else { "AND status = 'open'" };
    let area = format!("{}%", account.area_code);
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE household_code LIKE $1 {status} \
         ORDER BY CASE method WHEN 'door_visit' THEN 0 ELSE 1 END, score DESC, due_date, alert_id LIMIT {LIST_LIMIT}"
    );
    let rows = sqlx::query(&sql).bind(area.clone()).fetch_all(store.pool()).await?;
    let count = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE household_code LIKE $1 {status}");
    let total: i64 = sqlx::query_scalar(&count).bind(area).fetch_one(store.pool()).await?;
    let today = now_china().date_naive();
    let tasks = rows.iter().map(|r| task_of(r, today)).collect::<Result<Vec<_>>>()?;
    Ok((tasks, total))
}

/// One content of an alert id.
#[derive(Debug, Serialize)]
pub struct Revision {
    pub revision: i64,
    pub grade: String,
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// A task with what the cadre needs beside it.
#[derive(Debug, Serialize)]
pub struct TaskDetail {
    pub task: Task,
    pub revisions: Vec<Revision>,
    /// The household's other tasks, newest first, with their outcomes.
    pub earlier: Vec<Task>,
    pub cases: Vec<cases::CaseSummary>,
}

async fn fetch(store: &Store, alert_id: &str) -> Result<Task> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE alert_id = $1");
    let row = sqlx::query(&sql)
        .bind(alert_id.to_owned())
        .fetch_optional(store.pool())
        .await?;
    let row = row.ok_or_else(|| CasesError::NotFound(format!("task {alert_id}")))?;
    task_of(&row, now_china().date_naive())
}

pub async fn detail(store: &Store, account: &Account, alert_id: &str) -> Result<TaskDetail> {
    let task = fetch(store, alert_id).await?;
    authorize(
        store,
        account,
        &task.household_code,
        &format!("task {alert_id}"),
    )
    .await?;
    let rows = sqlx::query("SELECT revision, grade, score, reasons FROM task_revisions WHERE alert_id = $1 ORDER BY revision")
        .bind(alert_id.to_owned())
        .fetch_all(store.pool())
        .await?;
    let mut revisions = Vec::new();
    for r in rows {
        let reasons: String = r.try_get("reasons")?;
        revisions.push(Revision {
            revision: r.try_get("revision")?,
            grade: r.try_get("grade")?,
            score: r.try_get("score")?,
            reasons: serde_json::from_str(&reasons)
                .map_err(|e| CasesError::Internal(e.to_string()))?,
        });
    }
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE household_code = $1 AND alert_id <> $2 ORDER BY received_at DESC, alert_id");
    let rows = sqlx::query(&sql)
        .bind(task.household_code.clone())
        .bind(alert_id.to_owned())
        .fetch_all(store.pool())
        .await?;
    let today = now_china().date_naive();
    let earlier = rows
        .iter()
        .map(|r| task_of(r, today))
        .collect::<Result<Vec<_>>>()?;
    let cases = cases::of_household(store, &task.household_code).await?;
    Ok(TaskDetail {
        task,
        revisions,
        earlier,
        cases,
    })
}

/// What a cadre found.
#[derive(Clone, Debug, Deserialize)]
pub struct OutcomeInput {
    pub outcome: String,
    #[serde(default)]
    pub assistance: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// The message published on `verify.outcomes`, in the contract's format.
#[derive(Debug, Serialize)]
struct OutcomeMessage<'a> {
    alert_id: &'a str,
    household_code: &'a str,
    verified_at: &'a str,
    method: &'a str,
    outcome: &'a str,
    assistance: &'a [String],
    verifier: &'a str,
}

/// What recording an outcome did.
#[derive(Debug, Serialize)]
pub struct Recorded {
    /// The case a confirmed risk opened.
    pub case_id: Option<String>,
    /// The task's queue (`verify.door_visit` or `verify.phone`).
    pub queue: &'static str,
    /// Seconds from the task's arrival to its outcome.
    pub waited_seconds: i64,
}

/// The queue topic of a task's method.
pub fn queue_of_method(method: &str) -> &'static str {
    if method == "door_visit" {
        output::DOOR_VISIT
    } else {
        output::PHONE
    }
}

/// Records an outcome, queues its message, and opens a case for a confirmed risk.
pub async fn record_outcome(
    store: &Store,
    account: &Account,
    alert_id: &str,
    input: &OutcomeInput,
    config: &CasesConfig,
) -> Result<Recorded> {
    let task = fetch(store, alert_id).await?;
    authorize(
        store,
        account,
        &task.household_code,
        &format!("task {alert_id}"),
    )
    .await?;
    if !account.role.verifies() {
        return Err(CasesError::Forbidden("只有村、乡镇干部登记核实结果".into()));
    }
    if !OUTCOMES.iter().any(|(c, _)| *c == input.outcome) {
        return Err(CasesError::Invalid(format!(
            "核实结果 {:?} 无效：应为 confirmed_risk、no_risk 或 unreachable",
            input.outcome
        )));
    }
    if let Some(bad) = input
        .assistance
        .iter()
        .find(|a| !MEASURES.iter().any(|(c, _)| c == a))
    {
        return Err(CasesError::Invalid(format!("帮扶措施 {bad:?} 无效")));
    }
    privacy::check_free_text("备注", &input.note)?;
    let verified_at = now_text();
    let assistance = serde_json::to_string(&input.assistance)
        .map_err(|e| CasesError::Internal(e.to_string()))?;
    let mut tx = store.begin().await?;
    let updated = sqlx::query(
        "UPDATE tasks SET status = 'answered', outcome = $1, assistance = $2, note = $3, verifier = $4, \
         verified_at = $5, verified_unix = $6 WHERE alert_id = $7 AND status = 'open'",
    )
    .bind(input.outcome.clone())
    .bind(assistance)
    .bind(input.note.clone())
    .bind(account.staff_number.clone())
    .bind(verified_at.clone())
    .bind(now_unix())
    .bind(alert_id.to_owned())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(CasesError::Invalid(format!(
            "任务 {alert_id} 已{}，不能再登记",
            status_label(&task.status)
        )));
    }
    let message = OutcomeMessage {
        alert_id,
        household_code: &task.household_code,
        verified_at: &verified_at,
        method: &task.method,
        outcome: &input.outcome,
        assistance: &input.assistance,
        verifier: &account.staff_number,
    };
    let payload =
        serde_json::to_string(&message).map_err(|e| CasesError::Internal(e.to_string()))?;
    outbox::enqueue(
        &mut tx,
        fangpin_connectors::Topic::Outcomes.name(),
        &task.household_code,
        &payload,
    )
    .await?;
    let detail = serde_json::json!({"outcome": input.outcome, "assistance": input.assistance, "note": input.note});
    audit::append(
        &mut tx,
        &account.username,
        "task.answered",
        alert_id,
        &detail,
    )
    .await?;
    let case = if input.outcome == "confirmed_risk" {
        let opening = cases::Opening {
            household_code: task.household_code.clone(),
            category: task.category.clone(),
            source: cases::Source::Screening,
            alert_id: Some(alert_id.to_owned()),
            note: input.note.clone(),
        };
        Some(cases::open_in(&mut tx, account, &opening, config).await?)
    } else {
        None
    };
    tx.commit().await?;
    Ok(Recorded {
        case_id: case,
        queue: queue_of_method(&task.method),
        waited_seconds: now_unix() - task.received_at,
    })
}

/// A task status's name on the pages.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "open" => "待核实",
        "answered" => "已核实",
        "superseded" => "被取代",
        "withdrawn" => "已撤回",
        _ => "未知",
    }
}
