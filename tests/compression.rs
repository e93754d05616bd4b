//! `/docs` and `/openapi.json` are served gzip-compressed to clients that
//! accept it, decoding to the very bytes others get uncompressed; the JSON
//! API routes are never compressed.

mod common;

use std::io::Read;

use common::*;
use reqwest::Method;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};

store_tests! {
    docs_and_document_are_gzipped_when_asked_and_identical_decoded,
    json_api_routes_are_not_compressed,
}

/// Status, headers and raw body bytes of `GET path` with `accept_encoding`.
async fn get(
    app: &TestApp,
    path: &str,
    accept_encoding: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.request(Method::GET, path);
    if let Some(value) = accept_encoding {
        request = request.header(ACCEPT_ENCODING, value);
    }
    let resp = request.send().await.expect("a response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("a body").to_vec();
    (status, headers, body)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

async fn docs_and_document_are_gzipped_when_asked_and_identical_decoded(app: TestApp) {
    for (path, content_type) in [
        ("/docs", "text/html; charset=utf-8"),
        ("/docs/", "text/html; charset=utf-8"),
        ("/openapi.json", "application/json"),
    ] {
        let (status, plain_headers, plain) = get(&app, path, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(plain_headers.get(CONTENT_ENCODING).is_none(), "{path}");
        assert_eq!(plain_headers[CONTENT_TYPE], content_type, "{path}");
        assert_eq!(plain_headers[VARY], "accept-encoding", "{path}");

        for accept in ["gzip", "gzip, deflate, br, zstd", "br;q=1, gzip;q=0.5"] {
            let (status, headers, gz) = get(&app, path, Some(accept)).await;
            assert_eq!(status, 200, "{path} {accept}");
            assert_eq!(headers[CONTENT_ENCODING], "gzip", "{path} {accept}");
            assert_eq!(headers[CONTENT_TYPE], content_type, "{path}");
            assert_eq!(headers[VARY], "accept-encoding", "{path}");
            assert!(gz.len() * 2 < plain.len(), "{path}: {} bytes", gz.len());
            assert!(gunzip(&gz) == plain, "{path}: decodes to the same bytes");
        }

        for refused in ["identity", "br", "gzip;q=0"] {
            let (_, headers, body) = get(&app, path, Some(refused)).await;
            assert!(headers.get(CONTENT_ENCODING).is_none(), "{path} {refused}");
            assert!(body == plain, "{path} {refused}");
        }
    }
}

async fn json_api_routes_are_not_compressed(app: TestApp) {
    for path in ["/", "/healthz", "/posts", "/nope", "/metrics"] {
        let (_, headers, body) = get(&app, path, Some("gzip")).await;
        assert!(headers.get(CONTENT_ENCODING).is_none(), "{path}");
        assert!(headers.get(VARY).is_none(), "{path}");
        assert!(std::str::from_utf8(&body).is_ok(), "{path}");
    }
}
