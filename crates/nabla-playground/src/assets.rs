//! The page's files, compiled into the binary. Requests name an entry of this table; there
//! is no path on disk to join, so nothing else can be read through the server.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// (name, content type, bytes) of each file under `assets/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/style.css"),
    ),
];

/// Only the server itself may be contacted or loaded from: no CDN, no inline script.
const CSP: &str =
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'";

/// The asset called `name`, if there is one.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, ty, bytes)| (ty, bytes))
}

fn respond(name: &str) -> Response {
    match asset(name) {
        Some((ty, bytes)) => {
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            res
        }
        None => crate::error::error_body(StatusCode::NOT_FOUND, "no such file"),
    }
}

/// `GET /`: the page.
pub async fn index() -> Response {
    respond("index.html")
}

/// `GET /assets/{name}`: a file of the page.
pub async fn file(Path(name): Path<String>) -> Response {
    respond(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_names_resolve() {
        assert!(asset("app.js").is_some());
        for bad in [
            "../Cargo.toml",
            "/etc/passwd",
            "",
            "app.js/",
            "APP.JS",
            "assets/app.js",
        ] {
            assert!(asset(bad).is_none(), "{bad}");
        }
    }
}
