//! Test support (feature `testing`): the store conformance suite, a
//! recording transport, a recording event bus and a ready-made fixture.
//!
//! A new [`Store`](crate::ports::Store) backend is correct when the whole
//! suite passes on it. Run it with [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```ignore
//! inbox_core::store_conformance_tests!(async { std::sync::Arc::new(MyStore::new()) });
//! ```

mod bus;
pub mod conformance;
mod fixture;
mod transport;

pub use bus::RecordingBus;
pub use fixture::Fixture;
pub use transport::{RecordingTransport, SentMessage};
