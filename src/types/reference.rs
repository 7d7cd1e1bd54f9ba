//! Image references: `[host[:port]/]path[:tag][@digest]`, parsed the way
//! docker does, with names checked against the distribution spec's rules.

use std::fmt;

use super::digest::{Digest, DigestError};

/// Docker Hub's canonical registry name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// Longest repository name regctl accepts (the limit registry:2 enforces).
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag allowed by the spec.
pub const MAX_TAG_LEN: usize = 128;

/// What is wrong with a reference, naming the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid reference {0:?}: it is empty")]
    Empty(String),
    #[error(
        "invalid reference {input:?}: repository name {name:?} must be lowercase (use {lower:?})"
    )]
    NameUppercase {
        input: String,
        name: String,
        lower: String,
    },
    #[error(
        "invalid reference {input:?}: repository name {name:?} breaks the naming rule: path components of \
         lowercase letters and digits, separated by '/', with single '.', '_', '__' or runs of '-' between them"
    )]
    NameInvalid { input: String, name: String },
    #[error(
        "invalid reference {input:?}: repository name is {len} characters, the limit is {MAX_NAME_LEN}"
    )]
    NameTooLong { input: String, len: usize },
    #[error(
        "invalid reference {input:?}: tag {tag:?} breaks the tag rule: up to 128 characters of letters, digits, \
         '_', '.' and '-', not starting with '.' or '-'"
    )]
    TagInvalid { input: String, tag: String },
    #[error("invalid reference {input:?}: {source}")]
    Digest {
        input: String,
        #[source]
        source: DigestError,
    },
    #[error(
        "invalid registry {input:?}: expected a host name with an optional port, e.g. localhost:5000"
    )]
    RegistryInvalid { input: String },
    /// `http://` or `https://` before a reference, where none is accepted
    /// (the command line strips and honours it with [`split_scheme`]).
    #[error(
        "invalid reference {input:?}: a scheme (http:// or https://) is not accepted here; \
         write the reference without it"
    )]
    SchemeNotAccepted { input: String },
}

/// How a registry is spoken to, when the user says so with an `http://` or
/// `https://` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Splits an explicit `http://` / `https://` (any case) off a registry or
/// reference argument: `https://localhost:5000/a` -> `(Some(Https),
/// "localhost:5000/a")`. Anything else is returned unchanged.
pub fn split_scheme(input: &str) -> (Option<Scheme>, &str) {
    for (prefix, scheme) in [("https://", Scheme::Https), ("http://", Scheme::Http)] {
        if input.len() >= prefix.len()
            && input.is_char_boundary(prefix.len())
            && input[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            return (Some(scheme), &input[prefix.len()..]);
        }
    }
    (None, input)
}

/// Checks a repository name against the distribution spec's name grammar.
/// Also what keeps names safe to use as storage paths: no `..`, no leading
/// `/`, no empty components, no characters outside `[a-z0-9._/-]`.
pub fn validate_repository(name: &str) -> Result<(), ParseError> {
    validate_repository_in(name, name)
}

