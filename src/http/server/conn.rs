//! One client connection: hyper's automatic HTTP/1.1 or h2c over the
//! guarded IO ([`super::io`]), poem's endpoint as the service, and the
//! count of requests in flight that tells the IO which timeout applies.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use poem::endpoint::{BoxEndpoint, DynEndpoint};
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::io::GuardedIo;
use super::{Phase, Settings};

/// What the service tells the IO wrapper: how many requests are being
/// served, how many have been, and when the last one ended.
#[derive(Debug)]
pub(super) struct Activity {
    in_flight: AtomicUsize,
    finished: AtomicU64,
    /// Whether the requests come over HTTP/2 (known from the first one).
    http2: AtomicBool,
    /// When the connection started: `last_end` counts from it.
    started: Instant,
    /// When a request last ended, in nanoseconds since `started`: the idle
    /// deadline counts from it. Kept rather than the connection task woken
    /// at each request's end to arm the deadline (hyper sends a response
    /// without reading again, so that was one more poll of the whole
    /// connection per request); the IO wrapper's read timer is kept due
    /// within a keep-alive timeout while requests are in flight, and reads
    /// this when it fires.
    last_end: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            started: Instant::now(),
            last_end: AtomicU64::new(0),
        }
    }
}

impl Activity {
    /// Requests being served now (a response not yet fully sent).
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Requests served so far.
    pub(super) fn finished(&self) -> u64 {
        self.finished.load(Ordering::Acquire)
    }

    /// Whether the connection speaks HTTP/2 (false until a first request).
    pub(super) fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// When a request last ended (the connection's start if none has).
    pub(super) fn last_end(&self) -> Instant {
        self.started + Duration::from_nanos(self.last_end.load(Ordering::Acquire))
    }
}

/// One request in flight, from the call of the service until its response
/// body is sent or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // `last_end` and `finished` first: whoever sees no request in
        // flight also sees when one has ended.
        let since = self.0.started.elapsed().as_nanos();
        let since = u64::try_from(since).unwrap_or(u64::MAX);
        self.0.last_end.fetch_max(since, Ordering::AcqRel);
        self.0.finished.fetch_add(1, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request [`InFlight`] while it is sent.
struct Tracked<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves one connection until it ends, or until the server's phase says
/// to finish (graceful shutdown) or to drop it (grace period over).
pub(super) async fn serve(
    stream: TcpStream,
    remote: SocketAddr,
    endpoint: Arc<BoxEndpoint<'static>>,
    settings: Settings,
    mut phase: watch::Receiver<Phase>,
) {
    // Small responses go out at once rather than after Nagle's delay.
    let _ = stream.set_nodelay(true);
    let local = match stream.local_addr() {
        Ok(local) => LocalAddr(local.into()),
        Err(_) => return,
    };
    let activity = Arc::new(Activity::default());
    let io = GuardedIo::new(stream, activity.clone(), settings);
    let remote = RemoteAddr(remote.into());
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        // Counted now, when hyper has read the head, not when polled.
        let in_flight = InFlight::start(&activity);
        if req.version() == poem::http::Version::HTTP_2 {
            activity.http2.store(true, Ordering::Relaxed);
        }
        let endpoint = endpoint.clone();
        let req = poem::Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
        async move {
            // The boxed endpoint's own future: `Endpoint::get_response` on
            // the `Arc<Box<dyn ..>>` would wrap it in four async layers
            // (`get_response`, `Arc`, `Box`, `dyn`), each moving the request.
            let resp = match DynEndpoint::call(&**endpoint, req).await {
                Ok(resp) => resp,
                Err(err) => err.into_response(),
            };
            let resp: hyper::Response<_> = resp.into();
            Ok::<_, Infallible>(resp.map(|inner| Tracked {
                inner,
                _in_flight: in_flight,
            }))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // One buffer per response rather than head and body as a vectored
    // write: as poem's own server ends up writing (its IO is not vectored).
    builder.http1().writev(false);
    // As poem's server had it; hyper's default of 200 streams stays.
    builder
        .http2()
        .max_pending_accept_reset_streams(Some(20))
        .max_header_list_size(16 * 1024);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                // Timeouts and resets are routine: no line per connection
                // at info, or an attacker would flood the log.
                tracing::debug!(error = %e, "connection ended");
            }
            return;
        }
        _ = phase.wait_for(|p| *p != Phase::Running) => {}
    }
    // Shutting down: idle connections close now, requests in flight
    // finish with their normal answers.
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = phase.wait_for(|p| *p == Phase::Abort) => {}
    }
}
