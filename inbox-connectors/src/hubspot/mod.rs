//! HubSpot CRM (API v3, associations v4), with a private app's access
//! token.
//!
//! - [`Connector::cards`]: the contact found by phone (else e-mail), the
//!   most recently modified of several: its card (lifecycle stage, owner,
//!   primary company, e-mail, phone) and one card per open deal (at most
//!   five, the soonest to close first). None found: one card that says so.
//! - [`Connector::log`]: the entry written on the contact's timeline as a
//!   logged WhatsApp message (a communication), the contact created first
//!   when none has the customer and `create_contacts` is set.
//! - [`Connector::check`]: `GET /crm/v3/objects/contacts?limit=1`.
//!
//! A 429 is waited out as HubSpot's headers say ([`wait_hint`]); a spent
//! daily quota is not waited for.

mod cards;
mod client;
mod deals;
mod find;
mod log;
mod rate;
mod wire;

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use url::Url;

use inbox_core::ports::ContextCard;
use inbox_core::settings::HubSpotSettings;
use inbox_core::Secret;

use crate::{Api, Connector, ConnectorError, ConnectorKind, Customer, LogEntry, Logged};
use cards::{not_found, ContactView};
use deals::StageInfo;
pub use rate::{classify, wait_hint, DAILY_LIMIT_WAIT};

/// The most entries kept in each of the connector's small memories.
const MEMORY_LIMIT: usize = 1_000;

/// The HubSpot connector of one tenant.
pub struct HubSpot {
    settings: HubSpotSettings,
    token: Secret,
    api: Api,
    base: Url,
    memory: Mutex<Memory>,
}

/// What the connector remembers between calls: owners' names, the deal
/// stages, and the contacts it created (HubSpot's search sees a new
/// contact only after a few seconds).
#[derive(Default)]
struct Memory {
    owners: HashMap<String, String>,
    stages: HashMap<String, StageInfo>,
    created: HashMap<String, String>,
}

impl std::fmt::Debug for HubSpot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpot")
            .field("settings", &self.settings)
            .field("token", &self.token)
            .field("api", &self.api)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl HubSpot {
    /// The connector with the tenant's settings, its private app's token,
    /// a caller (given HubSpot's [`wait_hint`]) and HubSpot's address.
    pub fn new(settings: HubSpotSettings, token: Secret, api: Api, base: Url) -> Self {
        Self {
            settings,
            token,
            api: api.with_wait_hint(wait_hint).with_classifier(classify),
            base,
            memory: Mutex::new(Memory::default()),
        }
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn known_owner(&self, id: &str) -> Option<String> {
        self.memory().owners.get(id).cloned()
    }

    fn remember_owner(&self, id: &str, name: &str) {
        let mut m = self.memory();
        if m.owners.len() >= MEMORY_LIMIT {
            m.owners.clear();
        }
        m.owners.insert(id.to_string(), name.to_string());
    }

    fn known_stages(&self) -> HashMap<String, StageInfo> {
        self.memory().stages.clone()
    }

    fn remember_stages(&self, stages: HashMap<String, StageInfo>) {
        self.memory().stages = stages;
    }

    fn created_for(&self, customer: &Customer) -> Option<String> {
        self.memory().created.get(&customer_key(customer)?).cloned()
    }

    fn remember_created(&self, customer: &Customer, id: &str) {
        let Some(key) = customer_key(customer) else {
            return;
        };
        let mut m = self.memory();
        if m.created.len() >= MEMORY_LIMIT {
            m.created.clear();
        }
        m.created.insert(key, id.to_string());
    }
}

/// How a created contact is remembered: the number, else the e-mail.
fn customer_key(customer: &Customer) -> Option<String> {
    customer
        .phone
        .clone()
        .or_else(|| customer.email.as_ref().map(|e| e.trim().to_lowercase()))
}

/// An optional detail (the owner's name, the company): a transient
/// failure fails the answer (shown as a problem, asked again soon); any
/// other (a scope not granted, a record gone) leaves the detail out.
fn optional<T>(
    what: &str,
    r: Result<Option<T>, ConnectorError>,
) -> Result<Option<T>, ConnectorError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "HubSpot {what} left out");
            Ok(None)
        }
    }
}

#[async_trait]
impl Connector for HubSpot {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::HubSpot
    }

    async fn cards(&self, customer: &Customer) -> Result<Vec<ContextCard>, ConnectorError> {
        let Some(contact) = self.find(customer).await? else {
            return Ok(vec![not_found(customer)]);
        };
        let (owner, company, deals) = futures_util::future::join3(
            self.owner_name(&contact),
            self.company_name(&contact.id),
            self.open_deals(&contact.id),
        )
        .await;
        let deals = match deals {
            Err(e) if e.is_transient() => return Err(e),
            other => other,
        };
        let view = ContactView {
            owner: optional("owner", owner)?,
            company: optional("company", company)?,
            deals,
            contact,
        };
        Ok(self.cards_of(view))
    }

    async fn log(&self, entry: &LogEntry) -> Result<Logged, ConnectorError> {
        self.log_entry(entry).await
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.ping().await
    }
}
