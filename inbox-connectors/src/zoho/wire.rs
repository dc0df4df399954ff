//! Zoho CRM's JSON, as its v7 API documents it.
//!
//! - Search Records: `{"data": [record…], "info": {"per_page", "count",
//!   "page", "more_records"}}`, or 204 with no body when nothing matches
//!   (<https://www.zoho.com/crm/developer/docs/api/v7/search-records.html>).
//! - Related records (a contact's deals): the same shape
//!   (<https://www.zoho.com/crm/developer/docs/api/v7/get-related-records.html>).
//! - Create Notes: `{"data": [{"code": "SUCCESS", "details": {"id"…},
//!   "message": "record added", "status": "success"}]}`
//!   (<https://www.zoho.com/crm/developer/docs/api/v7/create-notes.html>).
//!
//! Records are read leniently: a field of an unexpected type is treated
//! as absent rather than failing the whole answer.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A page of records (search, related records).
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Page {
    #[serde(default)]
    pub(crate) data: Vec<Record>,
    #[serde(default)]
    pub(crate) info: Option<Info>,
}

/// What a page says of the others.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Info {
    #[serde(default)]
    pub(crate) more_records: bool,
}

/// A record of any module: its id and its fields by API name.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Record {
    pub(crate) id: String,
    #[serde(flatten)]
    pub(crate) fields: Map<String, Value>,
}

impl Record {
    /// A text field (`Email`), trimmed; numbers are written out; empty,
    /// null and other types are `None`.
    pub(crate) fn text(&self, field: &str) -> Option<String> {
        let text = match self.fields.get(field)? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(text).filter(|t| !t.is_empty())
    }

    /// The `name` of a lookup field (`Owner`, `Account_Name`).
    pub(crate) fn lookup_name(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            Value::Object(o) => o
                .get("name")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            _ => None,
        }
    }

    /// `Modified_Time` (ISO 8601 with the org's offset).
    pub(crate) fn modified(&self) -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(&self.text("Modified_Time")?).ok()
    }

    /// `Full_Name`, else the first and last names.
    pub(crate) fn name(&self) -> Option<String> {
        self.text("Full_Name").or_else(|| {
            let parts: Vec<String> = ["First_Name", "Last_Name"]
                .iter()
                .filter_map(|f| self.text(f))
                .collect();
            Some(parts.join(" ")).filter(|n| !n.is_empty())
        })
    }
}

/// The answer to creating notes: one entry per note.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Written {
    #[serde(default)]
    pub(crate) data: Vec<WrittenEntry>,
}

/// One note's outcome.
#[derive(Debug, Deserialize)]
pub(crate) struct WrittenEntry {
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_leniently() {
        let r: Record = serde_json::from_value(serde_json::json!({
            "id": "554023000003701012",
            "Full_Name": null, "First_Name": "John", "Last_Name": "Smith",
            "Owner": {"name": "Patricia Boyle", "id": "1"},
            "Phone": 98883434559u64, "Email": "  ", "Lead_Status": ["odd"],
            "Modified_Time": "2024-02-19T18:30:23-11:00"
        }))
        .unwrap();
        assert_eq!(r.name().as_deref(), Some("John Smith"));
        assert_eq!(r.lookup_name("Owner").as_deref(), Some("Patricia Boyle"));
        assert_eq!(r.text("Phone").as_deref(), Some("98883434559"));
        assert_eq!((r.text("Email"), r.text("Lead_Status")), (None, None));
        assert!(r.modified().is_some());
        let p: Page = serde_json::from_str(r#"{"data":[],"info":{"more_records":true}}"#).unwrap();
        assert!(p.info.unwrap().more_records);
    }
}
