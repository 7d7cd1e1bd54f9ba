//! When to retry a request, and how long to wait first.

use std::time::{Duration, SystemTime};

/// Retry policy: exponential backoff for transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// What happened on one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The connection failed or was cut before a response.
    ConnectionError,
    Status(u16),
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The delay before retry number `retry` (0-based) after `outcome`, or
    /// `None` when it should not be retried. `retry_after` is the response's
    /// `Retry-After` header, honoured (up to `max_delay`) for 429 and 503.
    pub fn delay(
        &self,
        retry: u32,
        outcome: Outcome,
        retry_after: Option<&str>,
        now: SystemTime,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let retryable = match outcome {
            Outcome::ConnectionError => true,
            Outcome::Status(s) => matches!(s, 429 | 502 | 503 | 504),
        };
        if !retryable {
            return None;
        }
        if let Some(wait) = retry_after.and_then(|h| parse_retry_after(h, now)) {
            return Some(wait.min(self.max_delay));
        }
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)));
        Some(exp.min(self.max_delay))
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_exponentially_on_transient_failures() {
        let p = RetryPolicy::default();
        let now = SystemTime::now();
        let d: Vec<_> = (0..4)
            .map(|i| p.delay(i, Outcome::Status(503), None, now))
            .collect();
        assert_eq!(
            d,
            vec![
                Some(Duration::from_millis(250)),
                Some(Duration::from_millis(500)),
                Some(Duration::from_millis(1000)),
                None
            ]
        );
        assert!(p.delay(0, Outcome::ConnectionError, None, now).is_some());
        assert!(p.delay(0, Outcome::Status(502), None, now).is_some());
        assert!(p.delay(0, Outcome::Status(504), None, now).is_some());
    }

    #[test]
    fn does_not_retry_client_errors() {
        let p = RetryPolicy::default();
        let now = SystemTime::now();
        for s in [400, 401, 403, 404, 405, 500] {
            assert_eq!(p.delay(0, Outcome::Status(s), None, now), None, "{s}");
        }
        assert_eq!(
            RetryPolicy::none().delay(0, Outcome::Status(503), None, now),
            None
        );
    }

    #[test]
    fn honours_retry_after_seconds_and_dates_with_a_cap() {
        let p = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            p.delay(0, Outcome::Status(429), Some("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            p.delay(0, Outcome::Status(429), Some("86400"), now),
            Some(Duration::from_secs(30))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            p.delay(1, Outcome::Status(503), Some(&date), now),
            Some(Duration::from_secs(12))
        );
        // Garbage falls back to backoff.
        assert_eq!(
            p.delay(0, Outcome::Status(429), Some("soon"), now),
            Some(Duration::from_millis(250))
        );
    }
}
