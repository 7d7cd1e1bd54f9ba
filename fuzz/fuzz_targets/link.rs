//! The client's `Link: <url>; rel="next"` pagination parser. Properties:
//! never panics; a next link written after a prev link (whose URL may hold
//! commas) is found and resolved against the request URL.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use regctl::client::pagination::next_link;
use url::Url;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: &'a str,
    base: u8,
    target: &'a str,
    prev: &'a str,
    quoted: bool,
}

const BASES: &[&str] = &[
    "http://127.0.0.1:5000/v2/_catalog?n=2",
    "https://registry.example/v2/a/b/tags/list",
    "http://[::1]:5000/v2/x/tags/list?n=10&last=a",
];

fuzz_target!(|input: Input<'_>| {
    let base = Url::parse(BASES[usize::from(input.base) % BASES.len()]).unwrap();
    let _ = next_link(input.header, &base);
    if input.target.contains('>') || input.prev.contains('>') {
        return;
    }
    let rel = if input.quoted { "\"next\"" } else { "next" };
    let header = format!(
        "<{}>; rel=\"prev\", <{}>; rel={rel}",
        input.prev, input.target
    );
    assert_eq!(
        next_link(&header, &base),
        base.join(input.target.trim()).ok(),
        "{header:?}"
    );
});
