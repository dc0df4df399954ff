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
//!
//! ## Layers
//!
//! The modules, top down; each uses only those it points to (and `error`),
//! so they form no cycle:
//!
//! ```text
//! bus, subscriptions, dead_letters, access, secrets, read_markers -> store
//!                                         adapters on a PgStore
//! store     -> batch, reads, changes, views, search, reports, lookups, tables, ...
//!              PgStore and its settings; one impl per port, each method delegating
//! batch     -> plans, changes, mutations  group commit, over a Writer handle
//! reads     -> plans, lookups             batched ingest lookups
//! plans     -> changes                    the batches' pools (Writers)
//! changes   -> mutations, tables, sql     the changeset writer (alone, or a batch
//!                                         as one statement); Writer
//! mutations -> lookups, tables, sql       message mutations (delivery statuses)
//! search -> views -> sql; reports -> tables; lookups -> sql   the reads
//! reindex -> facts, sql                   search words for rows older than them
//! tables::* -> facts, sql                 one writer per table, and its reads by key
//!              (messages, conversations, contacts, events, outbox, timers,
//!              cursors, directory, leases -> conversations)
//! facts -> sql -> error                   derived columns; codecs, Statement
//! ```
//!
//! A table's writer adds one multi-row statement for a slice of rows to a
//! `Statement`: group commit puts every table of a batch in one statement,
//! a changeset committed alone runs each table's statement for its own
//! rows (the batch path with one item).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod access;
mod batch;
mod bus;
mod changes;
mod dead_letters;
mod error;
mod facts;
mod live;
mod lookups;
mod mutations;
mod outreach;
mod plans;
mod read_markers;
mod reads;
mod reindex;
mod reports;
mod rollups;
mod search;
mod secrets;
mod settings;
mod sql;
mod store;
mod subscriptions;
mod tables;
mod views;

pub use batch::{GroupCommit, GroupCommitStats};
pub use bus::{PgEventBus, CHANNEL};
pub use error::PgStoreError;
pub use mutations::MutationBatchStats;
pub use reads::ReadBatchStats;
pub use store::{PgStore, MIGRATOR};
