//! # inbox-store-postgres
//!
//! The PostgreSQL [`Store`](inbox_core::ports::Store) and
//! [`EventBus`](inbox_core::ports::EventBus) of the inbox, for production:
//! several stateless application instances sharing one database, with
//! nothing lost and no two agents owning one conversation.
//!
//! - **Atomic commits**: each changeset (one webhook's message with its
//!   contact, conversation and events; one agent action) is one
//!   transaction.
//! - **Concurrency across instances**: optimistic version checks
//!   (`UPDATE … WHERE version = $seen`), and unique indexes for
//!   deduplication (`(tenant, channel, external_id)`), idempotency keys,
//!   contact identities and "one active conversation per contact and
//!   number", so concurrent duplicate deliveries store one message.
//! - **Gap-free per-tenant event sequence**, numbered at the end of the
//!   transaction.
//! - **Transactional outbox**: dispatchers claim work with
//!   `FOR UPDATE SKIP LOCKED`; a lapsed claim comes back flagged in doubt.
//! - **Live events** through LISTEN/NOTIFY ([`PgEventBus`]).
//! - **Keyset pagination** with one index per sort order; ids are stored
//!   with the `C` collation so the database orders them as the core does.
//! - **Tenant scoping**: every table carries `tenant_id`, every primary and
//!   unique key includes it (Citus-ready; see the README).
//! - **Connection loss**: operations fail with the retryable
//!   [`Error::Unavailable`](inbox_core::Error::Unavailable); a transaction
//!   that did not commit left nothing behind; the pool reconnects.
//!
//! ## Example
//!
//! ```no_run
//! # async fn demo() -> inbox_core::Result<()> {
//! use inbox_store_postgres::{PgEventBus, PgStore};
//! let store = PgStore::connect("postgres://postgres@127.0.0.1/inbox", 16).await?;
//! store.migrate().await?;
//! let bus = PgEventBus::connect(store.clone()).await?;
//! # let _ = bus; Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod bus;
mod dead_letters;
mod error;
mod facts;
mod mutations;
mod plans;
mod reads;
mod store;
mod subscriptions;

pub use batch::{GroupCommit, GroupCommitStats};
pub use bus::{PgEventBus, CHANNEL};
pub use error::PgStoreError;
pub use mutations::MutationBatchStats;
pub use reads::ReadBatchStats;
pub use store::{PgStore, MIGRATOR};
