//! Response headers that depend on the answer: `Allow` on a 405 (RFC 9110
//! 15.5.6) and a Content-Security-Policy on JSON bodies. The static
//! `X-Content-Type-Options: nosniff` is poem's `SetHeader` (see
//! [`super::around`]).

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::http::allow::AllowTable;

/// `Allow` on 405 answers: the methods the documented path takes.
pub struct AllowOn405(pub Arc<AllowTable>);

impl<E: Endpoint> Middleware<E> for AllowOn405 {
    type Output = AllowOn405Endpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AllowOn405Endpoint {
            inner,
            allow: self.0.clone(),
        }
    }
}

/// See [`AllowOn405`].
pub struct AllowOn405Endpoint<E> {
    inner: E,
    allow: Arc<AllowTable>,
}

impl<E: Endpoint> Endpoint for AllowOn405Endpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        // The URI is shared bytes: cheaper to keep than the path copied.
        let uri = req.uri().clone();
        let mut resp = self.inner.call(req).await?.into_response();
        if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
            let allowed = self.allow.allowed(uri.path());
            if let Some(v) = allowed.and_then(|a| HeaderValue::from_str(a).ok()) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
        Ok(resp)
    }
}

/// `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` on
/// JSON responses: a JSON answer opened in a browser runs nothing and
/// cannot be framed. (Swagger UI's HTML needs its inline script, so it is
/// left alone.)
pub struct JsonCsp;

impl<E: Endpoint> Middleware<E> for JsonCsp {
    type Output = JsonCspEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        JsonCspEndpoint { inner }
    }
}

/// See [`JsonCsp`].
pub struct JsonCspEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for JsonCspEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let mut resp = self.inner.call(req).await?.into_response();
        let is_json = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        if is_json {
            resp.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            );
        }
        Ok(resp)
    }
}