fn validate_repository_in(name: &str, input: &str) -> Result<(), ParseError> {
    if name.len() > MAX_NAME_LEN {
        return Err(ParseError::NameTooLong {
            input: input.to_owned(),
            len: name.len(),
        });
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        let lower = name.to_ascii_lowercase();
        if name_is_valid(&lower) {
            return Err(ParseError::NameUppercase {
                input: input.to_owned(),
                name: name.to_owned(),
                lower,
            });
        }
    }
    if !name_is_valid(name) {
        return Err(ParseError::NameInvalid {
            input: input.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn name_is_valid(name: &str) -> bool {
    !name.is_empty() && name.split('/').all(component_is_valid)
}

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
fn component_is_valid(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Checks a tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), ParseError> {
    if tag_is_valid(tag) {
        Ok(())
    } else {
        Err(ParseError::TagInvalid {
            input: tag.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

fn tag_is_valid(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

/// Checks a registry host: `host[:port]`, `[v6addr][:port]`.
pub fn validate_registry(host: &str) -> Result<(), ParseError> {
    let err = || ParseError::RegistryInvalid {
        input: host.to_owned(),
    };
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(err)?;
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(err());
        }
        match after {
            "" => ("v6", None),
            p => ("v6", Some(p.strip_prefix(':').ok_or_else(err)?)),
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(err())
    }
}

/// A registry image reference, fully resolved: the registry is always known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `[host[:port]/]path[:tag][@digest]`. Names without a registry
    /// go to `default_registry`; one-component names on Docker Hub get the
    /// `library/` prefix.
    pub fn parse(input: &str, default_registry: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::Empty(input.to_owned()));
        }
        if split_scheme(input).0.is_some() {
            return Err(ParseError::SchemeNotAccepted {
                input: input.to_owned(),
            });
        }
        let (rest, digest) = match input.rsplit_once('@') {
            Some((rest, d)) => {
                let digest = d.parse::<Digest>().map_err(|source| ParseError::Digest {
                    input: input.to_owned(),
                    source,
                })?;
                (rest, Some(digest))
            }
            None => (input, None),
        };
        // The tag follows the last ':' after the last '/': a ':' before a
        // '/' is a host's port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag
            && !tag_is_valid(t)
        {
            return Err(ParseError::TagInvalid {
                input: input.to_owned(),
                tag: t.to_owned(),
            });
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.starts_with('[') =>
            {
                validate_registry(first).map_err(|_| ParseError::RegistryInvalid {
                    input: input.to_owned(),
                })?;
                (normalize_registry(first), path.to_owned())
            }
            _ => (normalize_registry(default_registry), name.to_owned()),
        };
        let repository =
            if registry == DOCKER_HUB && !repository.contains('/') && !repository.is_empty() {
                format!("library/{repository}")
            } else {
                repository
            };
        if repository.is_empty() {
            return Err(ParseError::Empty(input.to_owned()));
        }
        validate_repository_in(&repository, input)?;
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Builds a reference from parts that have already been validated.
    pub fn new(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<Digest>,
    ) -> Result<Self, ParseError> {
        validate_registry(registry)?;
        validate_repository(repository)?;
        if let Some(t) = tag {
            validate_tag(t)?;
        }
        Ok(Reference {
            registry: normalize_registry(registry),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// `host[:port]` as written in references (`docker.io` for Docker Hub).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host to send API requests to (`registry-1.docker.io` for Hub).
    pub fn api_host(&self) -> &str {
        registry_api_host(&self.registry)
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to put after `/manifests/`: the digest if known, else the tag,
    /// else `latest`.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The tag, defaulting to `latest` when neither tag nor digest was given.
    pub fn tag_or_latest(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    pub fn with_digest(&self, digest: Digest) -> Self {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    pub fn with_tag(&self, tag: &str) -> Result<Self, ParseError> {
        validate_tag(tag)?;
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository with neither tag nor digest.
    pub fn repo_only(&self) -> Self {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn normalize_registry(host: &str) -> String {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_owned()
        }
        h => h.to_owned(),
    }
}

/// The host serving the API for a registry name.
pub fn registry_api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API_HOST
    } else {
        registry
    }
}

/// Whether a registry lives on this machine (localhost, 127.0.0.0/8, ::1):
/// such registries are spoken to over plain http by default.
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn p(s: &str) -> Reference {
        Reference::parse(s, DOCKER_HUB).unwrap()
    }

    #[test]
    fn docker_hub_defaults() {
        let r = p("busybox");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), None);
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(p("cdecl/alpine:3").repository(), "cdecl/alpine");
        assert_eq!(p("index.docker.io/busybox").repository(), "library/busybox");
    }

    #[test]
    fn hosts_ports_tags_and_digests() {
        let r = p("localhost:5000/busybox:1.0");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("localhost:5000", "busybox", Some("1.0"))
        );
        let r = p(&format!("ghcr.io/a/b/c:v1@{D}"));
        assert_eq!(r.registry(), "ghcr.io");
        assert_eq!(r.repository(), "a/b/c");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.manifest_reference(), D);
        assert_eq!(r.to_string(), format!("ghcr.io/a/b/c:v1@{D}"));
        let r = p("localhost/x");
        assert_eq!(r.registry(), "localhost");
        let r = p("[::1]:5000/x:y");
        assert_eq!((r.registry(), r.repository()), ("[::1]:5000", "x"));
    }

    #[test]
    fn short_names_use_the_given_default() {
        let r = Reference::parse("busybox:1.0", "127.0.0.1:5000").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "busybox");
        assert_eq!(r.to_string(), "127.0.0.1:5000/busybox:1.0");
    }

    #[test]
    fn display_parses_back() {
        assert_eq!(
            p("docker.io/library/a:b").to_string(),
            "docker.io/library/a:b"
        );
        let r = p(&format!("localhost:5000/x/y@{D}"));
        assert_eq!(Reference::parse(&r.to_string(), "other").unwrap(), r);
    }

    #[test]
    fn rejects_bad_input_with_the_rule() {
        let e = Reference::parse("Busybox", DOCKER_HUB).unwrap_err();
        assert!(matches!(e, ParseError::NameUppercase { .. }), "{e}");
        assert!(e.to_string().contains("lowercase"));
        for bad in [
            "a/../b", "a//b", "-a", "a-", "a..b", "/a", "a b", "a/b/", "é",
        ] {
            assert!(
                matches!(
                    Reference::parse(bad, "localhost:5000"),
                    Err(ParseError::NameInvalid { .. } | ParseError::Empty(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Reference::parse("a:-bad", "r"),
            Err(ParseError::TagInvalid { .. })
        ));
        assert!(matches!(
            Reference::parse("a@sha256:zz", "r"),
            Err(ParseError::Digest { .. })
        ));
        assert!(matches!(
            Reference::parse("", "r"),
            Err(ParseError::Empty(_))
        ));
        let long = "a".repeat(256);
        assert!(matches!(
            Reference::parse(&long, "r"),
            Err(ParseError::NameTooLong { .. })
        ));
        assert!(Reference::parse("localhost:99999/a", "r").is_err());
    }

    #[test]
    fn component_separators() {
        for ok in ["a.b", "a_b", "a__b", "a---b", "a1/b2/c3", "0"] {
            assert!(validate_repository(ok).is_ok(), "{ok}");
        }
        for bad in ["a___b", "a.-b", "a._b", ".a", "a.", ""] {
            assert!(validate_repository(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(validate_tag("latest").is_ok());
        assert!(validate_tag("_x.Y-1").is_ok());
        assert!(validate_tag(&"a".repeat(128)).is_ok());
        assert!(validate_tag(&"a".repeat(129)).is_err());
        assert!(validate_tag(".a").is_err());
        assert!(validate_tag("a/b").is_err());
        assert!(validate_tag("").is_err());
    }

    #[test]
    fn schemes_are_split_off_and_refused_by_the_parser() {
        assert_eq!(
            split_scheme("https://localhost:5704"),
            (Some(Scheme::Https), "localhost:5704")
        );
        assert_eq!(
            split_scheme("HTTP://localhost:5000/busybox:1"),
            (Some(Scheme::Http), "localhost:5000/busybox:1")
        );
        assert_eq!(split_scheme("localhost:5000/a"), (None, "localhost:5000/a"));
        assert_eq!(split_scheme("http:"), (None, "http:"));
        assert_eq!(split_scheme("é"), (None, "é"));
        let e = Reference::parse("http://localhost:5000/busybox", DOCKER_HUB).unwrap_err();
        assert!(matches!(e, ParseError::SchemeNotAccepted { .. }), "{e}");
        assert!(e.to_string().contains("scheme"), "{e}");
    }

    #[test]
    fn loopback_detection() {
        for l in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
        ] {
            assert!(is_loopback_registry(l), "{l}");
        }
        for r in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_loopback_registry(r), "{r}");
        }
    }
}
