//! HubSpot CRM (API v3). Being written: see the note.

use async_trait::async_trait;
use url::Url;

use inbox_core::ports::ContextCard;
use inbox_core::settings::HubSpotSettings;
use inbox_core::Secret;

use crate::{Api, Connector, ConnectorError, ConnectorKind, Customer, LogEntry, Logged};

/// The HubSpot connector of one tenant.
#[derive(Debug)]
pub struct HubSpot {
    #[allow(dead_code)]
    settings: HubSpotSettings,
    #[allow(dead_code)]
    token: Secret,
    #[allow(dead_code)]
    api: Api,
    #[allow(dead_code)]
    base: Url,
}

impl HubSpot {
    /// The connector with the tenant's settings, its private app's token,
    /// a caller and HubSpot's address.
    pub fn new(settings: HubSpotSettings, token: Secret, api: Api, base: Url) -> Self {
        Self {
            settings,
            token,
            api,
            base,
        }
    }
}

#[async_trait]
impl Connector for HubSpot {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::HubSpot
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
        connector: ConnectorKind::HubSpot,
        what: "the connector is being written".into(),
    }
}
