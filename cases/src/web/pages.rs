//! Server-rendered pages, in Chinese, for phone browsers. Every form posts the session's CSRF
//! token; a refused write re-renders nothing and shows why.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::CookieJar;
use minijinja::{context, Environment, Value};
use serde::Deserialize;

use super::session::{strict_cookie, PageError, PageViewer, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use super::AppState;
use crate::accounts::{self, Role};
use crate::cases::{self as case_ops, Opening, Source};
use crate::procedure::Action;
use crate::tasks::{self, OutcomeInput, MEASURES, OUTCOMES};
use crate::{CasesError, Result};

const CATEGORIES: [(&str, &str); 5] = [
    ("stable_alleviated", "稳定脱贫户"),
    ("unstable_alleviated", "脱贫不稳定户"),
    ("marginal", "边缘易致贫户"),
    ("sudden_difficulty", "突发严重困难户"),
    ("general", "一般农户"),
];

fn lookup(table: &[(&'static str, &'static str)], code: &str) -> String {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| code.to_owned(), |(_, l)| (*l).to_owned())
}

/// A code's name on the pages.
fn label(kind: &str, code: &str) -> String {
    match kind {
        "grade" => lookup(
            &[("high", "高风险"), ("medium", "中风险"), ("low", "低风险")],
            code,
        ),
        "method" => lookup(&[("door_visit", "入户核实"), ("phone", "电话核实")], code),
        "status" => tasks::status_label(code).to_owned(),
        "outcome" => lookup(&OUTCOMES, code),
        "measure" => lookup(&MEASURES, code),
        "category" => lookup(&CATEGORIES, code),
        "role" => Role::parse(code).map_or_else(|| code.to_owned(), |r| r.label().to_owned()),
        "action" => lookup(
            &[
                ("opened", "立案"),
                ("approved", "通过"),
                ("rejected", "驳回"),
            ],
            code,
        ),
        _ => code.to_owned(),
    }
}

/// The templates, with `area(code)` giving an area's name and `label(kind, code)` a code's.
pub fn templates(areas: HashMap<String, String>) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    let files = [
        ("base.html", include_str!("../../templates/base.html")),
        ("login.html", include_str!("../../templates/login.html")),
        ("tasks.html", include_str!("../../templates/tasks.html")),
        ("task.html", include_str!("../../templates/task.html")),
        ("cases.html", include_str!("../../templates/cases.html")),
        ("case.html", include_str!("../../templates/case.html")),
        (
            "case_new.html",
            include_str!("../../templates/case_new.html"),
        ),
        ("error.html", include_str!("../../templates/error.html")),
    ];
    for (name, source) in files {
        env.add_template(name, source)
            .map_err(|e| CasesError::Internal(format!("template {name}: {e}")))?;
    }
    env.add_function("area", move |code: String| {
        areas.get(&code).cloned().unwrap_or(code)
    });
    // `2026-12-01T10:20:00+08:00` → `2026-12-01 10:20` (times are all China time).
    env.add_filter("when", |t: String| {
        t.get(..16).map_or(t.clone(), |s| s.replace('T', " "))
    });
    env.add_function("label", |kind: String, code: String| label(&kind, &code));
    env.add_global("measures", Value::from_serialize(MEASURES));
    env.add_global("outcomes", Value::from_serialize(OUTCOMES));
    Ok(env)
}

pub fn render(state: &AppState, name: &str, ctx: Value) -> Result<String> {
    let template = state
        .templates
        .get_template(name)
        .map_err(|e| CasesError::Internal(e.to_string()))?;
    template
        .render(ctx)
        .map_err(|e| CasesError::Internal(format!("rendering {name}: {e}")))
}

type Page = std::result::Result<Response, PageError>;

/// Renders a page for a logged-in viewer; the layout shows who they are.
fn page(state: &AppState, viewer: &super::session::Viewer, name: &str, ctx: Value) -> Page {
    let me = context! {
        name => viewer.account.display_name,
        role => viewer.account.role.code(),
        area => viewer.account.area_code,
        csrf => viewer.csrf,
    };
    let ctx = context! { me, ..ctx };
    render(state, name, ctx)
        .map(|b| Html(b).into_response())
        .map_err(|e| PageError::new(state, e))
}

pub async fn home() -> Redirect {
    Redirect::to("/tasks")
}

