//! Test images built in memory, deterministic from a seed: real tar.gz
//! layers, a valid config, OCI or Docker schema2 media types, and indexes.

use std::io::Write;
use std::path::Path;

use regctl::types::Digest;
use regctl::types::media_type::*;
use serde_json::json;

/// A single-platform image.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub manifest: Vec<u8>,
    pub media_type: &'static str,
    pub digest: Digest,
    pub config: Vec<u8>,
    pub layers: Vec<Vec<u8>>,
}

/// A tar.gz holding one file whose content comes from the seed.
fn layer(seed: &str, index: usize, size: usize) -> Vec<u8> {
    let mut content = Vec::with_capacity(size);
    let mut block = Digest::sha256_of(format!("{seed}/{index}").as_bytes())
        .to_string()
        .into_bytes();
    while content.len() < size {
        content.extend_from_slice(&block);
        block = Digest::sha256_of(&block).to_string().into_bytes();
    }
    content.truncate(size);
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, format!("file-{index}.txt"), content.as_slice())
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

fn diff_id(gz: &[u8]) -> String {
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut plain).unwrap();
    Digest::sha256_of(&plain).to_string()
}

impl TestImage {
    pub fn oci(seed: &str, layer_count: usize, layer_size: usize) -> Self {
        Self::build(seed, layer_count, layer_size, "linux/amd64", false)
    }

    pub fn docker(seed: &str, layer_count: usize, layer_size: usize) -> Self {
        Self::build(seed, layer_count, layer_size, "linux/amd64", true)
    }

    fn build(
        seed: &str,
        layer_count: usize,
        layer_size: usize,
        platform: &str,
        docker: bool,
    ) -> Self {
        let (manifest_type, config_type, layer_type) = if docker {
            (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_TAR_GZIP)
        } else {
            (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_TAR_GZIP)
        };
        let mut parts = platform.split('/');
        let os = parts.next().unwrap_or("linux");
        let arch = parts.next().unwrap_or("amd64");
        let variant = parts.next();
        let layers: Vec<Vec<u8>> = (0..layer_count)
            .map(|i| layer(seed, i, layer_size))
            .collect();
        let mut config = json!({
            "created": "2026-01-02T03:04:05Z",
            "architecture": arch,
            "os": os,
            "config": {"Cmd": ["/bin/sh"], "Env": [format!("SEED={seed}")], "Labels": {"seed": seed}},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| diff_id(l)).collect::<Vec<_>>()},
            "history": layers.iter().map(|_| json!({"created_by": "test"})).collect::<Vec<_>>(),
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let config = serde_json::to_vec(&config).unwrap();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": Digest::sha256_of(&config).to_string(), "size": config.len()},
            "layers": layers.iter().map(|l| json!({
                "mediaType": layer_type, "digest": Digest::sha256_of(l).to_string(), "size": l.len()
            })).collect::<Vec<_>>(),
        }))
        .unwrap();
        TestImage {
            digest: Digest::sha256_of(&manifest),
            manifest,
            media_type: manifest_type,
            config,
            layers,
        }
    }

    /// The same image with another `created` time in its config (so
    /// another config digest and manifest).
    pub fn with_created(mut self, created: &str) -> Self {
        let mut config: serde_json::Value = serde_json::from_slice(&self.config).unwrap();
        config["created"] = json!(created);
        self.config = serde_json::to_vec(&config).unwrap();
        let mut manifest: serde_json::Value = serde_json::from_slice(&self.manifest).unwrap();
        manifest["config"]["digest"] = json!(Digest::sha256_of(&self.config).to_string());
        manifest["config"]["size"] = json!(self.config.len());
        self.manifest = serde_json::to_vec(&manifest).unwrap();
        self.digest = Digest::sha256_of(&self.manifest);
        self
    }

    /// The same image with `layer` as its first layer (e.g. a blob another
    /// image already stored): another manifest.
    pub fn with_first_layer(mut self, layer: Vec<u8>) -> Self {
        let mut manifest: serde_json::Value = serde_json::from_slice(&self.manifest).unwrap();
        manifest["layers"][0]["digest"] = json!(Digest::sha256_of(&layer).to_string());
        manifest["layers"][0]["size"] = json!(layer.len());
        self.layers[0] = layer;
        self.manifest = serde_json::to_vec(&manifest).unwrap();
        self.digest = Digest::sha256_of(&self.manifest);
        self
    }

    /// Bytes of every blob and the manifest: what the image takes in a
    /// registry.
    pub fn stored_size(&self) -> u64 {
        self.blobs().iter().map(|b| b.len() as u64).sum::<u64>() + self.manifest.len() as u64
    }

    /// Every blob: config then layers.
    pub fn blobs(&self) -> Vec<&[u8]> {
        std::iter::once(self.config.as_slice())
            .chain(self.layers.iter().map(Vec::as_slice))
            .collect()
    }
}

/// An OCI index of OCI images, one per platform.
#[derive(Debug, Clone)]
pub struct TestIndex {
    pub manifest: Vec<u8>,
    pub digest: Digest,
    pub children: Vec<(String, TestImage)>,
}

impl TestIndex {
    pub fn new(seed: &str, platforms: &[&str]) -> Self {
        let children: Vec<(String, TestImage)> = platforms
            .iter()
            .map(|p| {
                let img = TestImage::build(&format!("{seed}-{p}"), 1, 512, p, false);
                ((*p).to_owned(), img)
            })
            .collect();
        let manifests: Vec<_> = children
            .iter()
            .map(|(p, img)| {
                let mut parts = p.split('/');
                let mut platform = json!({"os": parts.next(), "architecture": parts.next()});
                if let Some(v) = parts.next() {
                    platform["variant"] = json!(v);
                }
                json!({"mediaType": OCI_MANIFEST, "digest": img.digest.to_string(),
                       "size": img.manifest.len(), "platform": platform})
            })
            .collect();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests
        }))
        .unwrap();
        TestIndex {
            digest: Digest::sha256_of(&manifest),
            manifest,
            children,
        }
    }
}

/// What an OCI layout can hold under a tag.
pub enum Artifact<'a> {
    Image(&'a TestImage),
    Index(&'a TestIndex),
}

fn write_blob(dir: &Path, data: &[u8]) {
    let d = Digest::sha256_of(data);
    let path = dir.join("blobs/sha256").join(d.hex());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn write_image_blobs(dir: &Path, img: &TestImage) {
    for b in img.blobs() {
        write_blob(dir, b);
    }
    write_blob(dir, &img.manifest);
}

/// Writes an OCI image layout (`oci-layout`, `index.json`, `blobs/`).
pub fn write_oci_layout(dir: &Path, items: &[(&str, Artifact<'_>)]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut entries = Vec::new();
    for (tag, item) in items {
        let (media_type, digest, size) = match item {
            Artifact::Image(img) => {
                write_image_blobs(dir, img);
                (img.media_type, &img.digest, img.manifest.len())
            }
            Artifact::Index(idx) => {
                for (_, img) in &idx.children {
                    write_image_blobs(dir, img);
                }
                write_blob(dir, &idx.manifest);
                (OCI_INDEX, &idx.digest, idx.manifest.len())
            }
        };
        entries.push(json!({
            "mediaType": media_type, "digest": digest.to_string(), "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }));
    }
    let index = json!({"schemaVersion": 2, "manifests": entries});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}
