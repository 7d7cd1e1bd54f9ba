//! Where an image lives: a registry, or one of the image stores skopeo names
//! with a transport prefix (`oci:`, `oci-archive:`, `docker-archive:`).
//!
//! The path and the tag are split at the FIRST `:` after the prefix, as
//! containers/image does (`SplitPathAndImage` for `oci:`/`oci-archive:`,
//! `docker/archive` `ParseReference`), so `oci:dir:v1` means directory
//! `dir`, tag `v1`, and a path cannot itself contain `:`.

use std::fmt;
use std::path::PathBuf;

use super::reference::{ParseError, Reference};

pub const OCI_PREFIX: &str = "oci:";
pub const OCI_ARCHIVE_PREFIX: &str = "oci-archive:";
pub const DOCKER_ARCHIVE_PREFIX: &str = "docker-archive:";
pub const DOCKER_PREFIX: &str = "docker://";

/// skopeo transports regctl recognises but does not implement, so that
/// `dir:x` is reported as such rather than parsed as a registry name.
const UNSUPPORTED_TRANSPORTS: &[&str] = &[
    "dir",
    "docker-daemon",
    "containers-storage",
    "ostree",
    "sif",
    "tarball",
];

/// An image location as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    Registry(Reference),
    /// An OCI image layout directory; `tag` is its `org.opencontainers.image.ref.name`.
    OciDir {
        path: PathBuf,
        tag: Option<String>,
    },
    /// A tar of an OCI image layout.
    OciArchive {
        path: PathBuf,
        tag: Option<String>,
    },
    /// The `docker save` / `docker load` format; `reference` is a RepoTag such as `name:tag`.
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("invalid image {input:?}: the path after {prefix:?} is empty")]
    EmptyPath { input: String, prefix: &'static str },
    #[error(
        "invalid image {input:?}: {name:?} is not a valid OCI layout tag (letters and digits, \
         separated by single '-', '.', '_', ':', '@', '+' or '--', in '/'-separated components)"
    )]
    OciTag { input: String, name: String },
    #[error(
        "invalid image {input:?}: a docker-archive reference must be name[:tag], not a digest or an @index"
    )]
    DockerArchiveReference { input: String },
    #[error("invalid image {input:?}: {source}")]
    Reference {
        input: String,
        #[source]
        source: ParseError,
    },
    #[error(
        "invalid image {input:?}: transport {transport:?} is not supported; use a registry reference, \
         oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME:TAG]"
    )]
    UnsupportedTransport { input: String, transport: String },
}

impl ImageRef {
    /// Parses `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE[:NAME[:TAG]]`, `[docker://]REGISTRY-REFERENCE`.
    pub fn parse(input: &str, default_registry: &str) -> Result<Self, ImageRefError> {
        if let Some(rest) = input.strip_prefix(OCI_ARCHIVE_PREFIX) {
            let (path, tag) = split_path(input, rest, OCI_ARCHIVE_PREFIX)?;
            let tag = tag.map(|t| oci_tag(input, t)).transpose()?;
            return Ok(ImageRef::OciArchive { path, tag });
        }
        if let Some(rest) = input.strip_prefix(OCI_PREFIX) {
            let (path, tag) = split_path(input, rest, OCI_PREFIX)?;
            let tag = tag.map(|t| oci_tag(input, t)).transpose()?;
            return Ok(ImageRef::OciDir { path, tag });
        }
        if let Some(rest) = input.strip_prefix(DOCKER_ARCHIVE_PREFIX) {
            let (path, reference) = split_path(input, rest, DOCKER_ARCHIVE_PREFIX)?;
            let reference = reference
                .map(|r| docker_archive_reference(input, r))
                .transpose()?;
            return Ok(ImageRef::DockerArchive { path, reference });
        }
        let registry_ref = match input.strip_prefix(DOCKER_PREFIX) {
            Some(rest) => rest,
            None => {
                if let Some((transport, _)) = input.split_once(':')
                    && UNSUPPORTED_TRANSPORTS.contains(&transport)
                {
                    return Err(ImageRefError::UnsupportedTransport {
                        input: input.to_owned(),
                        transport: transport.to_owned(),
                    });
                }
                input
            }
        };
        Reference::parse(registry_ref, default_registry)
            .map(ImageRef::Registry)
            .map_err(|source| ImageRefError::Reference {
                input: input.to_owned(),
                source,
            })
    }

