//! HubSpot's JSON, as documented: the shapes of the CRM API v3 objects,
//! search, batch read, owners and pipelines, and of the v4 associations.
//!
//! - Objects (`SimplePublicObject`: `id`, `properties` of strings or null,
//!   `createdAt`, `updatedAt`, `archived`) and search
//!   (`CollectionResponseWithTotalSimplePublicObjectForwardPaging`:
//!   `total`, `results`, `paging.next.after`):
//!   <https://developers.hubspot.com/docs/api/crm/search>
//! - Associations v4 (`results[].toObjectId`, `results[].associationTypes[]`
//!   of `category`, `typeId`, `label`; `paging.next.after`):
//!   <https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide>
//! - Owners (`id`, `email`, `firstName`, `lastName`, `userId`):
//!   <https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide>
//! - Pipelines (`results[].stages[]` of `id`, `label`, `metadata.isClosed`):
//!   <https://developers.hubspot.com/docs/api-reference/crm-pipelines-v3/guide>

use serde::{Deserialize, Deserializer};
use std::collections::HashMap;

/// A CRM record (contact, company, deal, communication).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Object {
    /// Its id (digits, as a string).
    #[serde(deserialize_with = "id")]
    pub(crate) id: String,
    /// The properties asked for (absent or null when unset).
    #[serde(default)]
    pub(crate) properties: HashMap<String, Option<String>>,
    /// When it last changed (ISO 8601).
    #[serde(default, rename = "updatedAt")]
    pub(crate) updated_at: Option<String>,
}

impl Object {
    /// A property's value, trimmed; `None` when unset or blank.
    pub(crate) fn prop(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(|v| v.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// A page of search results.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchPage {
    /// The records found.
    #[serde(default)]
    pub(crate) results: Vec<Object>,
}

/// A batch read's answer (200, or 207 with `errors` for ids not found).
#[derive(Debug, Deserialize)]
pub(crate) struct BatchPage {
    /// The records read.
    #[serde(default)]
    pub(crate) results: Vec<Object>,
}

/// The cursor of a page that has a next one.
#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    /// The next page, if any.
    pub(crate) next: Option<NextPage>,
}

/// Where the next page starts.
#[derive(Debug, Deserialize)]
pub(crate) struct NextPage {
    /// The cursor to pass as `after`.
    pub(crate) after: String,
}

/// A page of a record's associations (v4).
#[derive(Debug, Deserialize)]
pub(crate) struct AssociationPage {
    /// The associated records.
    #[serde(default)]
    pub(crate) results: Vec<Associated>,
    /// The next page.
    pub(crate) paging: Option<Paging>,
}

/// One associated record and how it is associated.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Associated {
    /// The other record's id.
    #[serde(rename = "toObjectId", deserialize_with = "id")]
    pub(crate) to: String,
    /// The association's types (labels).
    #[serde(default, rename = "associationTypes")]
    pub(crate) types: Vec<AssociationType>,
}

/// An association type (`HUBSPOT_DEFINED` 1 is a contact's primary company).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AssociationType {
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED`.
    #[serde(default)]
    pub(crate) category: String,
    /// The type's id.
    #[serde(rename = "typeId")]
    pub(crate) type_id: i64,
}

/// An owner (a HubSpot user records are assigned to).
#[derive(Debug, Deserialize)]
pub(crate) struct Owner {
    /// First name.
    #[serde(default, rename = "firstName")]
    pub(crate) first_name: Option<String>,
    /// Last name.
    #[serde(default, rename = "lastName")]
    pub(crate) last_name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub(crate) email: Option<String>,
}

impl Owner {
    /// "First Last", else the e-mail.
    pub(crate) fn name(&self) -> Option<String> {
        let name = [&self.first_name, &self.last_name]
            .into_iter()
            .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
            .collect::<Vec<_>>()
            .join(" ");
        Some(name)
            .filter(|n| !n.is_empty())
            .or_else(|| self.email.clone().filter(|e| !e.trim().is_empty()))
    }
}

/// The deal pipelines.
#[derive(Debug, Deserialize)]
pub(crate) struct Pipelines {
    /// Each pipeline.
    #[serde(default)]
    pub(crate) results: Vec<Pipeline>,
}

/// One pipeline and its stages.
#[derive(Debug, Deserialize)]
pub(crate) struct Pipeline {
    /// Its stages.
    #[serde(default)]
    pub(crate) stages: Vec<Stage>,
}

/// A pipeline stage (a deal's `dealstage` is its id).
#[derive(Debug, Deserialize)]
pub(crate) struct Stage {
    /// The stage's id.
    pub(crate) id: String,
    /// Its label.
    pub(crate) label: String,
    /// `isClosed` ("true"/"false") and `probability`, as strings.
    #[serde(default)]
    pub(crate) metadata: HashMap<String, serde_json::Value>,
}

impl Stage {
    /// Whether deals in this stage are closed (won or lost).
    pub(crate) fn is_closed(&self) -> Option<bool> {
        match self.metadata.get("isClosed")? {
            serde_json::Value::Bool(b) => Some(*b),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// An id given as a string or as a number (associations give numbers).
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_associations_read_documented_shapes() {
        let o: Object = serde_json::from_str(
            r#"{"id":"51","properties":{"email":" a@b.io ","phone":null,"firstname":""},
                "createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-02-01T00:00:00Z","archived":false}"#,
        )
        .unwrap();
        assert_eq!(o.prop("email"), Some("a@b.io"));
        assert_eq!((o.prop("phone"), o.prop("firstname")), (None, None));
        let page: AssociationPage = serde_json::from_str(
            r#"{"results":[{"toObjectId":9007199254,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":1,"label":"Primary"}]}],
                "paging":{"next":{"after":"MTA=","link":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(page.results[0].to, "9007199254");
        assert_eq!(page.paging.unwrap().next.unwrap().after, "MTA=");
    }

    #[test]
    fn owners_are_named_by_name_else_email() {
        let o: Owner =
            serde_json::from_str(r#"{"id":"1","firstName":"Ana","lastName":" "}"#).unwrap();
        assert_eq!(o.name().as_deref(), Some("Ana"));
        let o: Owner = serde_json::from_str(r#"{"id":"1","email":"ana@x.io"}"#).unwrap();
        assert_eq!(o.name().as_deref(), Some("ana@x.io"));
    }
}
