//! The one place blob bytes are checked: a stream adapter that hashes and
//! counts what passes through and fails at the end (or as soon as there is
//! too much) when the content is not what the descriptor promised.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use super::StoreError;
use crate::types::{Descriptor, Digest, DigestMismatch, Digester};

pub struct VerifyingStream<S> {
    inner: S,
    expected: Digest,
    expected_size: Option<u64>,
    digester: Option<Digester>,
    seen: u64,
    /// Verified at the expected size; any further byte is an error.
    checked: bool,
}

impl<S> VerifyingStream<S> {
    /// Verifies against a digest and, when known, a size.
    pub fn new(inner: S, expected: Digest, expected_size: Option<u64>) -> Self {
        VerifyingStream {
            digester: Some(Digester::new(expected.algorithm())),
            inner,
            expected,
            expected_size,
            seen: 0,
            checked: false,
        }
    }

    /// Verifies against a descriptor's digest and size (a negative size,
    /// which no valid descriptor has, is treated as unknown).
    pub fn for_descriptor(inner: S, desc: &Descriptor) -> Self {
        Self::new(inner, desc.digest.clone(), u64::try_from(desc.size).ok())
    }

    /// Checks size and digest once; `None` when they match (or were
    /// checked already).
    fn finish(&mut self) -> Option<Result<Bytes, StoreError>> {
        let digester = self.digester.take()?;
        if self.expected_size.is_some_and(|size| self.seen != size) {
            return Some(Err(self.size_error()));
        }
        let actual = digester.finish();
        if actual == self.expected {
            None
        } else {
            Some(Err(StoreError::Digest(DigestMismatch {
                expected: self.expected.clone(),
                actual,
            })))
        }
    }

    fn size_error(&self) -> StoreError {
        StoreError::Size {
            digest: self.expected.clone(),
            expected: self.expected_size.unwrap_or(0),
            actual: self.seen,
        }
    }
}

impl<S> Stream for VerifyingStream<S>
where
    S: Stream<Item = Result<Bytes, StoreError>> + Unpin,
{
    type Item = Result<Bytes, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // A finished (or failed) stream stays finished, but one verified
        // at its size must also end there.
        let Some(digester) = this.digester.as_mut() else {
            if !this.checked {
                return Poll::Ready(None);
            }
            return match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(item)) => {
                    this.checked = false;
                    Poll::Ready(Some(item.and_then(|chunk| {
                        this.seen += chunk.len() as u64;
                        Err(this.size_error())
                    })))
                }
            };
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if this.expected_size.is_some_and(|size| this.seen > size) {
                    this.digester = None;
                    return Poll::Ready(Some(Err(this.size_error())));
                }
                digester.update(&chunk);
                // Checked with the last byte, before handing it over: a
                // consumer that knows the length may never ask for the end.
                if this.expected_size == Some(this.seen) {
                    if let Some(Err(e)) = this.finish() {
                        return Poll::Ready(Some(Err(e)));
                    }
                    this.checked = true;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.digester = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => Poll::Ready(this.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{StreamExt, TryStreamExt, stream};

    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, StoreError>> + Unpin {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    async fn drain(
        s: impl Stream<Item = Result<Bytes, StoreError>> + Unpin,
    ) -> Result<Vec<u8>, StoreError> {
        s.try_fold(Vec::new(), |mut acc, c| async move {
            acc.extend_from_slice(&c);
            Ok(acc)
        })
        .await
    }

    #[tokio::test]
    async fn passes_matching_content_through() {
        let d = Digest::sha256_of(b"hello world");
        let out = drain(VerifyingStream::new(
            chunks(&[b"hello ", b"world"]),
            d,
            Some(11),
        ))
        .await
        .unwrap();
        assert_eq!(out, b"hello world");
    }

    #[tokio::test]
    async fn fails_at_the_end_on_a_digest_mismatch() {
        let d = Digest::sha256_of(b"hello world");
        let mut s = VerifyingStream::new(chunks(&[b"hello ", b"wOrld"]), d.clone(), None);
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.unwrap().is_ok());
        match s.next().await {
            Some(Err(StoreError::Digest(m))) => {
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
        let mut s = VerifyingStream::new(chunks(&[b"hello ", b"wOrld"]), d.clone(), Some(11));
        assert!(s.next().await.unwrap().is_ok());
        assert!(matches!(s.next().await, Some(Err(StoreError::Digest(_)))));
        assert!(s.next().await.is_none());
        // Matching content: every chunk, then the end.
        let mut s = VerifyingStream::new(chunks(&[b"hello ", b"world"]), d, Some(11));
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn fails_early_when_too_long_and_at_the_end_when_too_short() {
        let d = Digest::sha256_of(b"hello");
        let long = drain(VerifyingStream::new(
            chunks(&[b"hello", b"!"]),
            d.clone(),
            Some(5),
        ))
        .await;
        assert!(matches!(long, Err(StoreError::Size { actual: 6, .. })));
        let short = drain(VerifyingStream::new(chunks(&[b"hel"]), d.clone(), Some(5))).await;
        assert!(matches!(
            short,
            Err(StoreError::Size {
                expected: 5,
                actual: 3,
                ..
            })
        ));
        // Size unknown: only the digest decides.
        assert!(
            drain(VerifyingStream::new(chunks(&[b"hello"]), d, None))
                .await
                .is_ok()
        );
    }
}
