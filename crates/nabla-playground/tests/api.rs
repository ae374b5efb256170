//! The JSON API through the router (no socket): sessions, configuration, training, frames,
//! the event stream, downloads, and every kind of bad request answered with 400 and a
//! message while the server goes on serving.

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use futures_util::StreamExt;
use nabla_playground::{api, Limits, Sessions};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

fn app(limits: Limits) -> Router {
    api::router(Arc::new(Sessions::new(limits)))
}

/// Sends a request; `body` is sent as JSON when given. Returns the status, the headers and
/// the body.
async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap().to_vec();
    (parts.status, parts.headers, bytes)
}

async fn json_of(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let (status, _, bytes) = send(app, method, uri, body).await;
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

async fn create(app: &Router, cfg: Value) -> String {
    let (status, state) = json_of(app, Method::POST, "/api/sessions", Some(&cfg.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{state}");
    state["id"].as_str().unwrap().to_string()
}

/// `POST /api/sessions/{id}/{action}`; returns the state.
async fn post(app: &Router, id: &str, action: &str) -> Value {
    let (status, state) = json_of(
        app,
        Method::POST,
        &format!("/api/sessions/{id}/{action}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{action}: {state}");
    state
}

/// The error message of a 400 answer.
async fn bad_request(app: &Router, method: Method, uri: &str, body: Option<&str>) -> String {
    let (status, value) = json_of(app, method, uri, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body:?}: {value}");
    value["error"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn create_configure_step_and_read_state() {
    let app = app(Limits::default());
    let id = create(&app, json!({})).await;
    let base = format!("/api/sessions/{id}");

    let (status, state) = json_of(&app, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["epoch"], 0);
    assert_eq!(state["config"]["dataset"], "circle");
    let train = state["data"]["train"]["xy"].as_array().unwrap().len();
    let test = state["data"]["test"]["xy"].as_array().unwrap().len();
    assert_eq!((train, test), (250, 250));

    let cfg = json!({"dataset": "xor", "hidden": [3], "train_ratio": 80, "learning_rate": 0.1,
                     "features": ["x1", "x2", "x1x2"], "optimizer": "adam"});
    let (status, state) = json_of(
        &app,
        Method::PUT,
        &format!("{base}/config"),
        Some(&cfg.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["config"]["hidden"], json!([3]));
    assert_eq!(state["data"]["train"]["xy"].as_array().unwrap().len(), 400);

    let (_, state) = json_of(&app, Method::POST, &format!("{base}/step?epochs=20"), None).await;
    assert_eq!(state["epoch"], 20);
    // x1·x2 alone separates xor: the network has learned it by now.
    assert!(state["test_loss"].as_f64().unwrap() < 0.1, "{state}");
    let (_, state) = json_of(&app, Method::POST, &format!("{base}/step"), None).await;
    assert_eq!(state["epoch"], 21);

    let (status, frame) = json_of(&app, Method::GET, &format!("{base}/frame"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(frame["epoch"], 21);
    assert_eq!(frame["neurons"].as_array().unwrap().len(), 1);
    assert_eq!(frame["neurons"][0].as_array().unwrap().len(), 3);
    assert_eq!(frame["weights"][0].as_array().unwrap().len(), 9);

    let state = post(&app, &id, "reset").await;
    assert_eq!(state["epoch"], 0);
    let state = post(&app, &id, "regenerate").await;
    assert_eq!(state["config"]["seed"], 2);

    let (status, _, _) = send(&app, Method::DELETE, &base, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = json_of(&app, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_inputs_get_400_with_a_message_and_the_server_keeps_serving() {
    let app = app(Limits::default());
    let id = create(&app, json!({})).await;
    let cfg_uri = format!("/api/sessions/{id}/config");
    let cases: &[(&str, &str)] = &[
        ("{\"hidden\": [4,", "EOF"),
        ("[1, 2]", "expected value"),
        ("{\"hidden\": \"four\"}", "invalid type"),
        ("{\"hiden\": [2]}", "unknown field"),
        ("{\"activation\": \"swish\"}", "unknown variant"),
        ("{\"hidden\": [4, 9]}", "layer 1 has 9 neurons"),
        (
            "{\"hidden\": [1, 1, 1, 1, 1, 1, 1]}",
            "at most 6 hidden layers",
        ),
        ("{\"learning_rate\": 100}", "learning_rate"),
        ("{\"num_points\": 1000000}", "num_points"),
        ("{\"batch_size\": -3}", "invalid value"),
        ("{\"noise\": 1e999}", "number out of range"),
        ("{\"dataset\": \"plane\"}", "regression set"),
        ("\u{0}\u{1}garbage", "expected value"),
    ];
    for (body, expected) in cases {
        let msg = bad_request(&app, Method::PUT, &cfg_uri, Some(body)).await;
        assert!(msg.contains(expected), "{body}: {msg}");
    }
    // Hostile nesting: too large, or refused at the first level that has the wrong type
    // (the body is parsed straight into the configuration, never into a tree).
    let deep = format!(
        "{{\"hidden\": {}{}}}",
        "[".repeat(150_000),
        "]".repeat(150_000)
    );
    let (status, _, _) = send(&app, Method::PUT, &cfg_uri, Some(&deep)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let deep = format!("{{\"hidden\": {}{}}}", "[".repeat(5_000), "]".repeat(5_000));
    let msg = bad_request(&app, Method::PUT, &cfg_uri, Some(&deep)).await;
    assert!(msg.contains("hidden[0]: invalid type"), "{msg}");
    let msg = bad_request(&app, Method::PUT, &cfg_uri, Some(&"[".repeat(50_000))).await;
    assert!(msg.contains("expected value"), "{msg}");
    // No content type.
    let (status, _, _) = send(&app, Method::PUT, &cfg_uri, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Steps out of range or not a number.
    for q in [
        "epochs=0",
        "epochs=100000",
        "epochs=abc",
        "epochs=-1",
        "steps=3",
    ] {
        bad_request(
            &app,
            Method::POST,
            &format!("/api/sessions/{id}/step?{q}"),
            None,
        )
        .await;
    }
    // Uploads: a bad label, a NaN-free but non-numeric row, too few points.
    let upload = format!("/api/sessions/{id}/data");
    let msg = bad_request(
        &app,
        Method::PUT,
        &upload,
        Some(r#"{"problem": "classification", "points": [[0, 0, 1], [1, 1, 7]]}"#),
    )
    .await;
    assert!(msg.contains("row 1"), "{msg}");
    bad_request(
        &app,
        Method::PUT,
        &upload,
        Some(r#"{"problem": "regression", "points": [[0, "a", 1]]}"#),
    )
    .await;
    bad_request(
        &app,
        Method::PUT,
        &upload,
        Some(r#"{"problem": "regression", "points": [[0, 0, 1]]}"#),
    )
    .await;
    // Unknown sessions and routes are 404 with a message.
    let (status, value) = json_of(&app, Method::POST, "/api/sessions/nope/play", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(value["error"]
        .as_str()
        .unwrap()
        .contains("no session 'nope'"));
    // The session is as it was, and the server still answers.
    let (status, state) = json_of(&app, Method::GET, &format!("/api/sessions/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["config"]["hidden"], json!([4, 2]));
    let (status, limits) = json_of(&app, Method::GET, "/api/limits", None).await;
    assert_eq!(
        (status, limits["max_neurons"].as_u64()),
        (StatusCode::OK, Some(8))
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = app(Limits {
        max_body_bytes: 1000,
        ..Limits::default()
    });
    let big = format!("{{\"features\": [{}\"x1\"]}}", "\"x2\", ".repeat(400));
    let (status, value) = json_of(&app, Method::POST, "/api/sessions", Some(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{value}");
    assert!(value["error"].as_str().is_some());
}

#[tokio::test]
async fn step_requests_have_a_compute_budget_per_request_and_per_session() {
    let app = app(Limits {
        session_examples_per_minute: 3000,
        ..Limits::default()
    });
    // The default circle: 500 points, half of them for training.
    let id = create(&app, json!({})).await;
    let step = |epochs: usize| format!("/api/sessions/{id}/step?epochs={epochs}");
    // 1000 epochs × 250 points = 250,000 examples: over one request's 100,000.
    let msg = bad_request(&app, Method::POST, &step(1000), None).await;
    assert!(
        msg.contains("250000 examples, over the limit of 100000 per step request")
            && msg.contains("at most 400 epochs"),
        "{msg}"
    );
    // The session's 3000 examples a minute: 10 epochs (2500) pass, 4 more (1000) do not.
    let (status, _) = json_of(&app, Method::POST, &step(10), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, value) = json_of(&app, Method::POST, &step(4), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{value}");
    let msg = value["error"].as_str().unwrap();
    assert!(
        msg.contains("budget of 3000 examples per minute has 500 left")
            && msg.contains("needs 1000"),
        "{msg}"
    );
    // What is left still trains, and the server goes on serving.
    let (status, _) = json_of(&app, Method::POST, &step(1), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_are_capped() {
    let app = app(Limits {
        max_sessions: 2,
        ..Limits::default()
    });
    create(&app, json!({})).await;
    create(&app, json!({})).await;
    let (status, value) = json_of(&app, Method::POST, "/api/sessions", Some("{}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(value["error"]
        .as_str()
        .unwrap()
        .contains("maximum of 2 sessions"));
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_only() {
    let app = app(Limits::default());
    let (status, headers, body) = send(&app, Method::GET, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("nabla playground"));
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let (status, headers, _) = send(&app, Method::GET, "/assets/app.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    for uri in [
        "/assets/..%2F..%2FCargo.toml",
        "/assets/%2Fetc%2Fpasswd",
        "/assets/../Cargo.toml",
        "/assets/src/lib.rs",
        "/Cargo.toml",
        "/etc/passwd",
    ] {
        let (status, _, body) = send(&app, Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!String::from_utf8_lossy(&body).contains("[package]"));
    }
}

#[tokio::test]
async fn uploads_and_checkpoints() {
    let app = app(Limits::default());
    let id = create(&app, json!({"hidden": [3]})).await;
    let points: Vec<[f64; 3]> = (0..60)
        .map(|i| {
            let x = f64::from(i) / 6.0 - 5.0;
            [x, -x / 2.0, if x > 1.0 { 1.0 } else { 0.0 }]
        })
        .collect();
    let body = json!({"problem": "classification", "points": points}).to_string();
    let (status, state) = json_of(
        &app,
        Method::PUT,
        &format!("/api/sessions/{id}/data"),
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["config"]["dataset"], "custom");
    assert_eq!(state["config"]["num_points"], 60);
    // A custom set cannot be asked for by configuration alone.
    let other = create(&app, json!({})).await;
    let msg = bad_request(
        &app,
        Method::PUT,
        &format!("/api/sessions/{other}/config"),
        Some(r#"{"dataset": "custom"}"#),
    )
    .await;
    assert!(msg.contains("upload"), "{msg}");

    let (status, headers, bytes) = send(
        &app,
        Method::GET,
        &format!("/api/sessions/{id}/checkpoint"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let ckpt = nabla_nn::checkpoint::from_bytes(&bytes, "download").unwrap();
    let mut names: Vec<&str> = ckpt.tensors.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["fc.0.bias", "fc.0.weight", "fc.1.bias", "fc.1.weight"]
    );
    // It loads into a nabla-nn model of the same shape.
    let vs = nabla_nn::VarStore::new(&nabla::Device::Cpu);
    nabla_nn::layers::Linear::new(&vs.root().sub("fc").sub(0), 2, 3, true).unwrap();
    nabla_nn::layers::Linear::new(&vs.root().sub("fc").sub(1), 3, 1, true).unwrap();
    let file = std::env::temp_dir().join(format!(
        "nabla-playground-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&file, &bytes).unwrap();
    vs.load(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
}

/// Reads server-sent events from `body` until `n` frames arrived; returns their JSON.
async fn frames(body: Body, n: usize) -> Vec<Value> {
    let mut stream = body.into_data_stream();
    let mut text = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = stream.next().await.expect("the stream goes on").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                assert!(event.contains("event: frame"), "{event}");
                out.push(serde_json::from_str(data).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playing_streams_frames_until_paused() {
    let app = app(Limits::default());
    let id = create(&app, json!({"dataset": "gauss"})).await;
    let req = Request::get(format!("/api/sessions/{id}/events"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let body = res.into_body();
    let state = post(&app, &id, "play").await;
    assert_eq!(state["playing"], true);
    let got = frames(body, 6).await;
    let epochs: Vec<u64> = got.iter().map(|f| f["epoch"].as_u64().unwrap()).collect();
    assert!(epochs.windows(2).all(|w| w[0] <= w[1]), "{epochs:?}");
    assert!(*epochs.last().unwrap() >= 3, "{epochs:?}");
    let state = post(&app, &id, "pause").await;
    assert_eq!(state["playing"], false);
    let paused_at = state["epoch"].as_u64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, state) = json_of(&app, Method::GET, &format!("/api/sessions/{id}"), None).await;
    assert_eq!(state["epoch"].as_u64().unwrap(), paused_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playing_session_nobody_watches_pauses_itself() {
    let app = app(Limits {
        unwatched_secs: 0,
        ..Limits::default()
    });
    let id = create(&app, json!({})).await;
    let state = post(&app, &id, "play").await;
    assert_eq!(state["playing"], true);
    let mut playing = true;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (_, state) = json_of(&app, Method::GET, &format!("/api/sessions/{id}"), None).await;
        playing = state["playing"].as_bool().unwrap();
        if !playing {
            break;
        }
    }
    assert!(!playing, "still playing after 2 s without a watcher");
}
