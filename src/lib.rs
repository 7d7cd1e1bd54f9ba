//! regctl: a container-registry client, admin tool and embedded OCI registry.
//!
//! Layers, each using only those below it:
//! - [`types`]: pure data (references, digests, media types, manifests, errors)
//!   and the content check; [`durable`]: how a file is written so a crash
//!   cannot leave it half there;
//! - [`storage`]: registry:2's on-disk layout behind a small backend trait;
//! - [`client`]: the typed async HTTP registry client;
//! - [`store`]: image stores for copies (OCI layout directory and archive, docker archive);
//! - [`ops`]: operations over them (copy), reporting progress to an observer;
//! - [`server`]: the axum registry server over [`storage`].
//!
//! The command-line interface lives in the binary only.

pub mod client;
pub mod durable;
pub mod ops;
pub mod server;
pub mod storage;
pub mod store;
pub mod types;
