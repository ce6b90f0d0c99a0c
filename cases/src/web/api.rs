//! The JSON API: the same operations as the pages, for the cadres' app and for tests. Log in
//! with `POST /api/login`; send the returned `csrf_token` as `X-CSRF-Token` on every write.

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{parse_action, ListQuery};
use super::session::{strict_cookie, ApiError, ApiViewer, SESSION_COOKIE};
use super::AppState;
use crate::cases::{self as case_ops, Opening};
use crate::tasks::{self, OutcomeInput};
use crate::{accounts, CasesError};

type Api<T = Json<Value>> = Result<T, ApiError>;

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Json(c): Json<Credentials>,
) -> Api<Response> {
    let Some(account) = accounts::authenticate(&state.store, &c.username, &c.password).await?
    else {
        tracing::info!(username = %c.username, "login refused");
        return Err(ApiError(CasesError::Unauthenticated));
    };
    let (token, csrf) =
        accounts::start_session(&state.store, &account, state.config.session_seconds).await?;
    let body = Json(json!({"account": account, "csrf_token": csrf}));
    Ok((jar.add(strict_cookie(SESSION_COOKIE, token)), body).into_response())
}

pub async fn logout(State(state): State<AppState>, ApiViewer(v): ApiViewer) -> Api {
    accounts::end_session(&state.store, &v.token).await?;
    Ok(Json(json!({"ok": true})))
}

pub async fn tasks(
    State(state): State<AppState>,
    ApiViewer(v): ApiViewer,
    Query(q): Query<ListQuery>,
) -> Api {
    let (list, total) = tasks::list(&state.store, &v.account, q.all.is_some()).await?;
    Ok(Json(json!({"tasks": list, "total": total})))
}

pub async fn task(
    State(state): State<AppState>,
    ApiViewer(v): ApiViewer,
    Path(alert_id): Path<String>,
) -> Api {
    let detail = tasks::detail(&state.store, &v.account, &alert_id).await?;
    Ok(Json(
        serde_json::to_value(detail).map_err(|e| CasesError::Internal(e.to_string()))?,
    ))
}

pub async fn outcome(
    State(state): State<AppState>,
    ApiViewer(v): ApiViewer,
    Path(alert_id): Path<String>,
    Json(input): Json<OutcomeInput>,
) -> Api {
    let recorded =
        tasks::record_outcome(&state.store, &v.account, &alert_id, &input, &state.config).await?;
    state.metrics.observe_outcome(&recorded, &input.outcome);
    Ok(Json(json!({"case_id": recorded.case_id})))
}

pub async fn cases(State(state): State<AppState>, ApiViewer(v): ApiViewer) -> Api {
    Ok(Json(
        json!({"cases": case_ops::list(&state.store, &v.account).await?}),
    ))
}

pub async fn open_case(
    State(state): State<AppState>,
    ApiViewer(v): ApiViewer,
    Json(opening): Json<Opening>,
) -> Api {
    let id = case_ops::open(&state.store, &v.account, &opening, &state.config).await?;
    Ok(Json(json!({"case_id": id})))
}

pub async fn case(
    State(state): State<AppState>,
    ApiViewer(v): ApiViewer,
    Path(case_id): Path<String>,
) -> Api {
    let detail = case_ops::detail(&state.store, &v.account, &case_id, &state.config).await?;
    Ok(Json(
        serde_json::to_value(detail).map_err(|e| CasesError::Internal(e.to_string()))?,
    ))
}

#[derive(Deserialize)]
pub struct StepRequest {
    action: String,
    #[serde(default)]
    note: String,
}

pub async fn step(
    State(state): State<AppState>,
    ApiViewer(v): ApiViewer,
    Path(case_id): Path<String>,
    Json(r): Json<StepRequest>,
) -> Api {
    let action = parse_action(&r.action)?;
    let next = case_ops::act(
        &state.store,
        &v.account,
        &case_id,
        action,
        &r.note,
        &state.config,
    )
    .await?;
    Ok(Json(json!({"step": next.code()})))
}

/// Prometheus text format; the gauges are read from the store at each scrape.
pub async fn metrics(State(state): State<AppState>) -> Api<Response> {
    state.metrics.refresh(&state.store).await?;
    let body = state.metrics.render()?;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
