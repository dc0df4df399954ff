//! A conversation written as a note on the customer's lead or contact.
//!
//! `POST /crm/v7/Notes` with `{"data": [{"Note_Title", "Note_Content",
//! "Parent_Id": {"module": {"api_name": "Leads"}, "id": "…"}}]}`; the
//! answer is one entry per note with `"status": "success"`:
//! <https://www.zoho.com/crm/developer/docs/api/v7/create-notes.html>.
//! Zoho CRM does not create records here: no record, no note.

use serde_json::json;

use inbox_core::settings::CrmLog;

use crate::{ConnectorError, ConnectorKind, LogEntry, Logged};

use super::search::Found;
use super::wire::Written;
use super::Zoho;

/// The longest note text written (Zoho's notes are long text fields; a
/// longer transcript is cut, with a word that it was).
const MAX_CONTENT_CHARS: usize = 30_000;

impl Zoho {
    /// Writes the entry as a note on the customer's record.
    pub(crate) async fn write_note(&self, entry: &LogEntry) -> Result<Logged, ConnectorError> {
        if self.settings.log == CrmLog::Off {
            return Err(ConnectorError::NotConfigured {
                connector: ConnectorKind::Zoho,
                what: "writing to the CRM is off (connectors.zoho.log)".into(),
            });
        }
        let Some(found) = self.find(&entry.customer).await? else {
            return Ok(Logged::NoRecord);
        };
        let body = note(&found, entry);
        let url = self.api_url("Notes")?;
        let answer = self
            // Never sent twice by this call: a timeout may have written it.
            .call_with(&self.api.creating(), "the note", |c| {
                c.post(url.clone()).json(&body)
            })
            .await?;
        let written: Written = self.read(&answer, "the note")?;
        match written.data.first() {
            Some(w) if w.status.eq_ignore_ascii_case("success") => Ok(Logged::Written {
                record: found.record.id.clone(),
            }),
            Some(w) => Err(ConnectorError::Rejected {
                connector: ConnectorKind::Zoho,
                what: "the note",
                status: answer.status,
                message: format!("{}: {}", w.code, w.message),
            }),
            None => Err(ConnectorError::BadResponse {
                connector: ConnectorKind::Zoho,
                what: "the note",
                reason: "no entry for the note".into(),
            }),
        }
    }
}

/// The request body: the entry's title and text, the conversation's id
/// and time at the end (to find the note again), on the record found.
fn note(found: &Found, entry: &LogEntry) -> serde_json::Value {
    let footer = format!(
        "\n\nWhatsApp conversation {} · {}",
        entry.conversation,
        entry.at.format("%Y-%m-%d %H:%M UTC")
    );
    let mut content = entry.body.clone();
    if content.chars().count() > MAX_CONTENT_CHARS {
        content = content.chars().take(MAX_CONTENT_CHARS).collect();
        content.push_str("\n… (cut)");
    }
    content.push_str(&footer);
    json!({
        "data": [{
            "Note_Title": entry.title,
            "Note_Content": content,
            "Parent_Id": {
                "module": {"api_name": found.module.api_name()},
                "id": found.record.id,
            },
        }]
    })
}
