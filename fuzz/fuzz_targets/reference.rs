//! Image references (`[host[:port]/]path[:tag][@digest]`) and image
//! locations (`oci:`, `oci-archive:`, `docker-archive:`, `docker://`).
//! Property: whatever parses re-parses from its Display to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regctl::types::reference::{
    is_loopback_registry, validate_registry, validate_repository, validate_tag,
};
use regctl::types::{ImageRef, Reference};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for default in ["docker.io", "localhost:5000"] {
        if let Ok(r) = Reference::parse(s, default) {
            let shown = r.to_string();
            // Display always names the registry, so the default no longer matters.
            let again = Reference::parse(&shown, "example.com")
                .unwrap_or_else(|e| panic!("{s:?} parsed, its Display {shown:?} did not: {e}"));
            assert_eq!(again, r, "{s:?} -> {shown:?}");
            let rebuilt =
                Reference::new(r.registry(), r.repository(), r.tag(), r.digest().cloned())
                    .unwrap_or_else(|e| panic!("parts of {shown:?} do not rebuild: {e}"));
            assert_eq!(rebuilt, r);
            let _ = (r.manifest_reference(), r.tag_or_latest(), r.api_host());
            let _ = is_loopback_registry(r.registry());
        }
    }
    if let Ok(i) = ImageRef::parse(s, "docker.io") {
        let shown = i.to_string();
        let again = ImageRef::parse(&shown, "docker.io")
            .unwrap_or_else(|e| panic!("{s:?} parsed, its Display {shown:?} did not: {e}"));
        assert_eq!(again, i, "{s:?} -> {shown:?}");
        let _ = i.name();
    }
    let _ = validate_repository(s);
    let _ = validate_tag(s);
    let _ = validate_registry(s);
    let _ = is_loopback_registry(s);
});
