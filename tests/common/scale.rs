//! A registry:2 storage root of many repositories, written straight as
//! files (no HTTP), for the scale test and `bench/compare.sh`. Deterministic:
//! the same `repos` gives the same root, so two copies can be collected by
//! two collectors and compared.
//!
//! Shape per repository `r`: ten image manifests, `t0`..`t4` tagged and five
//! untagged; each has its own config; the tagged ones use one of three
//! layers of their own plus a base layer shared by ten repositories; the
//! untagged ones use a fourth layer only they reference. Every tenth
//! repository also holds an unreferenced blob link (an orphan upload). At
//! 2,000 repositories: 20,000 manifests (half untagged), ~48,000 blobs.

use std::collections::BTreeSet;
use std::path::Path;

use regctl::types::Digest;

/// What [`write_root`] wrote, and what a correct collector keeps.
pub struct ScaleRoot {
    pub repositories: usize,
    pub manifests: usize,
    pub blobs: usize,
    /// Blobs that survive `gc --delete-untagged`.
    pub surviving: BTreeSet<String>,
}

const LINK_DIRS: &str = "docker/registry/v2/repositories";

fn write(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, data).unwrap();
}

fn put_blob(root: &Path, data: &[u8]) -> Digest {
    let d = Digest::sha256_of(data);
    let hex = d.hex();
    let path = root.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    if !path.exists() {
        write(&path, data);
    }
    d
}

fn link(root: &Path, repo: &str, rel: &str, d: &Digest) {
    write(
        &root.join(format!("{LINK_DIRS}/{repo}/{rel}/link")),
        d.to_string().as_bytes(),
    );
}

fn layer_bytes(seed: &str) -> Vec<u8> {
    // Small and distinct: 96 hex characters from the seed's digests.
    let mut out = Vec::with_capacity(96);
    for i in 0..3 {
        let d = Digest::sha256_of(format!("{seed}/{i}").as_bytes());
        out.extend_from_slice(&d.hex().as_bytes()[..32]);
    }
    out
}

fn descriptor(media_type: &str, d: &Digest, size: usize) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{d}","size":{size}}}"#)
}

/// Writes `repos` repositories (named `scale/gNNN/rNNNNN`) under `root`.
pub fn write_root(root: &Path, repos: usize) -> ScaleRoot {
    let mut all = BTreeSet::new();
    let mut surviving = BTreeSet::new();
    let mut manifests = 0;
    for r in 0..repos {
        let repo = format!("scale/g{:03}/r{r:05}", r / 10);
        let base_data = layer_bytes(&format!("base/{}", r / 10));
        let base = put_blob(root, &base_data);
        let own: Vec<(Digest, usize)> = (1..=4)
            .map(|i| {
                let data = layer_bytes(&format!("{repo}/layer{i}"));
                (put_blob(root, &data), data.len())
            })
            .collect();
        for (d, _) in std::iter::once((&base, 0)).chain(own.iter().map(|(d, s)| (d, *s))) {
            link(root, &repo, &format!("_layers/sha256/{}", d.hex()), d);
            all.insert(d.to_string());
        }
        for j in 0..10 {
            let tagged = j < 5;
            let config_data = format!(
                r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["R={repo}","J={j}"]}}}}"#
            );
            let config = put_blob(root, config_data.as_bytes());
            link(
                root,
                &repo,
                &format!("_layers/sha256/{}", config.hex()),
                &config,
            );
            let (layer, layer_size) = if tagged { &own[j % 3] } else { &own[3] };
            let body = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{},{}]}}"#,
                descriptor(
                    "application/vnd.oci.image.config.v1+json",
                    &config,
                    config_data.len()
                ),
                descriptor(
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                    &base,
                    base_data.len()
                ),
                descriptor(
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                    layer,
                    *layer_size
                ),
            );
            let m = put_blob(root, body.as_bytes());
            manifests += 1;
            link(
                root,
                &repo,
                &format!("_manifests/revisions/sha256/{}", m.hex()),
                &m,
            );
            all.extend([config.to_string(), m.to_string()]);
            if tagged {
                link(root, &repo, &format!("_manifests/tags/t{j}/current"), &m);
                link(
                    root,
                    &repo,
                    &format!("_manifests/tags/t{j}/index/sha256/{}", m.hex()),
                    &m,
                );
                surviving.extend([
                    config.to_string(),
                    m.to_string(),
                    base.to_string(),
                    layer.to_string(),
                ]);
            }
        }
        if r % 10 == 0 {
            let orphan = put_blob(root, &layer_bytes(&format!("{repo}/orphan")));
            link(
                root,
                &repo,
                &format!("_layers/sha256/{}", orphan.hex()),
                &orphan,
            );
            all.insert(orphan.to_string());
        }
    }
    ScaleRoot {
        repositories: repos,
        manifests,
        blobs: all.len(),
        surviving,
    }
}

/// Every blob file under a root, by digest.
pub fn blobs_on_disk(root: &Path) -> BTreeSet<String> {
    blob_sizes_on_disk(root).into_keys().collect()
}

/// Every blob with data under a root, and its size.
pub fn blob_sizes_on_disk(root: &Path) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let dir = root.join("docker/registry/v2/blobs/sha256");
    for shard in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        for blob in std::fs::read_dir(shard.path()).unwrap().flatten() {
            if let Ok(meta) = std::fs::metadata(blob.path().join("data")) {
                let digest = format!("sha256:{}", blob.file_name().to_string_lossy());
                out.insert(digest, meta.len());
            }
        }
    }
    out
}