pub async fn login_form(State(state): State<AppState>, jar: CookieJar) -> Page {
    let csrf = accounts::random_token();
    let body = render(
        &state,
        "login.html",
        context! { csrf, error => Value::UNDEFINED },
    )
    .map_err(|e| PageError::new(&state, e))?;
    Ok((jar.add(strict_cookie(LOGIN_CSRF_COOKIE, csrf)), Html(body)).into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Page {
    let fail = |e| PageError::new(&state, e);
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty()
        || !super::session::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes())
    {
        return Err(fail(CasesError::Csrf));
    }
    match accounts::authenticate(&state.store, &form.username, &form.password)
        .await
        .map_err(fail)?
    {
        Some(account) => {
            let (token, _) =
                accounts::start_session(&state.store, &account, state.config.session_seconds)
                    .await
                    .map_err(fail)?;
            let jar = jar
                .remove(LOGIN_CSRF_COOKIE)
                .add(strict_cookie(SESSION_COOKIE, token));
            let target = if account.role.verifies() {
                "/tasks"
            } else {
                "/cases"
            };
            Ok((jar, Redirect::to(target)).into_response())
        }
        None => {
            tracing::info!(username = %form.username, "login refused");
            let csrf = accounts::random_token();
            let body = render(
                &state,
                "login.html",
                context! { csrf, error => "用户名或密码不正确" },
            )
            .map_err(fail)?;
            let jar = jar.add(strict_cookie(LOGIN_CSRF_COOKIE, csrf));
            Ok((axum::http::StatusCode::UNAUTHORIZED, jar, Html(body)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Page {
    let fail = |e| PageError::new(&state, e);
    v.check_csrf(&form.csrf).map_err(fail)?;
    accounts::end_session(&state.store, &v.token)
        .await
        .map_err(fail)?;
    Ok((jar.remove(SESSION_COOKIE), Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// Present: every task, answered and closed ones too.
    #[serde(default)]
    pub all: Option<String>,
}

pub async fn tasks(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Query(q): Query<ListQuery>,
) -> Page {
    let all = q.all.is_some();
    let (list, total) = tasks::list(&state.store, &v.account, all)
        .await
        .map_err(|e| PageError::new(&state, e))?;
    page(&state, &v, "tasks.html", context! { tasks => list, total, all })
}

pub async fn task(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(alert_id): Path<String>,
) -> Page {
    let detail = tasks::detail(&state.store, &v.account, &alert_id)
        .await
        .map_err(|e| PageError::new(&state, e))?;
    let may_answer = v.account.role.verifies() && detail.task.status == "open";
    page(
        &state,
        &v,
        "task.html",
        context! { d => detail, may_answer },
    )
}

/// The outcome form: `outcome`, one `assistance` field per ticked measure, `note`, `csrf`.
pub async fn outcome(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(alert_id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let fail = |e| PageError::new(&state, e);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    v.check_csrf(&get("csrf")).map_err(fail)?;
    let input = OutcomeInput {
        outcome: get("outcome"),
        assistance: fields
            .iter()
            .filter(|(n, _)| n == "assistance")
            .map(|(_, v)| v.clone())
            .collect(),
        note: get("note"),
    };
    let recorded =
        tasks::record_outcome(&state.store, &v.account, &alert_id, &input, &state.config)
            .await
            .map_err(fail)?;
    state.metrics.observe_outcome(&recorded, &input.outcome);
    let target = match &recorded.case_id {
        Some(case) => format!("/cases/{case}"),
        None => format!("/tasks/{alert_id}"),
    };
    Ok(Redirect::to(&target).into_response())
}

pub async fn cases(State(state): State<AppState>, PageViewer(v): PageViewer) -> Page {
    let list = case_ops::list(&state.store, &v.account)
        .await
        .map_err(|e| PageError::new(&state, e))?;
    page(&state, &v, "cases.html", context! { cases => list })
}

pub async fn new_case(State(state): State<AppState>, PageViewer(v): PageViewer) -> Page {
    page(&state, &v, "case_new.html", context! {})
}

#[derive(Deserialize)]
pub struct OpenForm {
    household_code: String,
    source: String,
    #[serde(default)]
    note: String,
    csrf: String,
}

pub async fn open_case(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Form(form): Form<OpenForm>,
) -> Page {
    let fail = |e| PageError::new(&state, e);
    v.check_csrf(&form.csrf).map_err(fail)?;
    let source = Source::parse(&form.source)
        .ok_or_else(|| fail(CasesError::Invalid("请选择风险来源".into())))?;
    let opening = Opening {
        household_code: form.household_code.trim().to_owned(),
        category: String::new(),
        source,
        alert_id: None,
        note: form.note,
    };
    let id = case_ops::open(&state.store, &v.account, &opening, &state.config)
        .await
        .map_err(fail)?;
    Ok(Redirect::to(&format!("/cases/{id}")).into_response())
}

pub async fn case(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(case_id): Path<String>,
) -> Page {
    let detail = case_ops::detail(&state.store, &v.account, &case_id, &state.config)
        .await
        .map_err(|e| PageError::new(&state, e))?;
    page(&state, &v, "case.html", context! { d => detail })
}

#[derive(Deserialize)]
pub struct StepForm {
    action: String,
    #[serde(default)]
    note: String,
    csrf: String,
}

pub fn parse_action(action: &str) -> Result<Action> {
    match action {
        "approve" => Ok(Action::Approve),
        "reject" => Ok(Action::Reject),
        other => Err(CasesError::Invalid(format!("未知操作 {other:?}"))),
    }
}

pub async fn step(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(case_id): Path<String>,
    Form(form): Form<StepForm>,
) -> Page {
    let fail = |e| PageError::new(&state, e);
    v.check_csrf(&form.csrf).map_err(fail)?;
    let action = parse_action(&form.action).map_err(fail)?;
    case_ops::act(
        &state.store,
        &v.account,
        &case_id,
        action,
        &form.note,
        &state.config,
    )
    .await
    .map_err(fail)?;
    Ok(Redirect::to(&format!("/cases/{case_id}")).into_response())
}

#[derive(Deserialize)]
pub struct MeasureForm {
    measure: String,
    #[serde(default)]
    note: String,
    csrf: String,
}

pub async fn measure(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(case_id): Path<String>,
    Form(form): Form<MeasureForm>,
) -> Page {
    let fail = |e| PageError::new(&state, e);
    v.check_csrf(&form.csrf).map_err(fail)?;
    case_ops::add_measure(
        &state.store,
        &v.account,
        &case_id,
        &form.measure,
        &form.note,
    )
    .await
    .map_err(fail)?;
    Ok(Redirect::to(&format!("/cases/{case_id}")).into_response())
}
