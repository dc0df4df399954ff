//! Shopify, through the shop's Admin GraphQL API: the customer found by
//! phone (else e-mail) with their most recent orders, each with a text the
//! agent can insert to say where the order is.
//!
//! - [`Connector::cards`] searches `customers(query: "phone:…")` (then
//!   `email:…`), reading the first page of the customer's orders, newest
//!   first, in the same request; more pages ([`ORDERS_PAGE`] at a time,
//!   `pageInfo { hasNextPage endCursor }`) until the tenant's
//!   `connectors.shopify.orders` are read.
//! - [`Connector::log`] writes nothing: Shopify is a shop, not a CRM (an
//!   order's notes are the merchant's), so every entry is
//!   [`Logged::NoRecord`].
//! - [`Connector::check`] asks the shop's name.
//!
//! Throttling, errors and statuses: see the `graphql` module. The scopes
//! and the custom app: `docs/shopify.md`.

mod auth;
mod cards;
mod graphql;
mod search;
mod snippet;
mod wire;

use async_trait::async_trait;
use std::sync::Arc;
use url::Url;

use inbox_core::ports::{Clock, ContextCard};
use inbox_core::settings::ShopifySettings;
use inbox_core::Secret;

use crate::{Api, Connector, ConnectorError, ConnectorKind, Customer, LogEntry, Logged};
pub use auth::ShopifyAuth;
use cards::Admin;
use graphql::Graphql;
use wire::{CustomerNode, CustomerOrdersData, CustomersData, OrderNode, OrderPage, ShopData};

/// How many orders one request reads: fewer than the most a tenant may
/// show (20), so that longer lists are read page by page.
pub const ORDERS_PAGE: usize = 10;

/// The Shopify connector of one tenant.
#[derive(Debug)]
pub struct Shopify {
    settings: ShopifySettings,
    graphql: Graphql,
    admin: Admin,
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
        let clock: Arc<dyn Clock> = Arc::new(inbox_core::ports::ManualClock::new(
            chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        ));
        Self::with_auth(
            settings,
            ShopifyAuth::Token(token),
            api,
            base,
            api_version,
            clock,
        )
    }

    /// The same with either kind of credentials ([`ShopifyAuth`]); `clock`
    /// tells when a granted token expires.
    pub fn with_auth(
        settings: ShopifySettings,
        auth: ShopifyAuth,
        api: Api,
        base: Url,
        api_version: String,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let admin = Admin::of(&settings.shop);
        let tokens = auth::Tokens::new(auth, api.clone(), &base, clock);
        Self {
            graphql: Graphql::new(api, &base, &api_version, tokens),
            admin,
            settings,
        }
    }

    /// How many orders are shown.
    fn wanted(&self) -> usize {
        usize::from(self.settings.orders.clamp(1, 20))
    }

    /// The first customer a term finds, by phone then by e-mail.
    async fn find(&self, customer: &Customer) -> Result<Option<CustomerNode>, ConnectorError> {
        let first = self.wanted().min(ORDERS_PAGE);
        for term in search::terms(customer) {
            let variables = serde_json::json!({ "query": term, "orders": first });
            let data: CustomersData = self
                .graphql
                .query("customer search", wire::CUSTOMER_SEARCH, variables)
                .await?;
            if let Some(found) = data.customers.nodes.into_iter().next() {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The customer's most recent orders, newest first: the page read with
    /// the customer, then the next pages until enough are read.
    async fn orders(
        &self,
        customer: &str,
        first: Option<OrderPage>,
    ) -> Result<Vec<OrderNode>, ConnectorError> {
        let wanted = self.wanted();
        let mut orders = Vec::new();
        let mut page = first;
        while let Some(read) = page.take() {
            let read_nothing = read.nodes.is_empty();
            orders.extend(read.nodes);
            if read_nothing || !read.page_info.has_next_page || orders.len() >= wanted {
                break;
            }
            let Some(after) = read.page_info.end_cursor else {
                break;
            };
            let first = (wanted - orders.len()).min(ORDERS_PAGE);
            page = self.next_page(customer, first, &after).await?;
        }
        orders.truncate(wanted);
        Ok(orders)
    }

    async fn next_page(
        &self,
        customer: &str,
        first: usize,
        after: &str,
    ) -> Result<Option<OrderPage>, ConnectorError> {
        let variables = serde_json::json!({ "id": customer, "first": first, "after": after });
        let data: CustomerOrdersData = self
            .graphql
            .query("customer orders", wire::CUSTOMER_ORDERS, variables)
            .await?;
        Ok(data.customer.and_then(|c| c.orders))
    }
}

#[async_trait]
impl Connector for Shopify {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Shopify
    }

    /// The customer's card and one card per recent order; none found: one
    /// card that says so.
    async fn cards(&self, customer: &Customer) -> Result<Vec<ContextCard>, ConnectorError> {
        let Some(mut found) = self.find(customer).await? else {
            return Ok(vec![cards::not_found(customer)]);
        };
        let first = found.orders.take();
        let orders = self.orders(&found.id, first).await?;
        let mut shown = vec![cards::customer_card(&found, &self.admin)];
        shown.extend(orders.iter().map(|o| cards::order_card(o, &self.admin)));
        Ok(shown)
    }

    /// Nothing is written: Shopify is not a CRM, so there is no record to
    /// log a conversation on ([`Logged::NoRecord`], always).
    async fn log(&self, _entry: &LogEntry) -> Result<Logged, ConnectorError> {
        Ok(Logged::NoRecord)
    }

    /// `{ shop { name } }` with the token.
    async fn check(&self) -> Result<(), ConnectorError> {
        let data: ShopData = self
            .graphql
            .query("shop check", wire::SHOP_NAME, serde_json::json!({}))
            .await?;
        tracing::debug!(shop = %data.shop.name, "Shopify answered the check");
        Ok(())
    }
}
