//! The server's `Range` (blob GET) and `Content-Range` (upload PATCH)
//! parsers. Properties: an accepted range lies inside the blob and its
//! length cannot overflow; ranges written in the canonical forms parse to
//! exactly what was written.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use regctl::server::fuzzing::{ByteRange, ContentRange, parse_content_range, parse_range};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: &'a str,
    size: u64,
    a: u64,
    b: u64,
}

fuzz_target!(|input: Input<'_>| {
    let Input { header, size, a, b } = input;

    if let Ok(Some(r)) = parse_range(header, size) {
        assert!(
            r.start <= r.end && r.end < size,
            "{header:?} size {size}: {r:?}"
        );
        // What the GET handler computes.
        let _len = r.end - r.start + 1;
    }
    let (lo, hi) = (a.min(b), a.max(b));
    if hi < size {
        assert_eq!(
            parse_range(&format!("bytes={lo}-{hi}"), size),
            Ok(Some(ByteRange { start: lo, end: hi }))
        );
    }
    if a > 0 && size > 0 {
        assert_eq!(
            parse_range(&format!("bytes=-{a}"), size),
            Ok(Some(ByteRange {
                start: size - a.min(size),
                end: size - 1
            }))
        );
    }

    if let Some(c) = parse_content_range(header) {
        assert!(c.start <= c.end && c.end < u64::MAX, "{header:?}: {c:?}");
        // What the PATCH handler computes.
        let _ = (c.byte_count(), c.end + 1);
        assert_eq!(
            parse_content_range(&format!("{}-{}", c.start, c.end)),
            Some(c)
        );
    }
    let expected = (hi < u64::MAX).then_some(ContentRange { start: lo, end: hi });
    assert_eq!(parse_content_range(&format!("{lo}-{hi}")), expected);
    assert_eq!(parse_content_range(&format!("bytes {lo}-{hi}/*")), expected);
});
