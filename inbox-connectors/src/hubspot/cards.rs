//! The cards an agent sees: the contact (lifecycle stage, owner, primary
//! company, e-mail, phone) and its open deals, with links to the records
//! when the tenant gave its portal id.

use inbox_core::ports::ContextCard;

use super::deals::OpenDeal;
use super::wire::Object;
use super::HubSpot;
use crate::{ConnectorError, Customer};

/// The most open deals shown as cards (the contact card counts them all).
pub(crate) const MAX_DEAL_CARDS: usize = 5;

/// Association type of a contact's primary company (HubSpot-defined 1).
/// <https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide>
const PRIMARY_COMPANY: i64 = 1;

/// What is known of a found contact.
pub(crate) struct ContactView {
    pub(crate) contact: Object,
    pub(crate) owner: Option<String>,
    pub(crate) company: Option<String>,
    /// The open deals, or why they could not be read.
    pub(crate) deals: Result<Vec<OpenDeal>, ConnectorError>,
}

impl HubSpot {
    /// The contact's owner's name (`hubspot_owner_id` through the owners
    /// API), remembered once read.
    pub(crate) async fn owner_name(
        &self,
        contact: &Object,
    ) -> Result<Option<String>, ConnectorError> {
        let Some(id) = contact.prop("hubspot_owner_id") else {
            return Ok(None);
        };
        if let Some(name) = self.known_owner(id) {
            return Ok(Some(name));
        }
        let name = self.owner(id).await?.name();
        if let Some(n) = &name {
            self.remember_owner(id, n);
        }
        Ok(name)
    }

    /// The name of the contact's primary company (else of its first).
    pub(crate) async fn company_name(
        &self,
        contact: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let companies = self
            .associations("company associations", contact, "companies")
            .await?;
        let primary = companies
            .iter()
            .find(|a| {
                a.types
                    .iter()
                    .any(|t| t.category == "HUBSPOT_DEFINED" && t.type_id == PRIMARY_COMPANY)
            })
            .or(companies.first());
        let Some(company) = primary else {
            return Ok(None);
        };
        let company = self
            .object("company lookup", "companies", &company.to, &["name"])
            .await?;
        Ok(company.prop("name").map(str::to_string))
    }

    /// The contact's card, then one per open deal (at most
    /// [`MAX_DEAL_CARDS`]), or one saying why the deals are missing.
    pub(crate) fn cards_of(&self, view: ContactView) -> Vec<ContextCard> {
        let mut cards = vec![self.contact_card(&view)];
        match &view.deals {
            Ok(deals) => cards.extend(deals.iter().take(MAX_DEAL_CARDS).map(|d| self.deal_card(d))),
            Err(e) => cards.push(ContextCard {
                title: "HubSpot deals".into(),
                problem: Some(e.to_string()),
                ..Default::default()
            }),
        }
        cards
    }

    fn contact_card(&self, view: &ContactView) -> ContextCard {
        let c = &view.contact;
        let stage = c.prop("lifecyclestage").map(lifecycle_label);
        let name = contact_name(c);
        let title = match &stage {
            Some(stage) => format!("{name} — {stage}"),
            None => name,
        };
        let phone = c.prop("phone").or(c.prop("mobilephone"));
        let mut fields: Vec<(String, String)> = [
            ("Lifecycle stage", stage.clone()),
            ("Owner", view.owner.clone()),
            ("Company", view.company.clone()),
            ("Email", c.prop("email").map(str::to_string)),
            ("Phone", phone.map(str::to_string)),
        ]
        .into_iter()
        .filter_map(|(label, value)| value.map(|v| (label.to_string(), v)))
        .collect();
        if let Ok(deals) = &view.deals {
            if !deals.is_empty() {
                fields.push(("Open deals".into(), deals.len().to_string()));
            }
        }
        let mut card = ContextCard {
            title,
            fields,
            url: self.record_url("0-1", &c.id),
            ..Default::default()
        };
        card.extra.insert("hubspot_contact_id".into(), c.id.clone());
        card
    }

    fn deal_card(&self, deal: &OpenDeal) -> ContextCard {
        let fields = [
            ("Stage", &deal.stage),
            ("Amount", &deal.amount),
            ("Close date", &deal.close_date),
        ]
        .into_iter()
        .filter_map(|(label, value)| value.clone().map(|v| (label.to_string(), v)))
        .collect();
        let name = deal.name.clone().unwrap_or_else(|| format!("#{}", deal.id));
        let mut card = ContextCard {
            title: format!("Deal: {name}"),
            fields,
            url: self.record_url("0-3", &deal.id),
            ..Default::default()
        };
        card.extra.insert("hubspot_deal_id".into(), deal.id.clone());
        card
    }

    /// A record's page in HubSpot (`0-1` contacts, `0-3` deals), when the
    /// tenant gave its portal id.
    fn record_url(&self, object_type: &str, id: &str) -> Option<String> {
        let portal = self.settings.portal_id?;
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        Some(format!(
            "https://app.hubspot.com/contacts/{portal}/record/{object_type}/{id}"
        ))
    }
}

/// The card that says no contact has the customer.
pub(crate) fn not_found(customer: &Customer) -> ContextCard {
    ContextCard {
        title: format!("No HubSpot contact for {}", customer.describe()),
        ..Default::default()
    }
}

/// "First Last", else the e-mail, else the phone, else the id.
fn contact_name(c: &Object) -> String {
    let name = [c.prop("firstname"), c.prop("lastname")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !name.is_empty() {
        return name;
    }
    c.prop("email")
        .or(c.prop("phone"))
        .or(c.prop("mobilephone"))
        .map_or_else(|| format!("Contact #{}", c.id), str::to_string)
}

/// The label of one of HubSpot's default lifecycle stages; a custom
/// stage's internal value as it is.
fn lifecycle_label(value: &str) -> String {
    match value {
        "subscriber" => "Subscriber",
        "lead" => "Lead",
        "marketingqualifiedlead" => "Marketing qualified lead",
        "salesqualifiedlead" => "Sales qualified lead",
        "opportunity" => "Opportunity",
        "customer" => "Customer",
        "evangelist" => "Evangelist",
        "other" => "Other",
        custom => custom,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contacts_are_named_by_what_they_have() {
        let c = |p: serde_json::Value| -> Object {
            serde_json::from_value(json!({"id": "9", "properties": p})).unwrap()
        };
        assert_eq!(
            contact_name(&c(json!({"firstname": "Ana", "lastname": "Gil"}))),
            "Ana Gil"
        );
        assert_eq!(contact_name(&c(json!({"email": "a@b.io"}))), "a@b.io");
        assert_eq!(contact_name(&c(json!({}))), "Contact #9");
        assert_eq!(
            lifecycle_label("marketingqualifiedlead"),
            "Marketing qualified lead"
        );
        assert_eq!(lifecycle_label("1234567"), "1234567");
    }
}
