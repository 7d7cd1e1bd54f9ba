//! `oci-archive:` reading: the input (tar header checksums fixed up) is
//! written to a scratch directory and opened as a source; the images of its
//! index.json are resolved, index children followed (two levels) and every
//! blob read. Properties: no panic; manifests are named by their hash; a
//! blob stream that ends cleanly had the descriptor's digest and size;
//! nothing is written beside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regctl::store::{ImageSource, OciLayoutSource, open_oci_archive};
use regctl::types::{Manifest, ManifestBody};
use regctl_fuzz::{check_manifest_digest, drain_and_check, runtime, with_archive_file};

async fn walk(src: &OciLayoutSource, m: &Manifest, depth: u32) {
    check_manifest_digest(m);
    match m.body() {
        ManifestBody::Index(index) => {
            if depth == 0 {
                return;
            }
            for child in index.manifests.iter().take(4) {
                if let Ok(c) = src.manifest(&child.digest).await {
                    assert_eq!(c.digest(), &child.digest);
                    Box::pin(walk(src, &c, depth - 1)).await;
                }
            }
        }
        ManifestBody::Image(image) => {
            for desc in std::iter::once(&image.config).chain(image.layers.iter().take(8)) {
                if let Ok(stream) = src.blob(desc).await {
                    drain_and_check(desc, stream).await;
                }
            }
        }
        ManifestBody::Schema1(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    with_archive_file(data, |path| {
        runtime().block_on(async {
            let Ok(src) = open_oci_archive(path).await else {
                return;
            };
            let _ = src.location();
            let tags = src.tags().await.expect("tags of an open archive");
            let names = std::iter::once(None).chain(tags.iter().take(4).map(|t| Some(t.as_str())));
            for name in names {
                if let Ok(m) = src.resolve(name).await {
                    walk(&src, &m, 2).await;
                }
            }
        });
    });
});
