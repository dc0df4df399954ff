//! Shopify's Admin GraphQL documents and the shapes of their answers.
//!
//! Fields as documented for the Admin API 2025-10:
//! <https://shopify.dev/docs/api/admin-graphql/2025-10/objects/Customer>
//! (`defaultEmailAddress` and `defaultPhoneNumber` since 2025-04,
//! `numberOfOrders` an `UnsignedInt64`, which GraphQL writes as a string),
//! <https://shopify.dev/docs/api/admin-graphql/2025-10/objects/Order>,
//! <https://shopify.dev/docs/api/admin-graphql/2025-10/objects/FulfillmentTrackingInfo>,
//! the `OrderSortKeys` enum (`PROCESSED_AT`) and connections' `nodes` and
//! `pageInfo { hasNextPage endCursor }`
//! (<https://shopify.dev/docs/api/usage/pagination-graphql>).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::fmt;

/// The fields of an order shown on its card.
macro_rules! order_fragment {
    () => {
        "fragment OrderCard on Order {
  id
  legacyResourceId
  name
  processedAt
  cancelledAt
  displayFinancialStatus
  displayFulfillmentStatus
  totalPriceSet { presentmentMoney { amount currencyCode } }
  fulfillments(first: 5) { trackingInfo(first: 1) { company number url } }
}
"
    };
}

/// The customer found by a search (`$query`: `phone:+34600111222`), with
/// the first page of their orders, newest first.
pub(super) const CUSTOMER_SEARCH: &str = concat!(
    "query CustomerCards($query: String!, $orders: Int!) {
  customers(first: 1, query: $query) {
    nodes {
      id
      legacyResourceId
      displayName
      numberOfOrders
      amountSpent { amount currencyCode }
      defaultEmailAddress { emailAddress }
      defaultPhoneNumber { phoneNumber }
      orders(first: $orders, sortKey: PROCESSED_AT, reverse: true) {
        nodes { ...OrderCard }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
",
    order_fragment!()
);

/// The next page of a customer's orders.
pub(super) const CUSTOMER_ORDERS: &str = concat!(
    "query CustomerOrders($id: ID!, $first: Int!, $after: String!) {
  customer(id: $id) {
    orders(first: $first, after: $after, sortKey: PROCESSED_AT, reverse: true) {
      nodes { ...OrderCard }
      pageInfo { hasNextPage endCursor }
    }
  }
}
",
    order_fragment!()
);

/// The cheapest authenticated question: the shop's name.
pub(super) const SHOP_NAME: &str = "query ShopName { shop { name } }";

/// A GraphQL answer: `data`, `errors`, and `extensions.cost` (on every
/// answer: <https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits>).
#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    #[serde(default)]
    pub errors: Option<serde_json::Value>,
    #[serde(default)]
    pub extensions: Option<Extensions>,
}

/// One of the `errors` of an answer.
#[derive(Debug, Deserialize)]
pub(super) struct GqlError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub extensions: Option<ErrorExtensions>,
}

/// An error's `extensions`: its `code` (`THROTTLED`, `ACCESS_DENIED` …)
/// and, for `ACCESS_DENIED`, the scope it needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ErrorExtensions {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub required_access: Option<String>,
}

/// The answer's `extensions`.
#[derive(Debug, Deserialize)]
pub(super) struct Extensions {
    #[serde(default)]
    pub cost: Option<Cost>,
}

/// What the query cost, and the state of the app's bucket.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Cost {
    #[serde(default)]
    pub requested_query_cost: Option<f64>,
    #[serde(default)]
    pub throttle_status: Option<ThrottleStatus>,
}

/// The bucket: its size, what is left, and how fast it refills (points a
/// second).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ThrottleStatus {
    #[serde(default)]
    pub currently_available: f64,
    #[serde(default)]
    pub restore_rate: f64,
}

/// `data` of [`CUSTOMER_SEARCH`].
#[derive(Debug, Deserialize)]
pub(super) struct CustomersData {
    pub customers: Nodes<CustomerNode>,
}

/// `data` of [`CUSTOMER_ORDERS`].
#[derive(Debug, Deserialize)]
pub(super) struct CustomerOrdersData {
    pub customer: Option<CustomerOrders>,
}

/// A customer's orders alone.
#[derive(Debug, Deserialize)]
pub(super) struct CustomerOrders {
    pub orders: Option<OrderPage>,
}

/// `data` of [`SHOP_NAME`].
#[derive(Debug, Deserialize)]
pub(super) struct ShopData {
    pub shop: ShopName,
}

/// The shop.
#[derive(Debug, Deserialize)]
pub(super) struct ShopName {
    pub name: String,
}

/// A connection's `nodes`.
#[derive(Debug, Deserialize)]
pub(super) struct Nodes<T> {
    pub nodes: Vec<T>,
}

/// A customer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CustomerNode {
    pub id: String,
    #[serde(default)]
    pub legacy_resource_id: Option<Number>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub number_of_orders: Option<Number>,
    #[serde(default)]
    pub amount_spent: Option<Money>,
    #[serde(default)]
    pub default_email_address: Option<EmailAddress>,
    #[serde(default)]
    pub default_phone_number: Option<PhoneNumber>,
    #[serde(default)]
    pub orders: Option<OrderPage>,
}

/// `defaultEmailAddress`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EmailAddress {
    #[serde(default)]
    pub email_address: Option<String>,
}

/// `defaultPhoneNumber`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PhoneNumber {
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// A page of orders.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderPage {
    pub nodes: Vec<OrderNode>,
    pub page_info: PageInfo,
}

/// Where a page ends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageInfo {
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

/// An order.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderNode {
    pub id: String,
    #[serde(default)]
    pub legacy_resource_id: Option<Number>,
    pub name: String,
    #[serde(default)]
    pub processed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub display_financial_status: Option<String>,
    #[serde(default)]
    pub display_fulfillment_status: Option<String>,
    #[serde(default)]
    pub total_price_set: Option<MoneyBag>,
    #[serde(default)]
    pub fulfillments: Vec<Fulfillment>,
}

/// An amount in the shop's and in the customer's currency.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MoneyBag {
    pub presentment_money: Money,
}

/// An amount (`Decimal`, a string) and its currency.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Money {
    pub amount: String,
    pub currency_code: String,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency_code)
    }
}

/// A shipment.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Fulfillment {
    #[serde(default)]
    pub tracking_info: Vec<Tracking>,
}

/// A shipment's carrier, number and tracking page.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Tracking {
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// An `UnsignedInt64`: a string in GraphQL answers, a number accepted too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Number {
    /// As documented.
    Text(String),
    /// As a number.
    Int(u64),
}

impl Number {
    /// Its digits, when it is a number.
    pub fn digits(&self) -> Option<String> {
        match self {
            Self::Int(n) => Some(n.to_string()),
            Self::Text(s) => {
                let s = s.trim();
                (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_string())
            }
        }
    }
}
