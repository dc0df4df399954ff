//! Examples of the inbox library; see the `examples` targets
//! (`cargo run --example quickstart`).
//!
//! This crate also compiles the embedding example of the root README, so it
//! cannot rot. (The README's links are relative to the repository, not
//! rustdoc paths.)
#![allow(rustdoc::broken_intra_doc_links)]
#![doc = include_str!("../../README.md")]

pub mod scenario;
pub mod server;
pub mod wa_decode;
