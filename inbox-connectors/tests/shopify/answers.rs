//! Shopify's answers as documented, for the mock shop.
//!
//! - The envelope and `extensions.cost` (every answer):
//!   <https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits>.
//! - A throttled answer (HTTP 200, `errors[].extensions.code` `THROTTLED`,
//!   `actualQueryCost` null): the example in Shopify's community thread
//!   <https://community.shopify.com/t/graphql-admin-api-example-throttled-requests-response/8456>.
//! - `ACCESS_DENIED` with `requiredAccess`:
//!   <https://shopify.dev/changelog/new-error-messages-for-graphql-operations-without-necessary-access-scopes>
//!   and the answer quoted in Shopify/subscriptions-reference-app#13.
//! - Customer and Order fields:
//!   <https://shopify.dev/docs/api/admin-graphql/2025-10/objects/Customer>,
//!   <https://shopify.dev/docs/api/admin-graphql/2025-10/objects/Order>.

use serde_json::{json, Value};
use wiremock::ResponseTemplate;

/// The customer every test finds.
pub const CUSTOMER_GID: &str = "gid://shopify/Customer/207119551";

/// A bucket with room to spare.
pub fn cost() -> Value {
    json!({
        "requestedQueryCost": 52,
        "actualQueryCost": 12,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1988, "restoreRate": 100.0}
    })
}

/// A 200 with `data`.
pub fn ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": data, "extensions": {"cost": cost()}}))
}

/// The search's answer: `customers` with `nodes`.
pub fn customers(nodes: Vec<Value>) -> ResponseTemplate {
    ok(json!({"customers": {"nodes": nodes}}))
}

/// A page of orders.
pub fn page(orders: Vec<Value>, next: Option<&str>) -> Value {
    json!({
        "nodes": orders,
        "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next}
    })
}

/// Ana, with a page of orders.
pub fn ana(orders: Value) -> Value {
    json!({
        "id": CUSTOMER_GID,
        "legacyResourceId": "207119551",
        "displayName": "Ana López",
        "numberOfOrders": "7",
        "amountSpent": {"amount": "1234.50", "currencyCode": "EUR"},
        "defaultEmailAddress": {"emailAddress": "ana@example.com"},
        "defaultPhoneNumber": {"phoneNumber": "+34600111222"},
        "orders": orders
    })
}

/// The next page's answer: `customer { orders }`.
pub fn customer_orders(orders: Value) -> ResponseTemplate {
    ok(json!({"customer": {"orders": orders}}))
}

/// An order `#<number>`, placed on `day` of December 2026.
pub fn order(number: u32, day: u32, financial: &str, fulfillment: &str) -> Value {
    json!({
        "id": format!("gid://shopify/Order/{}", 450789000 + number),
        "legacyResourceId": (450789000 + number).to_string(),
        "name": format!("#{number}"),
        "processedAt": format!("2026-12-{day:02}T10:15:00Z"),
        "cancelledAt": null,
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfillment,
        "totalPriceSet": {
            "shopMoney": {"amount": "129.90", "currencyCode": "EUR"},
            "presentmentMoney": {"amount": "129.90", "currencyCode": "EUR"}
        },
        "fulfillments": []
    })
}

/// `order` with shipments: (company, number, url).
pub fn shipped(mut order: Value, parcels: &[(Option<&str>, &str, Option<&str>)]) -> Value {
    let fulfillments: Vec<Value> = parcels
        .iter()
        .map(|(company, number, url)| {
            json!({"trackingInfo": [{"company": company, "number": number, "url": url}]})
        })
        .collect();
    order["fulfillments"] = json!(fulfillments);
    order
}

/// `order`, cancelled.
pub fn cancelled(mut order: Value) -> Value {
    order["cancelledAt"] = json!("2026-12-02T09:00:00Z");
    order
}

/// A throttled answer: `requested` points needed, `available` left,
/// refilled at `rate` a second.
pub fn throttled(requested: u32, available: u32, rate: f64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "errors": [{
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}
        }],
        "extensions": {"cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": rate}
        }}
    }))
}

/// The app lacks `scope`, needed by the field `field`.
pub fn access_denied(field: &str, scope: &str, data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "errors": [{
            "message": format!("Access denied for {field} field. Required access: `{scope}` access scope."),
            "locations": [{"line": 2, "column": 3}],
            "path": [field],
            "extensions": {
                "code": "ACCESS_DENIED",
                "documentation": "https://shopify.dev/api/usage/access-scopes",
                "requiredAccess": format!("`{scope}` access scope.")
            }
        }],
        "data": data,
        "extensions": {"cost": cost()}
    }))
}
