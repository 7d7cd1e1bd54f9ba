//! The server's htpasswd reader and the Basic `Authorization` check.
//! Properties: parsing never panics; an accepted file's users answer only
//! with their own name; a line-number error names a line of the file; a
//! known good entry put before the file still parses and (unless the file
//! redefines that user) accepts exactly its password.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use regctl::server::{Htpasswd, HtpasswdError};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    file: &'a str,
    authorization: Option<&'a str>,
    user: &'a str,
    password: &'a str,
}

/// bcrypt's cost field as the bcrypt crate reads it; a high cost is slow by
/// design (2^cost rounds), which would only measure bcrypt, not regctl.
fn max_cost(file: &str) -> u32 {
    file.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .filter_map(|(_, h)| h.split('$').nth(2)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
}

/// `password` at cost 4 (a test vector of the bcrypt crate).
const KNOWN: &str = "alice:$2a$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96";

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fuzz_target!(|input: Input<'_>| {
    let with_known = Htpasswd::parse(&format!("{KNOWN}\n{}", input.file), "fuzz");
    let redefines = input.file.lines().any(|l| l.trim().starts_with("alice:"));
    if let Ok(h) = &with_known
        && !redefines
        && input.user == "alice"
        && input.password.len() <= 72
    {
        let ok = h.check(Some(&basic("alice", input.password))).is_some();
        assert_eq!(ok, input.password == "password", "{:?}", input.password);
    }
    let h = match Htpasswd::parse(input.file, "fuzz") {
        Ok(h) => h,
        Err(HtpasswdError::Entry { line, .. }) => {
            assert!(line >= 1 && line <= input.file.lines().count());
            return;
        }
        Err(e) => panic!("parse can only fail on an entry: {e}"),
    };
    if max_cost(input.file) > 5 {
        return;
    }
    assert!(with_known.is_ok(), "a valid first line broke the file");
    if let Some(user) = h.check(input.authorization) {
        assert!(input.file.contains(&format!("{user}:")));
    }
    if let Some(user) = h.check(Some(&basic(input.user, input.password))) {
        assert_eq!(
            user,
            input.user.split_once(':').map_or(input.user, |(u, _)| u)
        );
    }
});
