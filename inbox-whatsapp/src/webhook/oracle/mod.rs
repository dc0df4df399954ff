//! The old decoder (the oracle) and the tests that hold the new one to it.

pub(super) mod decode;
mod equivalence;
pub(super) mod wire;
