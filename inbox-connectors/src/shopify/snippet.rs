//! The text an agent inserts to tell a customer where their order is,
//! from its state: cancelled, refunded, shipped (with the carrier and
//! tracking), partly shipped, awaiting payment, or being prepared.

use super::wire::{OrderNode, Tracking};

/// What the snippet's button says.
pub(super) const LABEL: &str = "Insert order status";

/// The order's status said to its customer.
///
/// `placed` is the date the card shows (`3 Dec 2026`).
pub(super) fn order_status(order: &OrderNode, placed: Option<&str>) -> String {
    let name = &order.name;
    let placed = placed.map(|d| format!(" (placed {d})")).unwrap_or_default();
    let your = format!("Your order {name}{placed}");
    let financial = order.display_financial_status.as_deref().unwrap_or("");
    let fulfillment = order.display_fulfillment_status.as_deref().unwrap_or("");
    let refunded = financial == "REFUNDED";
    let tracking = tracking_clause(&shipments(order));
    if order.cancelled_at.is_some() {
        let and = if refunded { " and refunded" } else { "" };
        return format!("{your} was cancelled{and}.");
    }
    if refunded {
        return format!("{your} has been refunded.");
    }
    match fulfillment {
        "FULFILLED" => ended(format!("{your} has been shipped"), tracking),
        "PARTIALLY_FULFILLED" => {
            let first = format!(
                "Part of your order {name}{placed} has been shipped and the rest will follow."
            );
            match tracking {
                Some(t) => ended(format!("{first} It was sent"), Some(t)),
                None => first,
            }
        }
        "FULFILLMENT_NOT_REQUIRED" => format!("{your} is complete."),
        _ if financial == "PENDING" => format!("{your} has been received and is awaiting payment."),
        _ => format!("{your} has been received and is being prepared for shipping."),
    }
}

/// The order's shipments with a tracking number.
pub(super) fn shipments(order: &OrderNode) -> Vec<Tracking> {
    order
        .fulfillments
        .iter()
        .flat_map(|f| f.tracking_info.iter())
        .filter(|t| t.number.as_deref().is_some_and(|n| !n.trim().is_empty()))
        .cloned()
        .collect()
}

/// `sentence` and how it was sent; a full stop unless it ends with a link
/// (a stop glued to a link breaks it in some apps).
fn ended(sentence: String, tracking: Option<String>) -> String {
    match tracking {
        Some(t) if ends_with_link(&t) => format!("{sentence} {t}"),
        Some(t) => format!("{sentence} {t}."),
        None => format!("{sentence}."),
    }
}

fn ends_with_link(text: &str) -> bool {
    text.rsplit(' ')
        .next()
        .is_some_and(|last| last.starts_with("https://") || last.starts_with("http://"))
}

/// `with UPS, tracking 1Z999: https://…`, or for several parcels `in 2
/// parcels: UPS, tracking …: https://… and DHL, tracking …`.
fn tracking_clause(shipments: &[Tracking]) -> Option<String> {
    let said: Vec<String> = shipments.iter().map(one_parcel).collect();
    match said.len() {
        0 => None,
        1 => Some(format!("with {}", said[0])),
        n => Some(format!("in {n} parcels: {}", said.join(" and "))),
    }
}

fn one_parcel(t: &Tracking) -> String {
    let number = t.number.as_deref().unwrap_or("").trim();
    let mut out = match t
        .company
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(company) => format!("{company}, tracking {number}"),
        None => format!("tracking {number}"),
    };
    if let Some(url) = t.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        out.push_str(": ");
        out.push_str(url);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(financial: &str, fulfillment: &str, tracking: serde_json::Value) -> OrderNode {
        serde_json::from_value(serde_json::json!({
            "id": "gid://shopify/Order/1",
            "name": "#1001",
            "displayFinancialStatus": financial,
            "displayFulfillmentStatus": fulfillment,
            "fulfillments": [{"trackingInfo": tracking}]
        }))
        .unwrap()
    }

    #[test]
    fn each_state_has_its_sentence() {
        let none = serde_json::json!([]);
        let said = |o: OrderNode| order_status(&o, Some("3 Dec 2026"));
        assert_eq!(
            said(order("PENDING", "UNFULFILLED", none.clone())),
            "Your order #1001 (placed 3 Dec 2026) has been received and is awaiting payment."
        );
        assert_eq!(
            said(order("PAID", "FULFILLMENT_NOT_REQUIRED", none.clone())),
            "Your order #1001 (placed 3 Dec 2026) is complete."
        );
        assert_eq!(
            said(order("PAID", "FULFILLED", none)),
            "Your order #1001 (placed 3 Dec 2026) has been shipped."
        );
        let two = serde_json::json!([
            {"company": "UPS", "number": "1Z9", "url": "https://ups.example/1Z9"},
            {"company": null, "number": "555", "url": null}
        ]);
        assert_eq!(
            order_status(&order("PAID", "FULFILLED", two), None),
            "Your order #1001 has been shipped in 2 parcels: UPS, tracking 1Z9: \
             https://ups.example/1Z9 and tracking 555."
        );
    }
}
