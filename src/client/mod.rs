//! The typed async registry client (reqwest). No terminal code: errors are
//! returned typed, verbose request logs go through `tracing`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod creds;
pub mod delete;
pub mod error;
pub mod pagination;
pub mod retry;
mod tls;
pub mod transport;

pub use api::{BlobStream, ManifestHead, PutManifest, referrers_tag};
pub use creds::{Credential, CredentialError, DockerConfig, Secret};
pub use delete::{TagTarget, UntagMethod};
pub use error::{ClientError, ErrorKind};
pub use retry::RetryPolicy;
pub use transport::{Client, ClientOptions};
