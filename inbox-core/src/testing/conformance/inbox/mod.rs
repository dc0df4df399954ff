//! The inbox driven on the store under test, as an embedder uses it: each
//! suite checks what [`Inbox`](crate::Inbox) promises, which holds only if
//! the store keeps its contracts.

pub(crate) mod access;
pub(crate) mod actions;
pub(crate) mod bots;
pub(crate) mod broadcasts;
pub(crate) mod calls;
pub(crate) mod coexistence;
pub(crate) mod consent;
pub(crate) mod contacts;
pub(crate) mod costs;
pub(crate) mod csat;
pub(crate) mod dead_letters;
pub(crate) mod dispatch;
pub(crate) mod history;
pub(crate) mod imports;
pub(crate) mod ingest;
pub(crate) mod live;
pub(crate) mod metrics;
pub(crate) mod outbound;
pub(crate) mod routing;
pub(crate) mod settings;
pub(crate) mod signals;
pub(crate) mod timers;
pub(crate) mod unread;
pub(crate) mod views;
