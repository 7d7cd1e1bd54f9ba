//! Connection hygiene: a connection that sends nothing is closed, a request
//! body that stops making progress is cut off, and the number of open
//! connections can be capped (issue 12, item 2).
//!
//! hyper's own header timeout only starts at a request's first byte, so a
//! client that connects and stays silent, or idles between requests, would
//! hold a socket (and a file descriptor) forever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a connection may send nothing while no request is being
/// handled (before its first request, between requests, while a response
/// is not being read).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request body may go without progress (see [`MIN_PROGRESS`]).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes a request body must deliver in every [`BODY_TIMEOUT`] window to
/// count as progressing: a body trickled a byte a second is cut off too.
pub const MIN_PROGRESS: u64 = 1024;

/// Limits on the connections a server keeps.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// See [`IDLE_TIMEOUT`]; also the time allowed for a request's headers.
    pub idle_timeout: Duration,
    /// See [`BODY_TIMEOUT`].
    pub body_timeout: Duration,
    /// At most this many connections at once; more wait in the listen queue.
    pub max_connections: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            idle_timeout: IDLE_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            max_connections: None,
        }
    }
}

/// Requests of one connection being handled right now: while one is, the
/// connection is not idle (its handler may be busy without any I/O).
#[derive(Debug, Default)]
pub(crate) struct InFlight(AtomicUsize);

impl InFlight {
    /// Counts a request until the returned guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.clone())
    }

    fn busy(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }
}

pub(crate) struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's stream that fails a read or write left waiting with no
/// progress for `idle` while no request is in flight. Handlers in flight
/// are governed by [`StallGuard`] on their bodies instead.
pub(crate) struct IdleTimeout<T> {
    inner: T,
    in_flight: Arc<InFlight>,
    idle: Duration,
    last_progress: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    pub(crate) fn new(inner: T, in_flight: Arc<InFlight>, idle: Duration) -> Self {
        let now = Instant::now();
        IdleTimeout {
            inner,
            in_flight,
            idle,
            last_progress: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Called when the inner stream is not ready: an error once the
    /// connection has been idle too long, else `Pending` with the timer set.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.in_flight.busy() {
            // Not idle: a request is being handled. Come back from progress.
            self.last_progress = Instant::now();
            return Poll::Pending;
        }
        let deadline = self.last_progress + self.idle;
        if Instant::now() >= deadline {
            return Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            ));
        }
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.check_idle(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.check_idle(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.check_idle(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => self.check_idle(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body made no progress for {0:?} (less than {MIN_PROGRESS} bytes arrived); the request was aborted, resume the upload from its reported size"
)]
pub(crate) struct BodyStalled(pub Duration);

/// A request body that fails when fewer than [`MIN_PROGRESS`] bytes arrive
/// in a window of `timeout`. The first window starts when the handler first
/// reads the body (a handler may wait on something else first).
pub(crate) struct StallGuard<S> {
    inner: S,
    timeout: Duration,
    window_bytes: u64,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> StallGuard<S> {
    pub(crate) fn new(inner: S, timeout: Duration) -> Self {
        StallGuard {
            inner,
            timeout,
            window_bytes: 0,
            timer: None,
        }
    }
}

impl<S, E> futures_util::Stream for StallGuard<S>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<axum::BoxError>,
{
    type Item = Result<Bytes, axum::BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let timeout = this.timeout;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(data))) => {
                this.window_bytes += data.len() as u64;
                if this.window_bytes >= MIN_PROGRESS {
                    this.window_bytes = 0;
                    timer.as_mut().reset(Instant::now() + timeout);
                }
                Poll::Ready(Some(Ok(data)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(BodyStalled(timeout)))))
            }
        }
    }
}
