//! The one place content is checked against what was promised for it: a
//! [`Verifier`] hashes and counts bytes as they pass and fails as soon as
//! there are too many, or at the end when they are not what the digest and
//! size said. [`VerifyingStream`] is the same check as a stream adapter;
//! the client's downloads, the image stores and archives, and the
//! registry's own blob checks all use these two.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use super::{Descriptor, Digest, DigestMismatch, Digester};

/// Why content failed its check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Digest(#[from] DigestMismatch),
    #[error("content of {digest} is {actual} bytes, but {expected} were promised")]
    Size {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
}

/// Checks bytes fed in order against a digest and, when known, a size.
#[derive(Clone)]
pub struct Verifier {
    digester: Digester,
    expected: Digest,
    expected_size: Option<u64>,
    seen: u64,
}

impl Verifier {
    pub fn new(expected: Digest, expected_size: Option<u64>) -> Self {
        Verifier {
            digester: Digester::new(expected.algorithm()),
            expected,
            expected_size,
            seen: 0,
        }
    }

    /// Against a descriptor's digest and size (a negative size, which no
    /// valid descriptor has, is treated as unknown).
    pub fn for_descriptor(desc: &Descriptor) -> Self {
        Self::new(desc.digest.clone(), u64::try_from(desc.size).ok())
    }

    /// Feeds the next bytes; fails at once when they pass the promised size.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), VerifyError> {
        self.seen += chunk.len() as u64;
        if self.expected_size.is_some_and(|size| self.seen > size) {
            return Err(self.size_error());
        }
        self.digester.update(chunk);
        Ok(())
    }

    /// Whether the promised size has been reached exactly.
    pub fn at_size(&self) -> bool {
        self.expected_size == Some(self.seen)
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }

    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    /// Checks size and digest of everything fed.
    pub fn finish(self) -> Result<(), VerifyError> {
        if self.expected_size.is_some_and(|size| self.seen != size) {
            return Err(self.size_error());
        }
        Ok(self.digester.verify(&self.expected)?)
    }

    fn size_error(&self) -> VerifyError {
        VerifyError::Size {
            digest: self.expected.clone(),
            expected: self.expected_size.unwrap_or(0),
            actual: self.seen,
        }
    }
}

/// A stream of bytes checked by a [`Verifier`] as it passes. A failed check
/// is the stream's last item, turned into the stream's own error type by
/// `on_error`; with a known size it comes instead of the last chunk, so a
/// consumer that stops reading at the length still sees it.
pub struct VerifyingStream<S, F> {
    inner: S,
    verifier: Option<Verifier>,
    on_error: F,
    /// Verified at the expected size; any further byte is an error.
    checked: bool,
    seen: u64,
    expected: Digest,
    expected_size: Option<u64>,
}

impl<S, F> VerifyingStream<S, F> {
    pub fn new(inner: S, verifier: Verifier, on_error: F) -> Self {
        VerifyingStream {
            expected: verifier.expected.clone(),
            expected_size: verifier.expected_size,
            inner,
            verifier: Some(verifier),
            on_error,
            checked: false,
            seen: 0,
        }
    }
}

impl<S, E, F> Stream for VerifyingStream<S, F>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    F: FnMut(VerifyError) -> E + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(verifier) = this.verifier.as_mut() else {
            // A finished (or failed) stream stays finished, but one
            // verified at its size must also end there.
            if !this.checked {
                return Poll::Ready(None);
            }
            return match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(item)) => {
                    this.checked = false;
                    Poll::Ready(Some(item.and_then(|chunk| {
                        Err((this.on_error)(VerifyError::Size {
                            digest: this.expected.clone(),
                            expected: this.expected_size.unwrap_or(0),
                            actual: this.seen + chunk.len() as u64,
                        }))
                    })))
                }
            };
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if let Err(e) = verifier.update(&chunk) {
                    this.verifier = None;
                    return Poll::Ready(Some(Err((this.on_error)(e))));
                }
                // Checked with the last byte, before handing it over: a
                // consumer that knows the length may never ask for the end.
                if verifier.at_size() {
                    let verifier = this.verifier.take();
                    if let Some(Err(e)) = verifier.map(Verifier::finish) {
                        return Poll::Ready(Some(Err((this.on_error)(e))));
                    }
                    this.checked = true;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.verifier = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => match this.verifier.take().map(Verifier::finish) {
                Some(Err(e)) => Poll::Ready(Some(Err((this.on_error)(e)))),
                _ => Poll::Ready(None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{StreamExt, TryStreamExt, stream};

    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, VerifyError>> + Unpin {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn verifying(
        parts: &[&'static [u8]],
        digest: Digest,
        size: Option<u64>,
    ) -> impl Stream<Item = Result<Bytes, VerifyError>> + Unpin {
        VerifyingStream::new(chunks(parts), Verifier::new(digest, size), |e| e)
    }

    async fn drain(
        s: impl Stream<Item = Result<Bytes, VerifyError>> + Unpin,
    ) -> Result<Vec<u8>, VerifyError> {
        s.try_fold(Vec::new(), |mut acc, c| async move {
            acc.extend_from_slice(&c);
            Ok(acc)
        })
        .await
    }

    #[tokio::test]
    async fn passes_matching_content_through() {
        let d = Digest::sha256_of(b"hello world");
        let out = drain(verifying(&[b"hello ", b"world"], d, Some(11)))
            .await
            .unwrap();
        assert_eq!(out, b"hello world");
    }

    #[tokio::test]
    async fn fails_at_the_end_on_a_digest_mismatch() {
        let d = Digest::sha256_of(b"hello world");
        let mut s = verifying(&[b"hello ", b"wOrld"], d.clone(), None);
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.unwrap().is_ok());
        match s.next().await {
            Some(Err(VerifyError::Digest(m))) => {
                assert_eq!(m.expected, d);
                assert_eq!(m.actual, Digest::sha256_of(b"hello wOrld"));
            }
            other => panic!("expected a digest error, got {other:?}"),
        }
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn with_a_known_size_the_last_chunk_is_withheld_on_a_mismatch() {
        let d = Digest::sha256_of(b"hello world");
        let mut s = verifying(&[b"hello ", b"wOrld"], d.clone(), Some(11));
        assert!(s.next().await.unwrap().is_ok());
        assert!(matches!(s.next().await, Some(Err(VerifyError::Digest(_)))));
        assert!(s.next().await.is_none());
        // Matching content: every chunk, then the end.
        let mut s = verifying(&[b"hello ", b"world"], d, Some(11));
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn fails_early_when_too_long_and_at_the_end_when_too_short() {
        let d = Digest::sha256_of(b"hello");
        let long = drain(verifying(&[b"hello", b"!"], d.clone(), Some(5))).await;
        assert!(matches!(long, Err(VerifyError::Size { actual: 6, .. })));
        let short = drain(verifying(&[b"hel"], d.clone(), Some(5))).await;
        assert!(matches!(
            short,
            Err(VerifyError::Size {
                expected: 5,
                actual: 3,
                ..
            })
        ));
        // Size unknown: only the digest decides.
        assert!(drain(verifying(&[b"hello"], d, None)).await.is_ok());
    }
}
