//! Times as registries and image configs write them.

use std::time::{Duration, SystemTime};

/// An RFC 3339 time as image configs and registry:2's `startedat` files
/// write it: `Z` or a numeric offset, with or without fractions.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    if let Ok(t) = humantime::parse_rfc3339_weak(s.trim_end_matches(['Z', 'z'])) {
        return Some(t);
    }
    // `2024-01-02T03:04:05.123+02:00`: apply the offset by hand.
    let (local, sign, offset) = match s.rfind(['+', '-']) {
        Some(i) if i > 10 => (&s[..i], &s[i..i + 1], &s[i + 1..]),
        _ => return None,
    };
    let (h, m) = offset.split_once(':')?;
    let shift = Duration::from_secs(h.parse::<u64>().ok()? * 3600 + m.parse::<u64>().ok()? * 60);
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    if sign == "+" {
        t.checked_sub(shift)
    } else {
        t.checked_add(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets() {
        let z = parse_rfc3339("2024-01-02T03:04:05Z").unwrap();
        assert!(parse_rfc3339("2024-01-02T03:04:05.5Z").unwrap() > z);
        assert_eq!(parse_rfc3339("2024-01-02T05:04:05+02:00"), Some(z));
        assert_eq!(parse_rfc3339("2024-01-02T01:04:05-02:00"), Some(z));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339(""), None);
    }
}
