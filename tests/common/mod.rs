//! Shared test harness: real peers on loopback (`regctl serve`, the CNCF
//! `docker-registry`, `skopeo`), images built in memory, and raw HTTP pushes
//! that do not go through regctl's own client.
#![allow(dead_code, unused_imports)]

pub mod image;
pub mod peers;
pub mod push;

pub use image::{TestImage, TestIndex, write_oci_layout};
pub use peers::{DistRegistry, Serve, Skopeo, require_peer};
