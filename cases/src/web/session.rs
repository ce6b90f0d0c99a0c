//! Who is asking, and what a refusal looks like. The session cookie holds a random token
//! (HttpOnly, SameSite=Strict); the store keeps its hash. Every form carries the session's
//! CSRF token and every API write its `X-CSRF-Token` header; both are checked before anything
//! is changed.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::accounts::{self, Account};
use crate::CasesError;

pub const SESSION_COOKIE: &str = "fangpin_session";
pub const LOGIN_CSRF_COOKIE: &str = "fangpin_login_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A logged-in person.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub account: Account,
    pub csrf: String,
    pub token: String,
}

impl Viewer {
    /// Refuses a write whose token is not the session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), CasesError> {
        if constant_time_eq(given.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(CasesError::Csrf)
        }
    }
}

/// Equal bytes, compared in constant time (a token must not leak through response timing).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A cookie only this site's pages send back.
pub fn strict_cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .build()
}

async fn viewer(parts: &Parts, state: &AppState) -> Result<Viewer, CasesError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let token = jar
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(CasesError::Unauthenticated)?;
    let (account, csrf) = accounts::session(&state.store, &token)
        .await?
        .ok_or(CasesError::Unauthenticated)?;
    Ok(Viewer {
        account,
        csrf,
        token,
    })
}

/// A viewer for pages: without a session, a redirect to the login page.
pub struct PageViewer(pub Viewer);

impl FromRequestParts<AppState> for PageViewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match viewer(parts, state).await {
            Ok(v) => Ok(PageViewer(v)),
            Err(CasesError::Unauthenticated) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(PageError::new(state, e).into_response()),
        }
    }
}

/// A viewer for the API: without a session, 401.
pub struct ApiViewer(pub Viewer);

impl FromRequestParts<AppState> for ApiViewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let v = viewer(parts, state).await?;
        if parts.method != axum::http::Method::GET {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            v.check_csrf(given)?;
        }
        Ok(ApiViewer(v))
    }
}

fn status_of(e: &CasesError) -> StatusCode {
    match e {
        CasesError::Invalid(_) => StatusCode::BAD_REQUEST,
        CasesError::NotFound(_) => StatusCode::NOT_FOUND,
        CasesError::Forbidden(_) | CasesError::Csrf => StatusCode::FORBIDDEN,
        CasesError::Unauthenticated => StatusCode::UNAUTHORIZED,
        CasesError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
        CasesError::Config(_) | CasesError::Io { .. } | CasesError::Internal(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// What a person is told; server-side failures are logged in full and shown briefly.
fn public_message(e: &CasesError) -> String {
    match e {
        CasesError::Invalid(m) => m.clone(),
        CasesError::NotFound(_) => "没有找到".into(),
        CasesError::Forbidden(_) => "无权访问：不属于您负责的区域或岗位".into(),
        CasesError::Csrf => "页面已过期，请刷新后重试".into(),
        CasesError::Unauthenticated => "请先登录".into(),
        other => {
            tracing::error!(error = %other, "request failed");
            "服务暂时不可用，请稍后再试".into()
        }
    }
}

/// An error as a JSON body `{"error": ...}` with its status.
#[derive(Debug)]
pub struct ApiError(pub CasesError);

impl From<CasesError> for ApiError {
    fn from(e: CasesError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": public_message(&self.0)});
        (status_of(&self.0), Json(body)).into_response()
    }
}

/// An error as a page with its status.
pub struct PageError {
    status: StatusCode,
    body: String,
}

impl PageError {
    pub fn new(state: &AppState, e: CasesError) -> PageError {
        let status = status_of(&e);
        let message = public_message(&e);
        let body = super::pages::render(
            state,
            "error.html",
            minijinja::context! { message, status => status.as_u16() },
        )
        .unwrap_or_else(|_| message.clone());
        PageError { status, body }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (self.status, Html(self.body)).into_response()
    }
}
