//! The guarded connection IO: the TCP stream as hyper sees it, with the
//! connection-level deadlines and the parser's error answers reshaped.
//!
//! Reads follow the connection's phase, shared with the service through
//! [`Activity`]:
//!
//! - **head**: from the connection's start, or from the first byte of a
//!   new request, the headers must be complete within the header-read
//!   timeout. The deadline is set once and never pushed back by later
//!   bytes, or a client sending a byte now and then (slowloris) would win.
//! - **busy**: a request is being served. No deadline here: the request
//!   timeout covers it (and answers 408 for a body that stops arriving).
//!   The read timer stays due within a keep-alive timeout, to look again.
//! - **idle**: no request in flight; the next byte must come within the
//!   keep-alive timeout of the last request's end (as [`Activity`] records
//!   it: the task is not woken when a request ends). Over HTTP/2, bytes between requests are frames
//!   (pings, window updates) rather than a request's start, so they do not
//!   start a head: the connection closes a keep-alive timeout after its
//!   last request, whatever it sends meanwhile.
//!
//! When the deadline passes while a read is pending, the read fails with
//! `TimedOut` and hyper drops the connection. hyper's own
//! `header_read_timeout` does not fit: it starts right after the previous
//! response, so it would close idle keep-alive connections early.
//!
//! Writes: a write that makes no progress for the keep-alive timeout fails
//! too, so a client that stops reading cannot hold a connection. And the
//! parser's automatic error answers (empty 4xx) get a `{"detail"}` body
//! ([`super::protocol_error`]).
//!
//! The timers are `Sleep`s inside the wrapper: no task per connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep_until};

use super::Settings;
use super::conn::Activity;
use super::protocol_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadPhase {
    Head,
    Busy,
    Idle,
}

/// When the read timer is due.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// The read deadline: past it, the connection closes.
    Deadline(Instant),
    /// Requests are in flight: no deadline, only a time to look again.
    Check(Instant),
}

impl Due {
    fn at(self) -> Instant {
        match self {
            Self::Deadline(at) | Self::Check(at) => at,
        }
    }
}

/// A replacement response head and body being written in place of what
/// hyper asked to write.
struct Rewrite {
    bytes: Vec<u8>,
    written: usize,
    /// How many of hyper's bytes it stands for.
    replaces: usize,
}

/// See the module documentation.
pub(super) struct GuardedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    header_timeout: Duration,
    keep_alive_timeout: Duration,
    phase: ReadPhase,
    /// `Activity::finished` when the phase was last worked out.
    seen_finished: u64,
    read_deadline: Instant,
    read_timer: Pin<Box<Sleep>>,
    /// When a write that has made no progress gives up.
    write_deadline: Option<Instant>,
    write_timer: Option<Pin<Box<Sleep>>>,
    rewrite: Option<Rewrite>,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl GuardedIo {
    /// Wraps a fresh connection: its headers are due within the header
    /// timeout from now.
    pub(super) fn new(inner: TcpStream, activity: Arc<Activity>, settings: Settings) -> Self {
        let read_deadline = Instant::now() + settings.header_read_timeout;
        Self {
            inner,
            activity,
            header_timeout: settings.header_read_timeout,
            keep_alive_timeout: settings.keep_alive_timeout,
            phase: ReadPhase::Head,
            seen_finished: 0,
            read_deadline,
            read_timer: Box::pin(sleep_until(read_deadline)),
            write_deadline: None,
            write_timer: None,
            rewrite: None,
        }
    }

    /// The phase now, from the service's activity, and when the read
    /// timer is due: the read deadline, or while requests are in flight a
    /// time to look again (no deadline then; the idle one, a keep-alive
    /// timeout after the last request ends, is at least that far off).
    fn read_due(&mut self) -> Due {
        if self.activity.in_flight() > 0 {
            self.phase = ReadPhase::Busy;
            return Due::Check(Instant::now() + self.keep_alive_timeout);
        }
        let finished = self.activity.finished();
        if self.phase == ReadPhase::Busy || finished != self.seen_finished {
            self.seen_finished = finished;
            self.phase = ReadPhase::Idle;
            self.read_deadline = self.activity.last_end() + self.keep_alive_timeout;
        }
        Due::Deadline(self.read_deadline)
    }

    /// Bytes arrived: an idle HTTP/1 connection starts a new request head.
    fn on_bytes(&mut self) {
        if self.phase == ReadPhase::Idle && !self.activity.is_http2() {
            self.phase = ReadPhase::Head;
            self.read_deadline = Instant::now() + self.header_timeout;
        }
    }

    /// Runs a write, failing it once it has made no progress for the
    /// keep-alive timeout.
    fn guard_write(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match write(Pin::new(&mut self.inner), cx) {
            Poll::Pending => {
                let deadline = *self
                    .write_deadline
                    .get_or_insert_with(|| Instant::now() + self.keep_alive_timeout);
                let timer = self
                    .write_timer
                    .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    tracing::debug!("closing a connection whose client stopped reading");
                    return Poll::Ready(Err(timed_out("write made no progress")));
                }
                Poll::Pending
            }
            done => {
                self.write_deadline = None;
                done
            }
        }
    }

    /// Writes the pending [`Rewrite`]; once it is all out, reports the
    /// bytes it replaced as written.
    fn poll_rewrite(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(mut rewrite) = self.rewrite.take() else {
            return Poll::Ready(Ok(0));
        };
        while rewrite.written < rewrite.bytes.len() {
            let rest = &rewrite.bytes[rewrite.written..];
            match self.guard_write(cx, |io, cx| io.poll_write(cx, rest)) {
                Poll::Pending => {
                    self.rewrite = Some(rewrite);
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => rewrite.written += n,
            }
        }
        Poll::Ready(Ok(rewrite.replaces))
    }

    /// Starts a rewrite if `buf` is the parser's empty error answer.
    /// Only when no request is in flight: then hyper is not writing a
    /// response of the service (a bodiless answer to `HEAD`, say).
    fn start_rewrite(&mut self, buf: &[u8]) -> bool {
        if self.rewrite.is_some() {
            return true;
        }
        if self.activity.in_flight() > 0 {
            return false;
        }
        match protocol_error::reshape(buf) {
            Some(bytes) => {
                self.rewrite = Some(Rewrite {
                    bytes,
                    written: 0,
                    replaces: buf.len(),
                });
                true
            }
            None => false,
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.on_bytes();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let due = this.read_due().at();
                // The timer only moves earlier here; a later time (the
                // next request's deadline) is taken up when the timer
                // fires, so a request costs no timer-wheel update.
                if due < this.read_timer.deadline() {
                    this.read_timer.as_mut().reset(due);
                }
                while this.read_timer.as_mut().poll(cx).is_ready() {
                    // Looked at again now: a request may have ended since.
                    let due = this.read_due();
                    if let Due::Deadline(deadline) = due
                        && Instant::now() >= deadline
                    {
                        tracing::debug!(phase = ?this.phase, "closing a connection past its read deadline");
                        return Poll::Ready(Err(timed_out("read deadline passed")));
                    }
                    this.read_timer.as_mut().reset(due.at());
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.start_rewrite(buf) {
            return this.poll_rewrite(cx);
        }
        this.guard_write(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // A response head is hyper's first slice; a partial vectored write
        // (that slice alone) is allowed.
        let first = bufs.iter().find(|b| !b.is_empty()).map(|b| &**b);
        if first.is_some_and(|first| this.start_rewrite(first)) {
            return this.poll_rewrite(cx);
        }
        this.guard_write(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
