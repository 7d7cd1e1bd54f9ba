//! Every storage key is built here, and only here, following registry:2's
//! `registry/storage/paths.go` exactly so that both servers can share a root.
//!
//! Keys are relative to the backend's root and always start with
//! `docker/registry/v2/`. Repository names and tags reach this module only as
//! [`RepoName`] and [`TagName`], which were validated against the spec's
//! grammar, and digests only as [`Digest`] (checked hex), so no key can
//! escape the root.

use std::fmt;

use crate::types::reference::{validate_repository, validate_tag};
use crate::types::{Digest, ParseError};

const V2: &str = "docker/registry/v2";

/// A repository name checked against the distribution spec's grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    pub fn new(name: &str) -> Result<Self, ParseError> {
        validate_repository(name)?;
        Ok(RepoName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tag checked against the spec's tag grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagName(String);

impl TagName {
    pub fn new(tag: &str) -> Result<Self, ParseError> {
        validate_tag(tag)?;
        Ok(TagName(tag.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `docker/registry/v2/repositories`: the catalog walks from here.
pub fn repositories_root() -> String {
    format!("{V2}/repositories")
}

/// `docker/registry/v2/blobs`: the garbage collector walks from here.
pub fn blobs_root() -> String {
    format!("{V2}/blobs")
}

/// `blobs/sha256`: every blob of one algorithm, in two-hex-digit shards.
pub fn blobs_dir(algorithm: &str) -> String {
    format!("{V2}/blobs/{algorithm}")
}

/// `blobs/sha256/ab`: one shard of the blob store.
pub fn blob_shard_dir(algorithm: &str, shard: &str) -> String {
    format!("{V2}/blobs/{algorithm}/{shard}")
}

/// `blobs/sha256/ab/abcdef.../data`
pub fn blob_data(d: &Digest) -> String {
    format!("{}/data", blob_dir(d))
}

/// `blobs/sha256/ab/abcdef...`
pub fn blob_dir(d: &Digest) -> String {
    let hex = d.hex();
    format!("{V2}/blobs/{}/{}/{hex}", d.algorithm(), &hex[..2])
}

pub fn repo_dir(repo: &RepoName) -> String {
    format!("{V2}/repositories/{repo}")
}

/// `_layers/sha256/HEX/link`: makes a blob visible in a repository.
pub fn layer_link(repo: &RepoName, d: &Digest) -> String {
    format!(
        "{}/_layers/{}/{}/link",
        repo_dir(repo),
        d.algorithm(),
        d.hex()
    )
}

/// `_layers/sha256/HEX`: the directory of one layer link.
pub fn layer_dir(repo: &RepoName, d: &Digest) -> String {
    format!("{}/_layers/{}/{}", repo_dir(repo), d.algorithm(), d.hex())
}

/// `_layers/sha256`: every layer link of one algorithm.
pub fn layers_dir(repo: &RepoName, algorithm: &str) -> String {
    format!("{}/_layers/{algorithm}", repo_dir(repo))
}

pub fn manifests_dir(repo: &RepoName) -> String {
    format!("{}/_manifests", repo_dir(repo))
}

/// `_manifests/revisions/sha256/HEX/link`: a manifest stored in a repository.
pub fn revision_link(repo: &RepoName, d: &Digest) -> String {
    format!(
        "{}/revisions/{}/{}/link",
        manifests_dir(repo),
        d.algorithm(),
        d.hex()
    )
}

pub fn revision_dir(repo: &RepoName, d: &Digest) -> String {
    format!(
        "{}/revisions/{}/{}",
        manifests_dir(repo),
        d.algorithm(),
        d.hex()
    )
}

/// `_manifests/revisions/sha256`
pub fn revisions_dir(repo: &RepoName, algorithm: &str) -> String {
    format!("{}/revisions/{algorithm}", manifests_dir(repo))
}

pub fn tags_dir(repo: &RepoName) -> String {
    format!("{}/tags", manifests_dir(repo))
}

pub fn tag_dir(repo: &RepoName, tag: &TagName) -> String {
    format!("{}/{tag}", tags_dir(repo))
}

/// `_manifests/tags/TAG/current/link`: what the tag points at now.
pub fn tag_current_link(repo: &RepoName, tag: &TagName) -> String {
    format!("{}/current/link", tag_dir(repo, tag))
}

/// `_manifests/tags/TAG/index/sha256/HEX/link`: every digest the tag had.
pub fn tag_index_link(repo: &RepoName, tag: &TagName, d: &Digest) -> String {
    format!(
        "{}/index/{}/{}/link",
        tag_dir(repo, tag),
        d.algorithm(),
        d.hex()
    )
}

/// `_manifests/tags/TAG/index/sha256/HEX`: one entry of a tag's history.
pub fn tag_index_dir(repo: &RepoName, tag: &TagName, d: &Digest) -> String {
    format!("{}/index/{}/{}", tag_dir(repo, tag), d.algorithm(), d.hex())
}

pub fn uploads_dir(repo: &RepoName) -> String {
    format!("{}/_uploads", repo_dir(repo))
}

/// `_uploads/ID/data`
pub fn upload_data(repo: &RepoName, id: &UploadId) -> String {
    format!("{}/{}/data", uploads_dir(repo), id.0)
}

/// `_uploads/ID/startedat`: RFC 3339 time, as registry:2 writes it.
pub fn upload_started_at(repo: &RepoName, id: &UploadId) -> String {
    format!("{}/{}/startedat", uploads_dir(repo), id.0)
}

pub fn upload_dir(repo: &RepoName, id: &UploadId) -> String {
    format!("{}/{}", uploads_dir(repo), id.0)
}

/// regctl's own coordination objects, beside `docker/` (registry:2 never
/// looks there): the collection lease of several servers on one bucket.
const REGCTL: &str = "_regctl";

/// `_regctl/gc/lease`: held by the one server collecting garbage.
pub fn gc_lease() -> String {
    format!("{REGCTL}/gc/lease")
}

/// `_regctl/gc/sweeping`: the digests the collector is about to delete.
pub fn gc_sweeping() -> String {
    format!("{REGCTL}/gc/sweeping")
}

/// `_regctl/gc/intents`: what writes used while a collection runs.
pub fn gc_intents_dir() -> String {
    format!("{REGCTL}/gc/intents")
}

/// `_regctl/gc/intents/ID`: one write's intent (ID: a UUID).
pub fn gc_intent(id: &uuid::Uuid) -> String {
    format!("{}/{}", gc_intents_dir(), id.simple())
}

/// An upload session id: a UUID, checked, so it is safe in a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    pub fn generate() -> Self {
        UploadId(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts only the canonical hyphenated UUID form.
    pub fn parse(s: &str) -> Option<Self> {
        let u = uuid::Uuid::parse_str(s).ok()?;
        let canonical = u.hyphenated().to_string();
        (canonical == s).then_some(UploadId(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn paths_match_registry2() {
        let d: Digest = format!("sha256:{HEX}").parse().unwrap();
        let repo = RepoName::new("library/busybox").unwrap();
        let tag = TagName::new("1.0").unwrap();
        assert_eq!(
            blob_data(&d),
            format!("docker/registry/v2/blobs/sha256/e3/{HEX}/data")
        );
        assert_eq!(
            layer_link(&repo, &d),
            format!("docker/registry/v2/repositories/library/busybox/_layers/sha256/{HEX}/link")
        );
        assert_eq!(
            revision_link(&repo, &d),
            format!(
                "docker/registry/v2/repositories/library/busybox/_manifests/revisions/sha256/{HEX}/link"
            )
        );
        assert_eq!(
            tag_current_link(&repo, &tag),
            "docker/registry/v2/repositories/library/busybox/_manifests/tags/1.0/current/link"
        );
        assert_eq!(
            tag_index_link(&repo, &tag, &d),
            format!(
                "docker/registry/v2/repositories/library/busybox/_manifests/tags/1.0/index/sha256/{HEX}/link"
            )
        );
    }

    #[test]
    fn unsafe_names_never_become_keys() {
        for bad in ["..", "a/../b", "/etc", "a/./b", "A", "a\0b", "%2e%2e"] {
            assert!(RepoName::new(bad).is_err(), "{bad:?}");
        }
        assert!(TagName::new("../x").is_err());
        assert!(UploadId::parse("../../x").is_none());
        assert!(UploadId::parse(&UploadId::generate().to_string()).is_some());
        assert!(UploadId::parse("E3B0C442-98FC-1C14-9AFB-F4C8996FB924").is_none());
    }
}
