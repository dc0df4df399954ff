//! Zoho CRM (API v2+). Being written: see the note.

use async_trait::async_trait;
use std::sync::Arc;
use url::Url;

use inbox_core::ports::Clock;
use inbox_core::ports::ContextCard;
use inbox_core::settings::ZohoSettings;
use inbox_core::Secret;

use crate::{Api, Connector, ConnectorError, ConnectorKind, Customer, LogEntry, Logged};

/// A Zoho Self Client's OAuth credentials (`Debug` shows none of them).
#[derive(Debug, Clone)]
pub struct ZohoCredentials {
    /// The client id.
    pub client_id: Secret,
    /// The client secret.
    pub client_secret: Secret,
    /// The refresh token (made for the scopes in the README).
    pub refresh_token: Secret,
}

/// The Zoho connector of one tenant.
pub struct Zoho {
    #[allow(dead_code)]
    settings: ZohoSettings,
    #[allow(dead_code)]
    credentials: ZohoCredentials,
    #[allow(dead_code)]
    accounts: Url,
    #[allow(dead_code)]
    clock: Arc<dyn Clock>,
    #[allow(dead_code)]
    api: Api,
    #[allow(dead_code)]
    base: Url,
}

impl std::fmt::Debug for Zoho {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zoho")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Zoho {
    /// The connector with the tenant's settings and OAuth client, a
    /// caller, the accounts server and the CRM API's address, and the clock
    /// access tokens expire by.
    pub fn new(
        settings: ZohoSettings,
        credentials: ZohoCredentials,
        api: Api,
        accounts: Url,
        base: Url,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            settings,
            credentials,
            api,
            accounts,
            base,
            clock,
        }
    }
}

#[async_trait]
impl Connector for Zoho {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Zoho
    }
    async fn cards(&self, _customer: &Customer) -> Result<Vec<ContextCard>, ConnectorError> {
        Err(unwritten())
    }
    async fn log(&self, _entry: &LogEntry) -> Result<Logged, ConnectorError> {
        Err(unwritten())
    }
    async fn check(&self) -> Result<(), ConnectorError> {
        Err(unwritten())
    }
}

fn unwritten() -> ConnectorError {
    ConnectorError::NotConfigured {
        connector: ConnectorKind::Zoho,
        what: "the connector is being written".into(),
    }
}
