//! The routes. Every one is a GET (HEAD answers alike); the guard in front
//! of them refuses a foreign `Host` (403) and every other method (405)
//! before any route runs, and stamps the security headers on every answer.
//! There is no static file serving: a path that is not a route is a 404,
//! whatever it names under the store.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::{Stream, StreamExt};

use crate::guard::HostRule;
use crate::live::{Frame, Live};
use crate::view::{self, PoolQuery};

/// The page and its assets, embedded: the dashboard works offline and
/// loads nothing from elsewhere.
const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const FAVICON: &str = include_str!("../assets/favicon.svg");

/// Only the page's own scripts, styles and connections; no frames, no
/// forms, no base URL.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What every route reads from.
pub struct App {
    pub store: ledger::Store,
    pub live: Live,
    pub hosts: HostRule,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/assets/app.js", get(|| asset("text/javascript", APP_JS)))
        .route("/assets/app.css", get(|| asset("text/css", APP_CSS)))
        .route("/favicon.svg", get(|| asset("image/svg+xml", FAVICON)))
        .route("/api/health", get(health))
        .route("/api/snapshot", get(snapshot))
        .route("/api/events", get(events))
        .route("/api/tasks", get(task_pool))
        .route("/api/tasks/{task_id}", get(task))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .with_state(app)
}

/// Host check, then the read-only rule, then the route; headers on every
/// answer.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let mut res = if !app.hosts.allows(host) {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            "this dashboard answers only to the address it serves (Host header refused)",
        )
        .into_response()
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the dashboard is read-only: only GET and HEAD are answered",
        )
        .into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        r
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

async fn index() -> Response {
    asset("text/html", INDEX_HTML).await
}

async fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{kind}; charset=utf-8")) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

async fn health(State(app): State<Arc<App>>) -> Response {
    json(&view::health(&app.store))
}

async fn snapshot(State(app): State<Arc<App>>) -> Response {
    blocking(&app, view::Snapshot::read).await
}

async fn task_pool(
    State(app): State<Arc<App>>,
    q: Result<Query<PoolQuery>, QueryRejection>,
) -> Response {
    match q {
        Ok(Query(q)) => blocking(&app, move |s| view::task_pool(s, &q)).await,
        Err(e) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_argument", e.body_text())
            .into_response(),
    }
}

async fn task(State(app): State<Arc<App>>, Path(task_id): Path<String>) -> Response {
    blocking(&app, move |s| view::task(s, &task_id)).await
}

/// Server-Sent Events: `snapshot` events (a snapshot as JSON) or `store_error`
/// events (why the store could not be read), the first at once.
async fn events(State(app): State<Arc<App>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before the first read, so a change during it is not missed.
    let mut rx = app.live.subscribe();
    rx.borrow_and_update();
    let store = app.store.clone();
    let first = tokio::task::spawn_blocking(move || Frame::read(&store))
        .await
        .unwrap_or_else(|e| Frame::Error(ApiError::internal(e.to_string()).body().into()));
    let first = event(first).retry(Duration::from_secs(1));
    let rest = WatchStream::from_changes(rx).filter_map(|f| f.map(event));
    Sse::new(tokio_stream::once(first).chain(rest).map(Ok)).keep_alive(KeepAlive::default())
}

fn event(f: Frame) -> Event {
    match f {
        Frame::Snapshot(json) => Event::default().event("snapshot").data(&*json),
        Frame::Error(json) => Event::default().event("store_error").data(&*json),
    }
}

/// Run a ledger read on a blocking thread (it takes the store's shared
/// lock and reads files) and answer its result as JSON.
async fn blocking<T, F>(app: &App, f: F) -> Response
where
    T: Serialize + Send + 'static,
    F: FnOnce(&ledger::Store) -> ledger::Result<T> + Send + 'static,
{
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(Ok(v)) => json(&v),
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// Pretty JSON and a newline, as the reference answered.
fn json<T: Serialize>(v: &T) -> Response {
    match serde_json::to_string_pretty(v) {
        Ok(mut s) => {
            s.push('\n');
            let mut r = s.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r
        }
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// A refusal or failure: `{"error": code, "message": text}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "admin_server_error",
            message,
        )
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error: self.code,
            message: &self.message,
        })
        .unwrap_or_else(|_| format!("{{\"error\":\"{}\"}}", self.code))
    }
}

impl From<ledger::Error> for ApiError {
    fn from(e: ledger::Error) -> ApiError {
        let status = match &e {
            ledger::Error::NotFound { .. } => StatusCode::NOT_FOUND,
            ledger::Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = match status {
            StatusCode::INTERNAL_SERVER_ERROR => "admin_server_error",
            _ => e.code(),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.body();
        body.push('\n');
        let mut r = (self.status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r
    }
}
