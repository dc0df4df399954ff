//! Shopify's answers as cards: the customer, each recent order (with a
//! status snippet), or that no customer has the number.
//!
//! Links go to the Shopify admin, `https://admin.shopify.com/store/<handle>`
//! where the handle is the `myshopify.com` name (the mapping Shopify's own
//! `@shopify/shopify-api` library makes, `legacyUrlToShopAdminUrl` in
//! `lib/utils/shop-admin-url-helper.ts`); a shop whose domain is not a
//! `myshopify.com` one is linked at `https://<shop>/admin/…`, which the
//! admin redirects.

use std::collections::BTreeMap;

use inbox_core::ports::{ContextCard, ContextSnippet};

use super::snippet;
use super::wire::{CustomerNode, Number, OrderNode};
use crate::Customer;

/// Where a shop's records are in its admin.
#[derive(Debug, Clone)]
pub(super) struct Admin {
    base: String,
}

impl Admin {
    /// The admin of the shop `acme.myshopify.com`.
    pub(super) fn of(shop: &str) -> Self {
        let base = match shop.strip_suffix(".myshopify.com") {
            Some(handle) if !handle.is_empty() => {
                format!("https://admin.shopify.com/store/{handle}")
            }
            _ => format!("https://{shop}/admin"),
        };
        Self { base }
    }

    fn link(&self, kind: &str, gid: &str, legacy: Option<&Number>) -> Option<String> {
        let id = legacy
            .and_then(Number::digits)
            .or_else(|| numeric_tail(gid))?;
        Some(format!("{}/{kind}/{id}", self.base))
    }
}

/// The number at the end of a global id (`gid://shopify/Customer/207119551`).
fn numeric_tail(gid: &str) -> Option<String> {
    let tail = gid.rsplit('/').next()?;
    (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then(|| tail.to_string())
}

/// The card that says nobody in the shop has the customer's number or
/// e-mail.
pub(super) fn not_found(customer: &Customer) -> ContextCard {
    ContextCard {
        title: format!("No Shopify customer for {}", customer.describe()),
        ..Default::default()
    }
}

/// The customer: name, orders, total spent, e-mail and phone.
pub(super) fn customer_card(c: &CustomerNode, admin: &Admin) -> ContextCard {
    let mut fields = Vec::new();
    if let Some(n) = c.number_of_orders.as_ref().and_then(Number::digits) {
        fields.push(("Orders".to_string(), n));
    }
    if let Some(spent) = &c.amount_spent {
        fields.push(("Total spent".into(), spent.to_string()));
    }
    let email = c
        .default_email_address
        .as_ref()
        .and_then(|e| e.email_address.clone());
    let phone = c
        .default_phone_number
        .as_ref()
        .and_then(|p| p.phone_number.clone());
    for (label, value) in [("Email", email), ("Phone", phone)] {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            fields.push((label.to_string(), v));
        }
    }
    let title = c
        .display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Shopify customer".into());
    ContextCard {
        title,
        fields,
        url: admin.link("customers", &c.id, c.legacy_resource_id.as_ref()),
        extra: BTreeMap::from([("shopify_id".into(), c.id.clone())]),
        ..Default::default()
    }
}

/// An order: its state in the title, payment, fulfilment, total, date and
/// tracking, and the snippet that tells the customer where it is.
pub(super) fn order_card(o: &OrderNode, admin: &Admin) -> ContextCard {
    let placed = o.processed_at.map(|d| d.format("%-d %b %Y").to_string());
    let mut fields = Vec::new();
    let mut field = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            fields.push((label.to_string(), v));
        }
    };
    field(
        "Status",
        o.display_financial_status.as_deref().map(humanize),
    );
    field(
        "Fulfillment",
        o.display_fulfillment_status.as_deref().map(humanize),
    );
    field(
        "Total",
        o.total_price_set
            .as_ref()
            .map(|t| t.presentment_money.to_string()),
    );
    field("Placed", placed.clone());
    field(
        "Cancelled",
        o.cancelled_at.map(|d| d.format("%-d %b %Y").to_string()),
    );
    field("Tracking", tracking(o));
    let text = snippet::order_status(o, placed.as_deref());
    ContextCard {
        title: format!("Order {} — {}", o.name, state(o)),
        fields,
        url: admin.link("orders", &o.id, o.legacy_resource_id.as_ref()),
        extra: BTreeMap::from([("shopify_id".into(), o.id.clone())]),
        snippets: vec![ContextSnippet {
            label: snippet::LABEL.into(),
            text,
        }],
        ..Default::default()
    }
}

/// What the title says: cancelled, refunded, else how far it was shipped.
fn state(o: &OrderNode) -> String {
    if o.cancelled_at.is_some() {
        return "Cancelled".into();
    }
    let financial = o.display_financial_status.as_deref();
    if financial == Some("REFUNDED") {
        return "Refunded".into();
    }
    o.display_fulfillment_status
        .as_deref()
        .or(financial)
        .map(humanize)
        .unwrap_or_else(|| "Placed".into())
}

/// `UPS 1Z999, DHL 555` (the carrier when known).
fn tracking(o: &OrderNode) -> Option<String> {
    let said: Vec<String> = snippet::shipments(o)
        .iter()
        .map(|t| {
            let number = t.number.as_deref().unwrap_or("").trim();
            match t
                .company
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                Some(company) => format!("{company} {number}"),
                None => number.to_string(),
            }
        })
        .collect();
    (!said.is_empty()).then(|| said.join(", "))
}

/// An enum value as Shopify's admin shows it (`PARTIALLY_FULFILLED` →
/// `Partially fulfilled`).
pub(super) fn humanize(value: &str) -> String {
    let lower = value.trim().replace('_', " ").to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_links_use_the_store_handle() {
        let admin = Admin::of("acme.myshopify.com");
        let gid = "gid://shopify/Customer/207119551";
        assert_eq!(
            admin.link("customers", gid, None).as_deref(),
            Some("https://admin.shopify.com/store/acme/customers/207119551")
        );
        let odd = Admin::of("shop.example.com");
        assert_eq!(
            odd.link("orders", "gid://shopify/Order/x", Some(&Number::Int(7)))
                .as_deref(),
            Some("https://shop.example.com/admin/orders/7")
        );
        assert_eq!(odd.link("orders", "gid://shopify/Order/x", None), None);
    }

    #[test]
    fn enum_values_read_as_words() {
        assert_eq!(humanize("PARTIALLY_FULFILLED"), "Partially fulfilled");
        assert_eq!(humanize("PAID"), "Paid");
        assert_eq!(humanize(""), "");
    }
}
