//! The cadres' web service: HTML pages for phone browsers and a JSON API over the same
//! operations, with the queues read and the outcomes published in the background.
//!
//! - `session`: who is asking (session cookie), CSRF tokens, and how errors become responses.
//! - `pages`: server-rendered pages (minijinja templates in `cases/templates/`).
//! - `api`: the JSON API.

mod api;
mod pages;
mod session;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use fangpin_connectors::Sink;
use sqlx::Row;

use crate::config::CasesConfig;
use crate::metrics::CasesMetrics;
use crate::store::Store;
use crate::{ingest, outbox, CasesError, Result};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<CasesConfig>,
    pub metrics: CasesMetrics,
    templates: Arc<minijinja::Environment<'static>>,
}

/// Where the service reads alerts.
pub enum Queues {
    /// Nowhere (tasks come from elsewhere, e.g. `fangpin cases ingest`).
    None,
    /// A directory holding `verify.door_visit.ndjson` and `verify.phone.ndjson`.
    Dir(PathBuf),
    /// The queue topics of a Kafka cluster.
    #[cfg(feature = "kafka")]
    Kafka(crate::kafka_queues::KafkaQueues),
}

/// Where the service reads alerts and writes outcomes.
pub struct Wiring {
    pub queues: Queues,
    /// Where `verify.outcomes` messages go.
    pub outcomes: Box<dyn Sink + Send>,
}

/// Area names by code, read from the store once at start.
async fn area_names(store: &Store) -> Result<HashMap<String, String>> {
    let rows = sqlx::query("SELECT code, name FROM areas")
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect()
}

/// The routes, on a state built from the store.
pub async fn router(store: Store, config: CasesConfig, metrics: CasesMetrics) -> Result<Router> {
    config.validate()?;
    let names = area_names(&store).await?;
    let templates = Arc::new(pages::templates(names)?);
    let state = AppState {
        store,
        config: Arc::new(config),
        metrics,
        templates,
    };
    Ok(Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/tasks", get(pages::tasks))
        .route("/tasks/{alert_id}", get(pages::task))
        .route("/tasks/{alert_id}/outcome", post(pages::outcome))
        .route("/cases", get(pages::cases).post(pages::open_case))
        .route("/cases/new", get(pages::new_case))
        .route("/cases/{case_id}", get(pages::case))
        .route("/cases/{case_id}/step", post(pages::step))
        .route("/cases/{case_id}/measure", post(pages::measure))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/tasks", get(api::tasks))
        .route("/api/tasks/{alert_id}", get(api::task))
        .route("/api/tasks/{alert_id}/outcome", post(api::outcome))
        .route("/api/cases", get(api::cases).post(api::open_case))
        .route("/api/cases/{case_id}", get(api::case))
        .route("/api/cases/{case_id}/step", post(api::step))
        .route("/metrics", get(api::metrics))
        .route("/health", get(|| async { "ok" }))
        .with_state(state))
}

/// Reads the queues and publishes outcomes every `poll_ms`, until the service stops. A failed
/// round is logged and retried at the next: a missing file or a busy database must not stop
/// the pages.
pub async fn background(store: Store, config: CasesConfig, mut wiring: Wiring) {
    let mut tick = tokio::time::interval(Duration::from_millis(config.poll_ms));
    loop {
        tick.tick().await;
        if let Err(e) = round(&store, &config, &mut wiring.queues, wiring.outcomes.as_mut()).await {
            tracing::warn!(error = %e, "reading the queues or publishing outcomes failed; retrying");
        }
    }
}

/// One round of the background work: new alerts in, pending outcomes out.
pub async fn round(
    store: &Store,
    config: &CasesConfig,
    queues: &mut Queues,
    sink: &mut (dyn Sink + Send),
) -> Result<()> {
    let n = match queues {
        Queues::None => ingest::Ingested::default(),
        Queues::Dir(dir) => ingest::read_queues(store, dir, config).await?,
        #[cfg(feature = "kafka")]
        Queues::Kafka(consumer) => consumer.read(store, config).await?,
    };
    if n.created + n.revised + n.rejected > 0 {
        tracing::info!(created = n.created, revised = n.revised, rejected = n.rejected, "queues read");
    }
    let sent = outbox::publish(store, sink).await?;
    if sent > 0 {
        tracing::info!(sent, "outcomes published");
    }
    Ok(())
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    config: CasesConfig,
    wiring: Wiring,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let metrics = CasesMetrics::new();
    let app = router(store.clone(), config.clone(), metrics).await?;
    let worker = tokio::spawn(background(store, config, wiring));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    worker.abort();
    served.map_err(|e| CasesError::Config(format!("the web server stopped: {e}")))
}
