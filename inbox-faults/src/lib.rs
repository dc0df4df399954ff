//! Fault-injection tests of the inbox, against a PostgreSQL cluster each
//! test starts and controls itself, the real Graph API client and a local
//! stand-in for Meta:
//!
//! - the database stopped (`pg_ctl stop -m immediate`) for five seconds
//!   while the dispatcher sends 200 replies, then started again;
//! - the dispatching process killed (`SIGKILL`) mid-dispatch and started
//!   again;
//! - Meta answering after the client's timeout;
//! - the store's connections recovering after the database restarts.
//!
//! The tests are in `tests/`; this crate holds what they share:
//! [`PrivateCluster`], [`GraphStandIn`], the [`scenario`] they run, and the
//! `fault-dispatcher` binary the kill test spawns. Without PostgreSQL's
//! server binaries the tests say they are skipped, and why (with `CI` set
//! they fail instead).
#![forbid(unsafe_code)]

mod cluster;
pub mod scenario;
mod standin;

pub use cluster::{ClusterError, PrivateCluster};
pub use standin::{GraphStandIn, Received};

/// A private cluster, or `None` (with the reason printed) where
/// PostgreSQL's server binaries are missing and `CI` is not set.
///
/// # Panics
///
/// When the cluster cannot be made or started, or the binaries are
/// missing under CI: the test fails rather than passing unrun.
#[allow(clippy::panic)]
pub fn cluster_or_skip() -> Option<PrivateCluster> {
    match PrivateCluster::start_new() {
        Ok(c) => Some(c),
        Err(ClusterError::NotInstalled(why)) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: no private PostgreSQL cluster can be made here: {why}");
            None
        }
        Err(e) => panic!("private PostgreSQL cluster: {e}"),
    }
}
