//! # inbox-connectors
//!
//! CRM and shop connectors, configured per tenant: what HubSpot, Zoho CRM
//! and Shopify know about a customer shown beside the conversation (and
//! given to bots), and conversations written on the customer's CRM record.
//!
//! - [`Connectors`] is the inbox's [`CustomerContext`](inbox_core::ports::CustomerContext):
//!   for each tenant it builds the connectors its settings name
//!   (`connectors:` in [`TenantSettings`](inbox_core::settings::TenantSettings))
//!   with the credentials the embedder keeps sealed ([`ConnectorSecrets`]),
//!   asks them all at once, caches answers briefly, and never keeps a view
//!   waiting on a slow provider longer than its deadline: a failure is a
//!   card that says why, not an empty panel.
//! - Every connector shares one way of calling its provider ([`Api`]):
//!   timeouts, retries with backoff, the provider's rate-limit hints,
//!   pacing, and errors ([`ConnectorError`]) that name the connector and
//!   never carry a credential.
//! - [`CrmLogger`] writes conversations on the customer's CRM record,
//!   per the tenant's `log` policy (each resolution's transcript, or each
//!   message), retried and kept like an outbound subscription.
//! - [`HubSpot`], [`Zoho`] and [`Shopify`] implement [`Connector`].
//!
//! Providers' addresses are the process's ([`Endpoints`]), never a
//! tenant's: tests point them at a local mock.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod cache;
mod connector;
mod endpoints;
mod error;
pub mod hubspot;
mod kind;
mod logger;
mod secrets;
mod set;
pub mod shopify;
pub mod zoho;

pub use api::{provider_message, retry_after, Answer, Api, CallPolicy, Classify, WaitHint};
pub use connector::{Connector, Customer, LogEntry, Logged};
pub use endpoints::Endpoints;
pub use error::ConnectorError;
pub use hubspot::HubSpot;
pub use kind::ConnectorKind;
pub use logger::{
    log_subscription, ConnectorLookup, CrmLogger, LogPolicy, LogReport, MAX_TRANSCRIPT_CHARS,
};
pub use secrets::{ConnectorSecrets, StaticConnectorSecrets};
pub use set::{ConnectorOptions, Connectors};
pub use shopify::{Shopify, ShopifyAuth};
pub use zoho::{Zoho, ZohoCredentials};
