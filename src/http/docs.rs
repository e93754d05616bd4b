//! `/docs` (Swagger UI, a 1.6 MB page) and `/openapi.json`: fixed bodies,
//! built once per endpoint, served gzip-compressed to clients that accept
//! it and as they are to the others (`Vary: Accept-Encoding` on both).
//! The gzip copy is made once, at the first request that asks for it, on the
//! blocking pool; every later answer is the same shared bytes. Measured:
//! `/docs` 1,661,311 bytes, 431,422 gzipped; `/openapi.json` 55,651 and
//! 4,587. Cheaper per request than compressing each response, and lighter
//! to build than poem's `compression` feature, which pulls async-compression
//! with gzip, deflate, brotli and zstd (a C build); flate2 is five small
//! pure-Rust crates. No brotli: one more large dependency for a page a
//! browser fetches once.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use poem::http::{HeaderValue, header};
use poem::{Endpoint, IntoResponse, Request, Response, Result};

/// A fixed body, and its gzip copy once someone asked for it.
#[derive(Clone)]
pub struct StaticBody {
    content_type: &'static str,
    identity: Bytes,
    gzip: Arc<OnceLock<Bytes>>,
}

impl StaticBody {
    /// `body` served with `content_type`.
    pub fn new(content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            content_type,
            identity: body.into(),
            gzip: Arc::default(),
        }
    }

    /// The gzip copy, made on the blocking pool the first time (about a
    /// hundred milliseconds of CPU for the Swagger UI page).
    async fn gzipped(&self) -> Option<Bytes> {
        if let Some(gz) = self.gzip.get() {
            return Some(gz.clone());
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.gzip.get_or_init(|| gzip(&this.identity)).clone())
            .await
            .ok()
    }
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default().into()
}

impl Endpoint for StaticBody {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let mut resp = Response::builder()
            .content_type(self.content_type)
            .header(header::VARY, HeaderValue::from_static("accept-encoding"));
        let mut body = self.identity.clone();
        if accepts_gzip(&req)
            && let Some(gz) = self.gzipped().await
        {
            resp = resp.header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            body = gz;
        }
        Ok(resp.body(body))
    }
}

/// The Swagger UI page at `/docs` from a [`StaticBody`]; anything below it
/// (its OAuth2 receiver page) from poem-openapi's own endpoint.
pub struct DocsPage<E> {
    /// The page itself.
    pub index: StaticBody,
    /// poem-openapi's Swagger UI endpoint.
    pub rest: E,
}

impl<E: Endpoint> Endpoint for DocsPage<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        // Nested under `/docs`, the page itself is `/`.
        if req.uri().path() == "/" {
            self.index.call(req).await
        } else {
            self.rest.call(req).await.map(IntoResponse::into_response)
        }
    }
}

/// Whether the request's `Accept-Encoding` takes gzip (RFC 9110 12.5.3):
/// `gzip` or `x-gzip` with a non-zero weight, or else `*` with one.
fn accepts_gzip(req: &Request) -> bool {
    let mut gzip = None;
    let mut any = None;
    let values = req.headers().get_all(header::ACCEPT_ENCODING);
    for item in values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let accepted = !parts.any(|p| {
            let p = p.trim();
            let q = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="));
            q.and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
        });
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(accepted);
        } else if coding == "*" {
            any = Some(accepted);
        }
    }
    gzip.or(any).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        accepts_gzip(&Request::builder().header("accept-encoding", value).finish())
    }

    #[test]
    fn reads_accept_encoding() {
        assert!(accepts("gzip"));
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip;q=0.0, *"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("identity"));
        assert!(!accepts(""));
        assert!(!accepts_gzip(&Request::builder().finish()));
    }
}
