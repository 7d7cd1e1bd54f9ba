//! The client's `WWW-Authenticate` challenge parser. Properties: it
//! terminates on anything (libFuzzer's -timeout catches a loop); a Bearer
//! challenge written with quoted, escaped parameters parses back to exactly
//! its realm, service and scope, also after another challenge.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use regctl::client::auth::{Challenge, parse_www_authenticate};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: &'a str,
    realm: String,
    service: Option<String>,
    scope: Option<String>,
    basic_first: bool,
}

fn quoted(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fuzz_target!(|input: Input<'_>| {
    for c in parse_www_authenticate(input.header) {
        if let Challenge::Bearer { realm, .. } = c {
            // Skipped when absent, so never invented.
            let _ = realm;
        }
    }

    let mut header = format!("Bearer realm={}", quoted(&input.realm));
    if let Some(s) = &input.service {
        header.push_str(&format!(",service={}", quoted(s)));
    }
    if let Some(s) = &input.scope {
        header.push_str(&format!(", scope={}", quoted(s)));
    }
    let bearer = Challenge::Bearer {
        realm: input.realm.clone(),
        service: input.service.clone(),
        scope: input.scope.clone(),
    };
    assert_eq!(
        parse_www_authenticate(&header),
        vec![bearer.clone()],
        "{header:?}"
    );
    if input.basic_first {
        let both = format!("Basic realm=\"registry\", {header}");
        assert_eq!(
            parse_www_authenticate(&both),
            vec![
                Challenge::Basic {
                    realm: Some("registry".into())
                },
                bearer
            ],
            "{both:?}"
        );
    }
});
