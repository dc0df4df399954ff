//! Finding the customer's contact: by phone, then by e-mail.
//!
//! HubSpot keeps phone numbers as typed, so the number is looked for in
//! `phone` and `mobilephone` in the forms a WhatsApp number is usually
//! stored in (`+34600111222`, `34600111222`, `0034600111222`), each
//! property a filter group (groups are OR'd). Numbers stored with spaces
//! or dashes are not found by phone: HubSpot's calculated "searchable"
//! phone properties would find them, but their format is not documented.
//! <https://developers.hubspot.com/docs/api/crm/search>

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::wire::Object;
use super::HubSpot;
use crate::{ConnectorError, Customer};

/// The contact properties the cards show.
pub(crate) const CONTACT_PROPERTIES: &[&str] = &[
    "firstname",
    "lastname",
    "email",
    "phone",
    "mobilephone",
    "lifecyclestage",
    "hubspot_owner_id",
    "lastmodifieddate",
];

impl HubSpot {
    /// The customer's contact (the most recently modified of several),
    /// by phone, else by e-mail; `None` when neither finds one.
    pub(crate) async fn find(&self, customer: &Customer) -> Result<Option<Object>, ConnectorError> {
        if let Some(groups) = customer.phone_digits().and_then(|d| phone_filters(&d)) {
            let found = self.search_contacts(groups, CONTACT_PROPERTIES).await?;
            if let Some(c) = most_recent(found) {
                return Ok(Some(c));
            }
        }
        if let Some(email) = customer.email.as_deref() {
            let found = self
                .search_contacts(email_filters(email), CONTACT_PROPERTIES)
                .await?;
            return Ok(most_recent(found));
        }
        Ok(None)
    }
}

/// The filter groups finding a number (its digits, no `+`) in `phone` or
/// `mobilephone`; `None` for something that is not a number.
pub(crate) fn phone_filters(digits: &str) -> Option<Value> {
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let forms = [
        format!("+{digits}"),
        digits.to_string(),
        format!("00{digits}"),
    ];
    let group = |property: &str| json!({"filters": [{"propertyName": property, "operator": "IN", "values": forms}]});
    Some(json!([group("phone"), group("mobilephone")]))
}

/// The filter group finding an e-mail address (HubSpot keeps them
/// lowercase).
pub(crate) fn email_filters(email: &str) -> Value {
    let email = email.trim().to_lowercase();
    json!([{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}])
}

/// The most recently modified record (HubSpot sorts them so; this does not
/// rely on it).
fn most_recent(found: Vec<Object>) -> Option<Object> {
    found.into_iter().max_by_key(|o| {
        let at = o.updated_at.as_deref().or(o.prop("lastmodifieddate"));
        at.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str, updated: &str) -> Object {
        serde_json::from_value(json!({"id": id, "properties": {}, "updatedAt": updated})).unwrap()
    }

    #[test]
    fn the_most_recently_modified_contact_wins() {
        let found = vec![
            contact("1", "2024-01-01T00:00:00Z"),
            contact("2", "2024-03-01T00:00:00.000Z"),
            contact("3", "not a date"),
        ];
        assert_eq!(most_recent(found).unwrap().id, "2");
        assert!(most_recent(Vec::new()).is_none());
    }

    #[test]
    fn numbers_are_searched_in_their_usual_forms() {
        let groups = phone_filters("34600111222").unwrap();
        assert_eq!(groups[1]["filters"][0]["propertyName"], "mobilephone");
        assert_eq!(
            groups[0]["filters"][0]["values"],
            json!(["+34600111222", "34600111222", "0034600111222"])
        );
        assert!(phone_filters("12ab").is_none());
        assert_eq!(
            email_filters(" Ana@Example.COM ")[0]["filters"][0]["value"],
            "ana@example.com"
        );
    }
}
