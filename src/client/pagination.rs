//! `Link: <url>; rel="next"` pagination for `_catalog` and `tags/list`.

use url::Url;

/// The `rel="next"` target of a `Link` header, resolved against the URL of
/// the request that returned it (registries send relative links).
pub fn next_link(header: &str, base: &Url) -> Option<Url> {
    for part in split_links(header) {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return base.join(target.trim()).ok();
        }
    }
    None
}

/// Splits on commas that are outside `<...>` (URLs may contain commas).
fn split_links(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = false;
    let mut start = 0;
    for (i, c) in header.char_indices() {
        match c {
            '<' => depth = true,
            '>' => depth = false,
            ',' if !depth => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5000/v2/_catalog?n=2").unwrap()
    }

    #[test]
    fn resolves_relative_next_links() {
        let next = next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#, &base()).unwrap();
        assert_eq!(
            next.as_str(),
            "http://127.0.0.1:5000/v2/_catalog?last=b&n=2"
        );
    }

    #[test]
    fn accepts_absolute_and_unquoted_and_picks_next() {
        let h = r#"<https://other/v2/x?a=1,2>; rel=prev, <https://r.io/v2/a/tags/list?last=t>; rel=next"#;
        assert_eq!(
            next_link(h, &base()).unwrap().as_str(),
            "https://r.io/v2/a/tags/list?last=t"
        );
    }

    #[test]
    fn no_next_means_none() {
        assert_eq!(next_link(r#"</v2/x>; rel="prev""#, &base()), None);
        assert_eq!(next_link("garbage", &base()), None);
        assert_eq!(next_link("", &base()), None);
    }
}
