//! The server's htpasswd reader and the Basic `Authorization` check.
//! Properties: parsing never panics; an accepted file's users answer only
//! with their own name; a line-number error names a line of the file.
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

fuzz_target!(|input: Input<'_>| {
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
    if let Some(user) = h.check(input.authorization) {
        assert!(input.file.contains(&format!("{user}:")));
    }
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", input.user, input.password))
    );
    if let Some(user) = h.check(Some(&basic)) {
        assert_eq!(
            user,
            input.user.split_once(':').map_or(input.user, |(u, _)| u)
        );
    }
});