    /// The name inside the store: the tag, the RepoTag, or (registries) the
    /// tag if any. `None`: the store's only image, or a digest reference.
    pub fn name(&self) -> Option<&str> {
        match self {
            ImageRef::Registry(r) => r.tag(),
            ImageRef::OciDir { tag, .. } | ImageRef::OciArchive { tag, .. } => tag.as_deref(),
            ImageRef::DockerArchive { reference, .. } => reference.as_deref(),
        }
    }

    pub fn is_registry(&self) -> bool {
        matches!(self, ImageRef::Registry(_))
    }
}

fn split_path<'a>(
    input: &str,
    rest: &'a str,
    prefix: &'static str,
) -> Result<(PathBuf, Option<&'a str>), ImageRefError> {
    let (path, name) = match rest.split_once(':') {
        Some((p, n)) => (p, Some(n)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(ImageRefError::EmptyPath {
            input: input.to_owned(),
            prefix,
        });
    }
    // `oci:dir:` names no tag, as in skopeo.
    Ok((PathBuf::from(path), name.filter(|n| !n.is_empty())))
}

/// The OCI image layout's `ref.name` grammar (image-spec annotations.md):
/// components of alphanumerics joined by `-._:@+` or `--`, separated by `/`.
fn oci_tag(input: &str, name: &str) -> Result<String, ImageRefError> {
    let valid_component = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: u8| x.is_ascii_alphanumeric();
        if b.is_empty()
            || !b.first().copied().is_some_and(alnum)
            || !b.last().copied().is_some_and(alnum)
        {
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
            let ok = sep == "--" || (sep.len() == 1 && "-._:@+".contains(sep));
            if !ok {
                return false;
            }
        }
        true
    };
    if name.len() <= 255 && name.split('/').all(valid_component) {
        Ok(name.to_owned())
    } else {
        Err(ImageRefError::OciTag {
            input: input.to_owned(),
            name: name.to_owned(),
        })
    }
}

fn docker_archive_reference(input: &str, r: &str) -> Result<String, ImageRefError> {
    let bad = || ImageRefError::DockerArchiveReference {
        input: input.to_owned(),
    };
    if r.starts_with('@') {
        return Err(bad());
    }
    let parsed = Reference::parse(r, super::reference::DOCKER_HUB).map_err(|source| {
        ImageRefError::Reference {
            input: input.to_owned(),
            source,
        }
    })?;
    if parsed.digest().is_some() {
        return Err(bad());
    }
    Ok(r.to_owned())
}

