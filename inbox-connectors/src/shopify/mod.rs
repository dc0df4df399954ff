//! Shopify (Admin GraphQL API). Being written: see the note.

use async_trait::async_trait;
use url::Url;

use inbox_core::ports::ContextCard;
use inbox_core::settings::ShopifySettings;
use inbox_core::Secret;

use crate::{Api, Connector, ConnectorError, ConnectorKind, Customer, LogEntry, Logged};

/// The Shopify connector of one tenant.
#[derive(Debug)]
pub struct Shopify {
    #[allow(dead_code)]
    settings: ShopifySettings,
    #[allow(dead_code)]
    token: Secret,
    #[allow(dead_code)]
    api: Api,
    #[allow(dead_code)]
    base: Url,
    #[allow(dead_code)]
    api_version: String,
}

impl Shopify {
    /// The connector with the tenant's settings, its custom app's Admin
    /// API token, a caller, the shop's address and the API version.
    pub fn new(
        settings: ShopifySettings,
        token: Secret,
        api: Api,
        base: Url,
        api_version: String,
    ) -> Self {
        Self {
            settings,
            token,
            api,
            base,
            api_version,
        }
    }
}

#[async_trait]
impl Connector for Shopify {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Shopify
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
        connector: ConnectorKind::Shopify,
        what: "the connector is being written".into(),
    }
}
