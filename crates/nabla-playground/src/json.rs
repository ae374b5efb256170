//! A JSON body extractor whose every rejection is a JSON error with the reason: 400 for
//! malformed or mistyped JSON (axum's own answers 415 or 422 for some), 413 for a body over
//! the limit.

use crate::error::error_body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::de::DeserializeOwned;

/// `Json<T>` with the playground's error responses.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            // Too large, or the connection failed while reading: keep axum's status (413).
            Err(JsonRejection::BytesRejection(e)) => Err(error_body(e.status(), e.body_text())),
            Err(e) => Err(error_body(StatusCode::BAD_REQUEST, e.body_text())),
        }
    }
}
