//! Test support (feature `testing`): the store conformance suite, a
//! recording transport, a recording event bus and a ready-made fixture.
//!
//! A new [`Store`](crate::ports::Store) backend is correct when the whole
//! suite passes on it. Run it with [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```text
//! // tests/conformance.rs of a store crate (needs tokio with "macros" and
//! // "rt-multi-thread" as a dev-dependency):
//! inbox_core::store_conformance_tests!(async { std::sync::Arc::new(MyStore::new()) });
//! ```
//!
//! The expression is evaluated once per test, so every test gets a fresh
//! store. Invoke it twice (once with the concrete type, once cast to
//! `Arc<dyn Store>`) to check both static and dynamic dispatch, as
//! `inbox-store-memory` does. The tests are named `ports::<port>::<test>`
//! (each port's contract) and `inbox::<area>::<test>` (the inbox driven on
//! the store), so `cargo test ports::scheduling` runs one port's contract;
//! [`conformance`] says how the list is kept.

mod bus;
pub mod conformance;
mod faulty;
mod fixture;
mod seeded;
mod transport;

pub use bus::RecordingBus;
pub use faulty::FaultyStore;
pub use fixture::Fixture;
pub use seeded::Seeded;
pub use transport::{RecordingTransport, SentMessage};

/// A typed id from a literal the suites know to be valid.
#[allow(clippy::unwrap_used)]
pub(crate) fn id<T: TryFrom<String, Error = crate::Error>>(s: &str) -> T {
    T::try_from(s.to_string()).unwrap()
}
