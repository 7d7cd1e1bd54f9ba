//! Splits a `/v2/...` path into a route. Repository names may have any
//! number of components, so the path is split from the right on the fixed
//! suffixes instead of matching one route pattern per depth.

/// What a `/v2/` request addresses. Names and references are still raw
/// strings here; handlers validate them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    Base,
    Catalog,
    Tags {
        name: &'a str,
    },
    Manifest {
        name: &'a str,
        reference: &'a str,
    },
    Blob {
        name: &'a str,
        digest: &'a str,
    },
    UploadStart {
        name: &'a str,
    },
    Upload {
        name: &'a str,
        id: &'a str,
    },
    Referrers {
        name: &'a str,
        digest: &'a str,
    },
    /// `/v2/_regctl/gc`: online garbage collection (see `admin`).
    AdminGc,
    /// `/v2/_regctl/ui/WHAT`: data for the web UI (see `ui`).
    Ui {
        what: &'a str,
    },
}

impl<'a> Route<'a> {
    /// The repository a route is on, if any.
    pub fn repository(&self) -> Option<&'a str> {
        match *self {
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
            Route::Base | Route::Catalog | Route::AdminGc | Route::Ui { .. } => None,
        }
    }
}

/// Parses the path after `/v2`; `None` for anything that is no route.
pub fn parse(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if rest == "_regctl/gc" {
        return Some(Route::AdminGc);
    }
    if let Some(what) = rest.strip_prefix("_regctl/ui/") {
        return Some(Route::Ui { what });
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return non_empty(name).map(|name| Route::Tags { name });
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return non_empty(name).map(|name| Route::UploadStart { name });
    }
    let split = |marker: &str| {
        rest.rfind(marker).and_then(|i| {
            let (name, tail) = (&rest[..i], &rest[i + marker.len()..]);
            (!name.is_empty() && !tail.is_empty() && !tail.contains('/')).then_some((name, tail))
        })
    };
    if let Some((name, id)) = split("/blobs/uploads/") {
        return Some(Route::Upload { name, id });
    }
    if let Some((name, reference)) = split("/manifests/") {
        return Some(Route::Manifest { name, reference });
    }
    if let Some((name, digest)) = split("/blobs/") {
        return Some(Route::Blob { name, digest });
    }
    if let Some((name, digest)) = split("/referrers/") {
        return Some(Route::Referrers { name, digest });
    }
    None
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_from_the_right() {
        assert_eq!(parse("/v2/"), Some(Route::Base));
        assert_eq!(parse("/v2"), Some(Route::Base));
        assert_eq!(parse("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(
            parse("/v2/a/b/c/tags/list"),
            Some(Route::Tags { name: "a/b/c" })
        );
        assert_eq!(
            parse("/v2/a/manifests/b/manifests/latest"),
            Some(Route::Manifest {
                name: "a/manifests/b",
                reference: "latest"
            })
        );
        assert_eq!(
            parse("/v2/x/blobs/sha256:ab"),
            Some(Route::Blob {
                name: "x",
                digest: "sha256:ab"
            })
        );
        assert_eq!(
            parse("/v2/x/y/blobs/uploads/"),
            Some(Route::UploadStart { name: "x/y" })
        );
        assert_eq!(
            parse("/v2/x/blobs/uploads/abc"),
            Some(Route::Upload {
                name: "x",
                id: "abc"
            })
        );
        assert_eq!(
            parse("/v2/x/referrers/sha256:ab"),
            Some(Route::Referrers {
                name: "x",
                digest: "sha256:ab"
            })
        );
        assert_eq!(
            parse("/v2/_regctl/ui/repositories"),
            Some(Route::Ui {
                what: "repositories"
            })
        );
        assert_eq!(parse("/v2/x/manifests/"), None);
        assert_eq!(parse("/v2/manifests/x"), None);
        assert_eq!(parse("/v3/x"), None);
        assert_eq!(parse("/v2/x/unknown"), None);
    }
}
