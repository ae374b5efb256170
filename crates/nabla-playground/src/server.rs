//! The accept loop: HTTP/1 connections under a cap, with deadlines for a request's headers
//! and body, so that clients that connect and stall (slowloris) cannot hold the server's
//! file descriptors or its workers.

use crate::config::Limits;
use crate::error::error_body;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Serves `app` on `listener`: at most `limits.max_connections` connections at once (the
/// ones beyond are answered 503 and closed at once), each closed when a request's headers
/// take longer than `limits.header_timeout_ms` to arrive (an idle keep-alive connection
/// included).
///
/// # Errors
/// I/O errors of the listener other than a failed accept of one connection.
pub async fn serve(listener: TcpListener, app: Router, limits: &Limits) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = Duration::from_millis(limits.header_timeout_ms.max(1));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors, or the client hung up before the accept: the
            // listener itself is fine. Wait a little for descriptors to come back.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(&stream, limits.max_connections);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

/// Answers a connection beyond the cap with 503 without waiting for its request, and
/// closes it (a fresh socket's send buffer takes the few bytes at once; if not, it is
/// closed without them).
fn refuse(stream: &tokio::net::TcpStream, max: usize) {
    let body = format!(
        "{{\"error\":\"the server holds its maximum of {max} connections; try again later\"}}"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

/// Middleware that reads a request's whole body within `limits.body_timeout_ms` before the
/// handler sees it: a client that declares a body and stalls gets 408 and the connection
/// closes. Bodies longer than `limits.max_body_bytes` are left to the handlers' 413.
pub async fn body_deadline(
    State(limits): State<Arc<Limits>>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let deadline = Duration::from_millis(limits.body_timeout_ms.max(1));
    match tokio::time::timeout(deadline, to_bytes(body, limits.max_body_bytes)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) => closing(error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body: could not be read within the limit of {} bytes: {e}",
                limits.max_body_bytes
            ),
        )),
        Err(_) => closing(error_body(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "body: not received within {} ms (the server's body timeout)",
                limits.body_timeout_ms
            ),
        )),
    }
}

/// `res` with `Connection: close`, so that the connection ends after it.
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}
