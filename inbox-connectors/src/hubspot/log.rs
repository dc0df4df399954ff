//! Writing a conversation on the contact's timeline, as a logged WhatsApp
//! message (a *communication*: `hs_communication_channel_type` `WHATS_APP`,
//! `hs_communication_logged_from` `CRM`), associated with the contact; the
//! contact created first when none has the customer and the tenant says so.
//! <https://developers.hubspot.com/docs/api/crm/communications>

use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::HubSpot;
use crate::{ConnectorError, Customer, LogEntry, Logged};

/// Association type of a communication to a contact (HubSpot-defined 81).
/// <https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide>
pub(crate) const COMMUNICATION_TO_CONTACT: i64 = 81;

/// The longest body written (HubSpot caps engagement bodies at 65,536).
const MAX_BODY_CHARS: usize = 60_000;

impl HubSpot {
    /// Writes the entry on the customer's contact (see the module).
    pub(crate) async fn log_entry(&self, entry: &LogEntry) -> Result<Logged, ConnectorError> {
        let customer = &entry.customer;
        let contact = match self.find(customer).await? {
            Some(found) => found.id,
            // Created a moment ago: HubSpot's search may not see it yet.
            None => match self.created_for(customer) {
                Some(id) => id,
                None if self.settings.create_contacts && customer.is_findable() => {
                    self.create_contact(customer).await?
                }
                None => return Ok(Logged::NoRecord),
            },
        };
        let body = communication(&contact, entry);
        self.create("message logging", "communications", &body)
            .await?;
        Ok(Logged::Written { record: contact })
    }

    /// Creates the customer's contact (number, e-mail, name); its id. A
    /// contact HubSpot says exists already (409, by e-mail) is used.
    async fn create_contact(&self, customer: &Customer) -> Result<String, ConnectorError> {
        let body = json!({ "properties": contact_properties(customer) });
        let id = match self.create("contact creation", "contacts", &body).await {
            Ok(created) => created.id,
            Err(e) => conflicting(&e).ok_or(e)?,
        };
        self.remember_created(customer, &id);
        Ok(id)
    }
}

/// The new contact's properties: `phone` in E.164, `email`, and
/// `firstname`/`lastname` from the name (its first word, the rest).
fn contact_properties(customer: &Customer) -> Value {
    let mut props = serde_json::Map::new();
    if let Some(phone) = &customer.phone {
        props.insert("phone".into(), phone.clone().into());
    }
    if let Some(email) = &customer.email {
        props.insert("email".into(), email.trim().to_lowercase().into());
    }
    if let Some(name) = customer.name.as_deref().map(str::trim) {
        let (first, last) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
        if !first.is_empty() {
            props.insert("firstname".into(), first.into());
        }
        if !last.trim().is_empty() {
            props.insert("lastname".into(), last.trim().into());
        }
    }
    Value::Object(props)
}

/// The existing contact of a 409 (HubSpot's "Contact already exists.
/// Existing ID: 5601").
fn conflicting(e: &ConnectorError) -> Option<String> {
    match e {
        ConnectorError::Rejected {
            status: 409,
            message,
            ..
        } => existing_id(message),
        _ => None,
    }
}

/// The id in HubSpot's "Contact already exists. Existing ID: 5601".
fn existing_id(message: &str) -> Option<String> {
    let rest = message.split("Existing ID:").nth(1)?.trim_start();
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(id).filter(|id| !id.is_empty())
}

/// The communication's request body, associated with the contact.
fn communication(contact: &str, entry: &LogEntry) -> Value {
    json!({
        "properties": {
            "hs_communication_channel_type": "WHATS_APP",
            "hs_communication_logged_from": "CRM",
            "hs_communication_body": body_html(entry),
            "hs_timestamp": entry.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        },
        "associations": [{
            "to": { "id": contact },
            "types": [{
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": COMMUNICATION_TO_CONTACT,
            }],
        }],
    })
}

/// The body as the timeline shows it (HTML): the title, the transcript a
/// line each, and the conversation's id, which tells the entry apart.
pub(crate) fn body_html(entry: &LogEntry) -> String {
    let transcript: String = entry.body.chars().take(MAX_BODY_CHARS).collect();
    let cut = if transcript.len() < entry.body.len() {
        "<br>…"
    } else {
        ""
    };
    let lines: Vec<String> = transcript.lines().map(escape).collect();
    format!(
        "<p><strong>{}</strong></p><p>{}{cut}</p><p>Conversation {}</p>",
        escape(&entry.title),
        lines.join("<br>"),
        escape(&entry.conversation),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn new_contacts_get_number_email_and_split_name() {
        let c = Customer {
            phone: Some("+34600111222".into()),
            email: Some("Ana@X.io".into()),
            name: Some("Ana María Gil".into()),
        };
        assert_eq!(
            contact_properties(&c),
            json!({"phone": "+34600111222", "email": "ana@x.io", "firstname": "Ana", "lastname": "María Gil"})
        );
        let c = Customer {
            name: Some("Marta".into()),
            ..Default::default()
        };
        assert_eq!(contact_properties(&c), json!({"firstname": "Marta"}));
    }

    #[test]
    fn conflicts_name_the_existing_contact() {
        assert_eq!(
            existing_id("Contact already exists. Existing ID: 5601").as_deref(),
            Some("5601")
        );
        assert_eq!(existing_id("Property values were not valid"), None);
    }

    #[test]
    fn bodies_are_escaped_html_with_the_conversation() {
        let entry = LogEntry {
            customer: Customer::default(),
            conversation: "conv-1".into(),
            title: "WhatsApp conversation resolved by Ana".into(),
            body: "[10:02] Customer: is 2 < 3?\n[10:03] Ana: yes & more".into(),
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        };
        let body = body_html(&entry);
        assert!(
            body.contains("is 2 &lt; 3?<br>[10:03] Ana: yes &amp; more"),
            "{body}"
        );
        assert!(body.ends_with("<p>Conversation conv-1</p>"), "{body}");
        let c = communication("51", &entry);
        assert_eq!(c["properties"]["hs_timestamp"], "2023-11-14T22:13:20.000Z");
        assert_eq!(c["associations"][0]["types"][0]["associationTypeId"], 81);
    }
}