/// Whether `s` would be parsed as something other than a registry reference.
fn looks_like_transport(s: &str) -> bool {
    [OCI_PREFIX, OCI_ARCHIVE_PREFIX, DOCKER_ARCHIVE_PREFIX]
        .iter()
        .any(|p| s.starts_with(p))
        || s.split_once(':')
            .is_some_and(|(t, _)| UNSUPPORTED_TRANSPORTS.contains(&t))
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, path, name) = match self {
            ImageRef::Registry(r) => {
                // A registry named like a transport (`oci:5000/app`) needs
                // the scheme, or it reads back as a local store.
                let shown = r.to_string();
                return if looks_like_transport(&shown) {
                    write!(f, "{DOCKER_PREFIX}{shown}")
                } else {
                    f.write_str(&shown)
                };
            }
            ImageRef::OciDir { path, tag } => (OCI_PREFIX, path, tag),
            ImageRef::OciArchive { path, tag } => (OCI_ARCHIVE_PREFIX, path, tag),
            ImageRef::DockerArchive { path, reference } => (DOCKER_ARCHIVE_PREFIX, path, reference),
        };
        write!(f, "{prefix}{}", path.display())?;
        if let Some(n) = name {
            write!(f, ":{n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ImageRef, ImageRefError> {
        ImageRef::parse(s, "docker.io")
    }

    #[test]
    fn oci_splits_at_the_first_colon() {
        assert_eq!(
            parse("oci:/tmp/layout:v1").unwrap(),
            ImageRef::OciDir {
                path: "/tmp/layout".into(),
                tag: Some("v1".into())
            }
        );
        // As in skopeo: everything after the first ':' is the tag.
        assert_eq!(
            parse("oci:dir:a:b").unwrap(),
            ImageRef::OciDir {
                path: "dir".into(),
                tag: Some("a:b".into())
            }
        );
        assert_eq!(
            parse("oci:dir").unwrap(),
            ImageRef::OciDir {
                path: "dir".into(),
                tag: None
            }
        );
        assert_eq!(parse("oci:dir:").unwrap().name(), None);
    }

    #[test]
    fn archives_parse() {
        assert_eq!(
            parse("oci-archive:img.tar:latest").unwrap(),
            ImageRef::OciArchive {
                path: "img.tar".into(),
                tag: Some("latest".into())
            }
        );
        assert_eq!(
            parse("docker-archive:/x/img.tar:busybox:1.36").unwrap(),
            ImageRef::DockerArchive {
                path: "/x/img.tar".into(),
                reference: Some("busybox:1.36".into())
            }
        );
        assert_eq!(parse("docker-archive:img.tar").unwrap().name(), None);
    }

    #[test]
    fn registry_references_with_and_without_docker_scheme() {
        let a = parse("docker://localhost:5000/app:v1").unwrap();
        let b = parse("localhost:5000/app:v1").unwrap();
        assert_eq!(a, b);
        assert!(a.is_registry());
        assert_eq!(a.name(), Some("v1"));
        assert_eq!(
            parse("busybox").unwrap().to_string(),
            "docker.io/library/busybox"
        );
    }

    #[test]
    fn rejects_bad_input_naming_the_problem() {
        assert!(matches!(
            parse("oci:"),
            Err(ImageRefError::EmptyPath { .. })
        ));
        assert!(matches!(
            parse("oci-archive::tag"),
            Err(ImageRefError::EmptyPath { .. })
        ));
        assert!(matches!(
            parse("oci:dir:bad tag"),
            Err(ImageRefError::OciTag { .. })
        ));
        assert!(matches!(
            parse("oci:dir:-x"),
            Err(ImageRefError::OciTag { .. })
        ));
        assert!(matches!(
            parse("docker-archive:f.tar:@0"),
            Err(ImageRefError::DockerArchiveReference { .. })
        ));
        let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(matches!(
            parse(&format!("docker-archive:f.tar:app@{digest}")),
            Err(ImageRefError::DockerArchiveReference { .. })
        ));
        assert!(matches!(
            parse("docker-archive:f.tar:UPPER"),
            Err(ImageRefError::Reference { .. })
        ));
        let err = parse("dir:/tmp/x").unwrap_err();
        assert!(matches!(err, ImageRefError::UnsupportedTransport { .. }));
        assert!(err.to_string().contains("oci:DIR"));
    }

    /// Fuzz regression (fuzz target reference): a registry whose host looks
    /// like a transport displayed without `docker://` and read back as a
    /// local store.
    #[test]
    fn registry_named_like_a_transport_displays_with_the_scheme() {
        for (input, shown) in [
            ("docker://oci:3/y", "docker://oci:3/y"),
            ("docker://dir:5000/a/b:v1", "docker://dir:5000/a/b:v1"),
            ("docker://oci-archive:1/x", "docker://oci-archive:1/x"),
            ("docker://ocihost:5000/x", "ocihost:5000/x"),
        ] {
            let parsed = parse(input).unwrap();
            assert!(parsed.is_registry(), "{input}");
            assert_eq!(parsed.to_string(), shown);
            assert_eq!(parse(&parsed.to_string()).unwrap(), parsed, "{input}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "oci:/tmp/layout:v1",
            "oci:rel/dir",
            "oci:dir:a:b",
            "oci-archive:img.tar:1.0",
            "oci-archive:img.tar",
            "docker-archive:img.tar:app:v2",
            "docker-archive:img.tar",
            "localhost:5000/app:v1",
            "docker.io/library/busybox:latest",
        ] {
            let parsed = parse(s).unwrap();
            assert_eq!(parsed.to_string(), s);
            assert_eq!(parse(&parsed.to_string()).unwrap(), parsed);
        }
    }
}
