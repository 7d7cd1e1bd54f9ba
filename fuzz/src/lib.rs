//! Helpers shared by the fuzz targets: a runtime for the async store API,
//! a scratch directory for archive inputs, and a tar checksum fix-up so
//! that mutated headers are still read as headers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use futures_util::StreamExt;
use regctl::store::BlobStream;
use regctl::types::{Descriptor, Digest};

/// One runtime per fuzzing process (building one per input would dominate
/// the time of each execution).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// A private scratch directory for this process, removed at exit by the OS
/// temp cleaner at the latest; each input is written to the same file.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("regctl-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
}

/// Writes `data` (with its tar header checksums fixed) as the only file of
/// the scratch directory and runs `f` on its path. Afterwards the directory
/// must still hold that one file, unchanged: readers never write.
pub fn with_archive_file(data: &[u8], f: impl FnOnce(&Path)) {
    let dir = scratch();
    let mut bytes = data.to_vec();
    fix_tar_checksums(&mut bytes);
    let path = dir.join("input.tar");
    std::fs::write(&path, &bytes).expect("write input");
    f(&path);
    let names: Vec<_> = std::fs::read_dir(dir)
        .expect("list scratch dir")
        .map(|e| e.expect("dir entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("input.tar")]);
    assert_eq!(std::fs::read(&path).expect("read input"), bytes);
}

/// Recomputes the checksum of every 512-byte block that looks like a ustar
/// header, so the fuzzer's edits to names, types, sizes and links are read
/// by the tar parser instead of being rejected as corrupt.
pub fn fix_tar_checksums(data: &mut [u8]) {
    for block in data.chunks_exact_mut(512) {
        if &block[257..262] != b"ustar" {
            continue;
        }
        block[148..156].fill(b' ');
        let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
        let field = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(field.as_bytes());
    }
}

/// Reads a blob stream to its end; when it ends without error the bytes must
/// match the descriptor (the verifying stream's promise).
pub async fn drain_and_check(desc: &Descriptor, mut stream: BlobStream) {
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => data.extend_from_slice(&c),
            Err(_) => return,
        }
    }
    assert_eq!(
        &desc.digest.recompute(&data),
        &desc.digest,
        "a blob stream ended cleanly with the wrong content"
    );
    if let Ok(size) = u64::try_from(desc.size) {
        assert_eq!(
            data.len() as u64,
            size,
            "a blob stream ended cleanly with the wrong size"
        );
    }
}

/// A manifest read from a store is named by the hash of its bytes.
pub fn check_manifest_digest(m: &regctl::types::Manifest) {
    assert_eq!(m.digest(), &m.digest().recompute(m.raw()));
    if m.digest().algorithm() == regctl::types::Algorithm::Sha256 {
        assert_eq!(m.digest(), &Digest::sha256_of(m.raw()));
    }
}
