//! The HTTP routes: the page, the JSON API and the event stream of frames.
//!
//! | route | does |
//! |---|---|
//! | `GET /`, `GET /assets/{name}` | the page and its files |
//! | `GET /api/limits` | the server's caps |
//! | `POST /api/sessions` (a [`Config`]) | a new session → 201 and its state |
//! | `GET /api/sessions/{id}` | configuration, points, epoch, losses |
//! | `PUT /api/sessions/{id}/config` (a [`Config`]) | reconfigure → state |
//! | `PUT /api/sessions/{id}/data` (`{problem, points: [[x1, x2, target], ...]}`) | upload points → state |
//! | `POST /api/sessions/{id}/{play,pause,reset,regenerate}` | → state |
//! | `POST /api/sessions/{id}/step?epochs=N` | train N epochs (default 1) → state |
//! | `GET /api/sessions/{id}/frame` | one [`crate::frame::Frame`] |
//! | `GET /api/sessions/{id}/events` | server-sent events `frame`, one per frame |
//! | `GET /api/sessions/{id}/checkpoint` | the weights as a safetensors download |
//! | `DELETE /api/sessions/{id}` | end the session → 204 |
//!
//! Errors are `{"error": "..."}` with 400 (bad input, or a `step` over the per-request
//! budget), 404, 408 (a body not sent in time), 413 (body too large), 429 (the session's
//! training budget is spent) or 503 (session or connection cap).

use crate::assets;
use crate::config::{Config, Problem};
use crate::error::error_body;
use crate::json::ApiJson;
use crate::session::Session;
use crate::sessions::{start_trainer, Handle, Sessions};
use crate::{Error, Result};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;

type App = Arc<Sessions>;

/// The router serving the page and the API over `sessions`.
pub fn router(sessions: Arc<Sessions>) -> Router {
    let body_limit = sessions.limits().max_body_bytes;
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{name}", get(assets::file))
        .route("/api/limits", get(limits))
        .route("/api/sessions", post(create))
        .route("/api/sessions/{id}", get(state).delete(remove))
        .route("/api/sessions/{id}/config", put(configure))
        .route("/api/sessions/{id}/data", put(upload))
        .route("/api/sessions/{id}/play", post(play))
        .route("/api/sessions/{id}/pause", post(pause))
        .route("/api/sessions/{id}/reset", post(reset))
        .route("/api/sessions/{id}/regenerate", post(regenerate))
        .route("/api/sessions/{id}/step", post(step))
        .route("/api/sessions/{id}/frame", get(frame))
        .route("/api/sessions/{id}/events", get(events))
        .route("/api/sessions/{id}/checkpoint", get(checkpoint))
        .fallback(|| async { error_body(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(sessions.limits().clone()),
            crate::server::body_deadline,
        ))
        .with_state(sessions)
}

/// Runs `f` on the session `id` on the blocking pool (training and rendering are CPU
/// work), publishes a new frame, starts the trainer if the session plays, and answers with
/// the state.
async fn with_session(
    app: &App,
    id: &str,
    f: impl FnOnce(&mut Session, &Sessions) -> Result<()> + Send + 'static,
) -> Result<Json<Value>> {
    let handle = app.get(id)?;
    let (h, app2) = (handle.clone(), app.clone());
    let (value, playing) = blocking(move || -> Result<(Value, bool)> {
        let mut s = h.lock();
        f(&mut s, &app2)?;
        h.publish(&s)?;
        Ok((state_json(&s), s.playing))
    })
    .await?;
    if playing {
        start_trainer(handle, app.limits());
    }
    Ok(Json(value))
}

/// Runs CPU work `f` on the blocking pool; a panic in it is an internal error (500).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("a worker stopped: {e}")))?
}

fn state_json(s: &Session) -> Value {
    serde_json::to_value(s.state()).expect("a State always serializes")
}

async fn limits(State(app): State<App>) -> Json<Value> {
    Json(serde_json::to_value(app.limits()).expect("Limits always serialize"))
}

