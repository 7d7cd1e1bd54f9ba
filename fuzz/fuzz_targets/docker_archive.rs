//! `docker-archive:` reading: the input (tar header checksums fixed up) is
//! written to a scratch directory and opened as a source; every image it
//! names is resolved and every blob read. Properties: no panic; synthesised
//! manifests are named by their hash; a blob stream that ends cleanly had
//! the descriptor's digest and size; nothing is written beside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regctl::store::{DockerArchiveSource, ImageSource};
use regctl::types::ManifestBody;
use regctl_fuzz::{check_manifest_digest, drain_and_check, runtime, with_archive_file};

fuzz_target!(|data: &[u8]| {
    with_archive_file(data, |path| {
        runtime().block_on(async {
            let Ok(src) = DockerArchiveSource::open(path).await else {
                return;
            };
            let _ = src.location();
            let tags = src.tags().await.expect("tags of an open archive");
            let names = std::iter::once(None).chain(tags.iter().take(4).map(|t| Some(t.as_str())));
            for name in names {
                let Ok(m) = src.resolve(name).await else {
                    continue;
                };
                check_manifest_digest(&m);
                let again = src.manifest(m.digest()).await.expect("a resolved manifest");
                assert_eq!(again.raw(), m.raw());
                let ManifestBody::Image(image) = m.body() else {
                    panic!("a docker archive yields image manifests only");
                };
                for desc in std::iter::once(&image.config).chain(&image.layers) {
                    if let Ok(stream) = src.blob(desc).await {
                        drain_and_check(desc, stream).await;
                    }
                }
            }
        });
    });
});
