//! The request body limit: 1 MiB, whether the size is announced by
//! Content-Length or not (chunked). The body is cut lazily, as it is read,
//! so authentication still answers first on protected routes. The same
//! wrapper records whether the handler is waiting for the client's bytes
//! ([`BodyWait`]), so that a timeout can tell a slow client (408) from a
//! slow service (503).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use poem::http::{Version, header};
use poem::{Body, Request};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The marker error a cut body yields; mapped to 413.
#[derive(Debug)]
pub struct BodyTooLarge;

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body too large")
    }
}

impl std::error::Error for BodyTooLarge {}

/// Whether an error, or anything it wraps, is [`BodyTooLarge`].
pub fn is_too_large(mut err: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if err.is::<BodyTooLarge>() {
            return true;
        }
        let inner = err
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .map(|e| e as &(dyn std::error::Error + 'static));
        match inner.or_else(|| err.source()) {
            Some(next) => err = next,
            None => return false,
        }
    }
}

/// Whether a request's handler is waiting for body bytes from the client
/// right now: a read of the body returned `Pending` and has not been
/// answered yet. The deadline layer (`super::observe`) puts one in the
/// data of each request that has a body ([`has_body`]); [`limit_body`]'s
/// stream keeps it current.
#[derive(Debug, Clone, Default)]
pub struct BodyWait(Arc<AtomicBool>);

impl BodyWait {
    /// Whether the handler is waiting for the client's bytes.
    pub fn is_waiting(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, waiting: bool) {
        self.0.store(waiting, Ordering::Relaxed);
    }
}

/// Cuts `req`'s body at `limit` bytes: lazily, as the handler reads it
/// (see the module documentation). Called by the observation layer
/// (`observe`), where it already knows whether the request has a body,
/// rather than as a middleware: a layer fewer on every request.
pub fn limit_body(req: &mut Request, limit: usize) {
    let announced = announced(req);
    if has_body(req) {
        // An announced size over the limit fails at the first read,
        // without waiting for the bytes.
        let over = announced.is_some_and(|n| n > limit as u64);
        let wait = req.data::<BodyWait>().cloned().unwrap_or_default();
        let body = req.take_body();
        let stream = Limited {
            wait,
            inner: Box::pin(body.into_bytes_stream()),
            seen: 0,
            limit,
            done: false,
            over,
        };
        req.set_body(Body::from_bytes_stream(stream));
    }
}

/// The size a request's `Content-Length` announces, if it is a number.
fn announced(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
}

/// Whether a request may come with a body to read: the requests
/// [`limit_body`] cuts, and the only ones whose handler can wait for the
/// client's bytes ([`BodyWait`]). Over HTTP/1 a body is announced (chunked,
/// or a Content-Length over 0). Over HTTP/2 a body needs no announcement
/// (DATA frames may follow any request head without a Content-Length),
/// so every HTTP/2 request is treated as having one unless it announces
/// 0; unannounced bodies were read whole, past the limit.
pub fn has_body(req: &Request) -> bool {
    let announced = announced(req);
    req.headers().contains_key(header::TRANSFER_ENCODING)
        || announced.is_some_and(|n| n > 0)
        || (announced.is_none() && req.version() >= Version::HTTP_2)
}

struct Limited<S> {
    wait: BodyWait,
    inner: Pin<Box<S>>,
    seen: usize,
    limit: usize,
    done: bool,
    over: bool,
}

impl<S: Stream<Item = io::Result<Bytes>>> Stream for Limited<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            self.wait.set(false);
            return Poll::Ready(None);
        }
        if self.over {
            self.done = true;
            self.wait.set(false);
            return Poll::Ready(Some(Err(io::Error::other(BodyTooLarge))));
        }
        let polled = self.inner.as_mut().poll_next(cx);
        self.wait.set(polled.is_pending());
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen = self.seen.saturating_add(chunk.len());
                if self.seen > self.limit {
                    self.done = true;
                    Poll::Ready(Some(Err(io::Error::other(BodyTooLarge))))
                } else {
                    Poll::Ready(Some(Ok(chunk)))
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use poem::http::Version;
    use poem::{Body, Request};

    use super::{has_body, is_too_large, limit_body};

    /// A request of `version` whose body (`len` bytes) is not announced:
    /// no Content-Length, no Transfer-Encoding.
    fn unannounced(version: Version, len: usize) -> Request {
        let chunks = futures_util::stream::iter(
            (0..len.div_ceil(4096))
                .map(move |i| Ok::<_, std::io::Error>(vec![b'x'; 4096.min(len - i * 4096)])),
        );
        Request::builder()
            .version(version)
            .method(poem::http::Method::POST)
            .body(Body::from_bytes_stream(chunks))
    }

    #[tokio::test]
    async fn an_unannounced_http2_body_is_cut_at_the_limit() {
        let mut req = unannounced(Version::HTTP_2, 64 * 1024 + 1);
        assert!(has_body(&req));
        limit_body(&mut req, 64 * 1024);
        let err = req.take_body().into_vec().await.expect_err("cut");
        assert!(is_too_large(&err), "{err}");

        let mut req = unannounced(Version::HTTP_2, 64 * 1024);
        limit_body(&mut req, 64 * 1024);
        let body = req.take_body().into_vec().await.expect("exactly the limit");
        assert_eq!(body.len(), 64 * 1024);
    }

    #[test]
    fn which_requests_have_a_body() {
        let head = |version, header: Option<(&str, &str)>| {
            let builder = Request::builder().version(version);
            match header {
                Some((name, value)) => builder.header(name, value).finish(),
                None => builder.finish(),
            }
        };
        // HTTP/1.1 frames its bodies: none without an announcement.
        assert!(!has_body(&head(Version::HTTP_11, None)));
        assert!(!has_body(&head(
            Version::HTTP_11,
            Some(("content-length", "0"))
        )));
        assert!(has_body(&head(
            Version::HTTP_11,
            Some(("content-length", "1"))
        )));
        assert!(has_body(&head(
            Version::HTTP_11,
            Some(("transfer-encoding", "chunked"))
        )));
        // HTTP/2 may send DATA frames after any head.
        assert!(has_body(&head(Version::HTTP_2, None)));
        assert!(!has_body(&head(
            Version::HTTP_2,
            Some(("content-length", "0"))
        )));
    }
}