async fn create(State(app): State<App>, ApiJson(cfg): ApiJson<Config>) -> Result<Response> {
    let app2 = app.clone();
    let value = blocking(move || {
        let handle: Arc<Handle> = app2.create(cfg)?;
        let value = state_json(&handle.lock());
        Ok(value)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

/// The session's state. Read on the blocking pool: a long `step` may hold the session.
async fn state(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>> {
    let handle = app.get(&id)?;
    let value = blocking(move || Ok(state_json(&handle.lock()))).await?;
    Ok(Json(value))
}

async fn remove(State(app): State<App>, Path(id): Path<String>) -> Result<StatusCode> {
    app.remove(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn configure(
    State(app): State<App>,
    Path(id): Path<String>,
    ApiJson(cfg): ApiJson<Config>,
) -> Result<Json<Value>> {
    with_session(&app, &id, move |s, app| s.configure(cfg, app.limits())).await
}

/// The body of `PUT /api/sessions/{id}/data`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    problem: Problem,
    points: Vec<[f64; 3]>,
}

async fn upload(
    State(app): State<App>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Upload>,
) -> Result<Json<Value>> {
    with_session(&app, &id, move |s, app| {
        s.upload(&body.points, body.problem, app.limits())
    })
    .await
}

async fn play(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>> {
    with_session(&app, &id, |s, _| {
        s.playing = true;
        Ok(())
    })
    .await
}

async fn pause(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>> {
    with_session(&app, &id, |s, _| {
        s.playing = false;
        Ok(())
    })
    .await
}

async fn reset(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>> {
    with_session(&app, &id, |s, _| s.reset()).await
}

async fn regenerate(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>> {
    with_session(&app, &id, |s, app| s.regenerate(app.limits())).await
}

/// The query of `POST /api/sessions/{id}/step`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepQuery {
    #[serde(default = "one")]
    epochs: usize,
}

fn one() -> usize {
    1
}

async fn step(
    State(app): State<App>,
    Path(id): Path<String>,
    query: std::result::Result<Query<StepQuery>, QueryRejection>,
) -> Result<Json<Value>> {
    let Query(q) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    let max = app.limits().max_step_epochs;
    if q.epochs == 0 || q.epochs > max {
        return Err(Error::invalid(
            "epochs",
            format!("must be in [1, {max}], got {}", q.epochs),
        ));
    }
    let handle = app.get(&id)?;
    with_session(&app, &id, move |s, app| {
        let examples = q.epochs.saturating_mul(s.train_len());
        let max = app.limits().max_step_examples;
        if examples > max {
            return Err(Error::invalid(
                "epochs",
                format!(
                    "{} epochs of {} training points are {examples} examples, over the limit of \
                     {max} per step request (the server's max_step_examples); ask for at most {} epochs",
                    q.epochs,
                    s.train_len(),
                    max / s.train_len().max(1)
                ),
            ));
        }
        handle.spend(examples)?;
        s.train_epochs(q.epochs)
    })
    .await
}

async fn frame(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    let handle = app.get(&id)?;
    let json = blocking(move || -> Result<String> {
        let frame = crate::frame::render(&handle.lock())?;
        Ok(serde_json::to_string(&frame).expect("a Frame always serializes"))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// Server-sent events: `event: frame` with a [`crate::frame::Frame`] as data, the current
/// one at once and then one per published frame; the stream ends with the session.
async fn events(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let rx = app.get(&id)?.subscribe();
    let frames = stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let data = rx.borrow_and_update().clone();
        Some((Ok(Event::default().event("frame").data(&*data)), rx))
    });
    Ok(Sse::new(frames).keep_alive(KeepAlive::default()))
}

async fn checkpoint(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    let handle = app.get(&id)?;
    let bytes = blocking(move || handle.lock().checkpoint()).await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"nabla-playground.safetensors\""),
    );
    Ok(res)
}
