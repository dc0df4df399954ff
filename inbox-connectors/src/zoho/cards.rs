//! The card of the record found: its name and stage, status, owner,
//! company or account, e-mail and phone. A lead's stage is its
//! `Lead_Status`; a contact's, the stages of its open deals (read from its
//! Deals related list; a contact whose deals cannot be read is shown
//! without them).
//!
//! No link: a record's address in Zoho CRM's web app holds the org's id,
//! which the API's answers here do not give.

use inbox_core::ports::ContextCard;
use inbox_core::settings::ZohoModule;

use crate::{ConnectorError, Customer};

use super::search::{By, Found};
use super::wire::{Page, Record};
use super::Zoho;

/// Deals read for a contact (the most recently modified first).
const DEALS_READ: &str = "20";

/// The card that says nobody was found.
pub(crate) fn not_found(customer: &Customer) -> ContextCard {
    ContextCard {
        title: format!("No Zoho CRM lead or contact for {}", customer.describe()),
        ..Default::default()
    }
}

impl Zoho {
    /// The card of a record found, with a contact's open deals.
    pub(crate) async fn card(&self, found: &Found) -> ContextCard {
        let stage = match found.module {
            ZohoModule::Leads => found.record.text("Lead_Status"),
            ZohoModule::Contacts => self.open_deal_stages(&found.record).await,
        };
        card_of(found, stage)
    }

    /// The stages of the contact's open deals, most recent first, without
    /// repeats (`None`: no open deal, or they could not be read).
    async fn open_deal_stages(&self, contact: &Record) -> Option<String> {
        match self.deals_of(contact).await {
            Ok(deals) => {
                let mut stages: Vec<String> = Vec::new();
                for stage in deals.iter().filter_map(|d| d.text("Stage")) {
                    if !is_closed(&stage) && !stages.contains(&stage) {
                        stages.push(stage);
                    }
                }
                Some(stages.join(", ")).filter(|s| !s.is_empty())
            }
            Err(e) => {
                tracing::warn!(error = %e, "Zoho CRM: a contact's deals could not be read");
                None
            }
        }
    }

    /// `GET /crm/v7/Contacts/{id}/Deals?fields=…` (`fields` is mandatory
    /// for related records; 204 when there are none).
    async fn deals_of(&self, contact: &Record) -> Result<Vec<Record>, ConnectorError> {
        let id = self.record_id(contact)?;
        let url = self.api_url(&format!("Contacts/{id}/Deals"))?;
        let query = [
            ("fields", "Deal_Name,Stage,Modified_Time"),
            ("sort_by", "Modified_Time"),
            ("sort_order", "desc"),
            ("per_page", DEALS_READ),
        ];
        let answer = self
            .call("the contact's deals", |c| c.get(url.clone()).query(&query))
            .await?;
        let page: Page = self.read(&answer, "the contact's deals")?;
        Ok(page.data)
    }
}

/// Zoho's closed stages are `Closed Won` and `Closed Lost` (and
/// `Closed-Lost to Competition`) unless an admin renamed them.
fn is_closed(stage: &str) -> bool {
    stage.trim().to_ascii_lowercase().starts_with("closed")
}

/// The card: `Ana García — Contacted`, then the fields that have values.
fn card_of(found: &Found, stage: Option<String>) -> ContextCard {
    let r = &found.record;
    let name = r.name().unwrap_or_else(|| "(no name)".into());
    let title = match &stage {
        Some(s) => format!("{name} — {s}"),
        None => name,
    };
    let (kind, stage_label, company) = match found.module {
        ZohoModule::Leads => ("Lead", "Status", r.text("Company")),
        ZohoModule::Contacts => ("Contact", "Stage", r.lookup_name("Account_Name")),
    };
    let company_label = match found.module {
        ZohoModule::Leads => "Company",
        ZohoModule::Contacts => "Account",
    };
    let fields = [
        ("Type", Some(kind.to_string())),
        (stage_label, stage),
        ("Owner", r.lookup_name("Owner")),
        (company_label, company),
        ("Email", r.text("Email")),
        ("Phone", r.text("Phone").or_else(|| r.text("Mobile"))),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|v| (label.to_string(), v)))
    .collect();
    let mut card = ContextCard {
        title,
        fields,
        ..Default::default()
    };
    card.extra
        .insert("module".into(), found.module.api_name().into());
    card.extra.insert("record_id".into(), r.id.clone());
    let by = match found.by {
        By::Phone => "phone",
        By::Email => "email",
    };
    card.extra.insert("matched_by".into(), by.into());
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_stages_are_recognised() {
        assert!(is_closed("Closed Won") && is_closed("Closed-Lost to Competition"));
        assert!(!is_closed("Negotiation/Review"));
    }
}
