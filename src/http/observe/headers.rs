//! The response headers the layer adds: `Allow` on a 405 (RFC 9110
//! 15.5.6), `X-Content-Type-Options: nosniff` on every answer, and a
//! Content-Security-Policy on JSON bodies.

use poem::Response;
use poem::http::{HeaderValue, StatusCode, header};

/// `default-src 'none'; frame-ancestors 'none'` on JSON responses: a JSON
/// answer opened in a browser runs nothing and cannot be framed. (Swagger
/// UI's HTML needs its inline script, so it is left alone.)
const JSON_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the headers to the answer to a request whose documented path
/// takes the methods `allowed` (none if undocumented).
pub fn add(resp: &mut Response, allowed: Option<&str>) {
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        // The methods the documented path takes.
        if let Some(v) = allowed.and_then(|a| HeaderValue::from_str(a).ok()) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
    let headers = resp.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_json {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(JSON_CSP),
        );
    }
}
