//! One module per table: its writer and its reads by key.
//!
//! A writer takes a slice of rows and adds one statement for all of them
//! (a multi-row `INSERT`/`UPDATE … FROM UNNEST(…)`) to a
//! [`Statement`](crate::sql::Statement) as a CTE, with the row count it
//! must reach. The same writer serves both commit paths: group commit puts
//! every table's CTE of a whole batch into one statement
//! ([`crate::changes::write_batch`]), a changeset committed alone runs
//! each table's statement for its own rows, one after another, and reads
//! the counts back to explain a miss ([`crate::changes::write_one`]). The
//! single path is the batch path with one item.

pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod cursors;
pub(crate) mod directory;
pub(crate) mod events;
pub(crate) mod leases;
pub(crate) mod messages;
pub(crate) mod outbox;
pub(crate) mod timers;
