//! Contacts imported from a list (a CSV file, in the HTTP layer): each row
//! checked on its own, with an error report by line and field; each
//! customer created or updated once, and a second run of the same list
//! changes nothing (every row is compared and skipped when equal).
//!
//! What a row may change on a customer already known: the team's name for
//! them only if the team never named them, tags added (never removed),
//! attributes set, and the marketing choice only when the row's is newer
//! than the one stored (WhatsApp's stop button, a keyword …): the latest
//! word of the customer wins, whichever way it came.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::ContactId;
use crate::model::{ConsentSource, Contact, ContactIdentity, MarketingChoice};
use crate::permissions::Action;
use crate::ports::{Changeset, Write};

/// Most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 50_000;

/// One customer of an imported list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportRow {
    /// Its line in the file (for the report).
    pub line: u32,
    /// The phone number (`+34 600-111 222` and the like are accepted).
    pub wa_id: Option<String>,
    /// The business-scoped user id (BSUID).
    pub user_id: Option<String>,
    /// The name the team knows them by.
    pub name: Option<String>,
    /// Tags to add.
    pub tags: Vec<String>,
    /// Attributes to set.
    pub attributes: BTreeMap<String, String>,
    /// They agreed to marketing messages (`Some(false)`: they refused).
    pub consent: Option<bool>,
    /// When they said so (default: the import's time).
    pub consent_at: Option<DateTime<Utc>>,
}

/// A row refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportProblem {
    /// The line.
    pub line: u32,
    /// The column.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    /// Rows read.
    pub rows: u32,
    /// Customers created.
    pub created: u32,
    /// Customers changed.
    pub updated: u32,
    /// Rows that changed nothing (already so).
    pub unchanged: u32,
    /// Rows refused (see `problems`).
    pub refused: u32,
    /// Why, by line.
    pub problems: Vec<ImportProblem>,
}

/// A row whose fields passed their checks.
struct Checked {
    line: u32,
    identity: ContactIdentity,
    name: Option<String>,
    tags: Vec<String>,
    attributes: BTreeMap<String, String>,
    consent: Option<(bool, DateTime<Utc>)>,
}

impl Inbox {
    /// Imports contacts (supervisors and admins): each row is checked and
    /// applied on its own; refused rows are reported by line and field and
    /// change nothing. Idempotent: the same list again reports every row
    /// unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] for an agent; [`Error::InvalidInput`] over
    /// [`MAX_IMPORT_ROWS`] rows; a store failure (rows before it are kept).
    pub async fn import_contacts(&self, actor: &Actor, rows: &[ImportRow]) -> Result<ImportReport> {
        self.agent_allowed(actor, Action::ImportContacts).await?;
        if rows.len() > MAX_IMPORT_ROWS {
            let why = format!(
                "{} rows; at most {MAX_IMPORT_ROWS} in one import",
                rows.len()
            );
            return Err(Error::invalid("rows", why));
        }
        let now = self.now();
        let mut report = ImportReport {
            rows: rows.len() as u32,
            ..ImportReport::default()
        };
        let mut seen: HashMap<String, u32> = HashMap::new();
        for row in rows {
            let checked = check_row(row, now).and_then(|c| first_of(c, &mut seen));
            let outcome = match checked {
                Ok(c) => self.import_one(actor, &c, now).await?,
                Err(p) => Outcome::Refused(p),
            };
            match outcome {
                Outcome::Created => report.created += 1,
                Outcome::Updated => report.updated += 1,
                Outcome::Unchanged => report.unchanged += 1,
                Outcome::Refused(p) => {
                    report.refused += 1;
                    report.problems.push(p);
                }
            }
        }
        Ok(report)
    }

    /// Creates or updates one customer; a race with another writer is
    /// decided again once.
    async fn import_one(
        &self,
        actor: &Actor,
        row: &Checked,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        for _ in 0..2 {
            let found = self
                .ports
                .store
                .find_contact(&actor.tenant, &row.identity)
                .await?;
            let (write, kind, outcome) = match found {
                None => {
                    let id: ContactId = self.new_id("contact")?;
                    let c = created(actor, id.clone(), row, now);
                    (
                        Write {
                            value: c,
                            expected_version: None,
                        },
                        EventKind::ContactCreated { contact: id },
                        Outcome::Created,
                    )
                }
                Some(current) => {
                    let mut next = current.clone();
                    let what = merge(&mut next, row);
                    if what.is_empty() {
                        return Ok(Outcome::Unchanged);
                    }
                    next.version = current.version + 1;
                    let kind = EventKind::ContactUpdated {
                        contact: next.id.clone(),
                        what: format!("import: {}", what.join(", ")),
                    };
                    (
                        Write {
                            value: next,
                            expected_version: Some(current.version),
                        },
                        kind,
                        Outcome::Updated,
                    )
                }
            };
            let event = Event::new(
                actor.tenant.clone(),
                now,
                EventActor::Agent(actor.agent.clone()),
                kind,
            );
            let changes = Changeset {
                contact: Some(write),
                events: vec![event],
                ..Changeset::new(actor.tenant.clone())
            };
            match self.ports.store.commit(changes).await {
                Ok(committed) => {
                    self.publish(&committed.events).await;
                    return Ok(outcome);
                }
                Err(Error::Conflict(_) | Error::Duplicate { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Outcome::Refused(ImportProblem {
            line: row.line,
            field: "(row)".into(),
            problem: "the customer changed while importing; import the file again".into(),
        }))
    }
}

/// What one row did.
enum Outcome {
    Created,
    Updated,
    Unchanged,
    Refused(ImportProblem),
}

fn problem(line: u32, field: &str, problem: impl Into<String>) -> ImportProblem {
    ImportProblem {
        line,
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// The row's fields checked one by one.
fn check_row(row: &ImportRow, now: DateTime<Utc>) -> std::result::Result<Checked, ImportProblem> {
    let line = row.line;
    let wa_id = match row
        .wa_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(raw) => Some(phone(raw).ok_or_else(|| {
            problem(
                line,
                "phone",
                format!("{raw:?} is not a phone number (8 to 15 digits, with the country code)"),
            )
        })?),
    };
    let user_id = match row
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(raw) => Some(crate::search::search_user_id(raw).ok_or_else(|| {
            problem(
                line,
                "user_id",
                format!("{raw:?} is not a WhatsApp user id (CC.123…)"),
            )
        })?),
    };
    if wa_id.is_none() && user_id.is_none() {
        return Err(problem(
            line,
            "phone",
            "a phone number or a user id is needed",
        ));
    }
    let name = row
        .name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(problem(line, "name", "at most 200 characters"));
    }
    let mut tags = Vec::new();
    for t in row.tags.iter().filter(|t| !t.trim().is_empty()) {
        let tag =
            super::actions::normalize_tag(t).map_err(|e| problem(line, "tags", e.to_string()))?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    for (k, v) in &row.attributes {
        if k.trim().is_empty() || k.chars().count() > 64 || v.chars().count() > 1000 {
            return Err(problem(
                line,
                &format!("attr.{k}"),
                "names are 1-64 characters, values at most 1000",
            ));
        }
    }
    let consent = match (row.consent, row.consent_at) {
        (None, Some(_)) => {
            return Err(problem(
                line,
                "consent_at",
                "given without consent (yes or no)",
            ))
        }
        (Some(_), Some(at)) if at > now => {
            return Err(problem(line, "consent_at", "is in the future"))
        }
        (Some(c), at) => Some((c, at.unwrap_or(now))),
        (None, None) => None,
    };
    let identity = ContactIdentity {
        wa_id,
        user_id,
        parent_user_id: None,
    };
    Ok(Checked {
        line,
        identity,
        name,
        tags,
        attributes: row.attributes.clone(),
        consent,
    })
}

/// A refused row when an earlier one of the file is the same customer.
fn first_of(
    c: Checked,
    seen: &mut HashMap<String, u32>,
) -> std::result::Result<Checked, ImportProblem> {
    let keys = [c.identity.wa_id.clone(), c.identity.user_id.clone()];
    for key in keys.into_iter().flatten() {
        if let Some(earlier) = seen.get(&key) {
            return Err(problem(
                c.line,
                "phone",
                format!("the same customer as line {earlier}"),
            ));
        }
    }
    for key in [c.identity.wa_id.clone(), c.identity.user_id.clone()]
        .into_iter()
        .flatten()
    {
        seen.insert(key, c.line);
    }
    Ok(c)
}

/// `+34 (600) 111-222` → `34600111222`, if it has 8 to 15 digits.
fn phone(raw: &str) -> Option<String> {
    let kept: String = raw
        .chars()
        .filter(|c| !matches!(c, '+' | '-' | '(' | ')' | ' ' | '.'))
        .collect();
    let ok = (8..=15).contains(&kept.len()) && kept.chars().all(|c| c.is_ascii_digit());
    ok.then_some(kept)
}

/// The marketing choice a row records.
fn choice(consent: bool, at: DateTime<Utc>) -> MarketingChoice {
    MarketingChoice {
        stopped: !consent,
        at,
        detail: None,
        source: ConsentSource::Import,
        opted_in: consent,
    }
}

/// A new customer from a row.
fn created(actor: &Actor, id: ContactId, row: &Checked, now: DateTime<Utc>) -> Contact {
    let mut tags = row.tags.clone();
    tags.sort();
    Contact {
        tenant: actor.tenant.clone(),
        id,
        identity: row.identity.clone(),
        profile_name: None,
        username: None,
        marketing: row.consent.map(|(c, at)| choice(c, at)),
        app_name: None,
        app_name_at: None,
        display_name: row.name.clone(),
        tags,
        attributes: row.attributes.clone(),
        created_at: now,
        merged_into: None,
        version: 1,
    }
}

/// What a row changes on a known customer (and says so).
fn merge(c: &mut Contact, row: &Checked) -> Vec<&'static str> {
    let mut what = Vec::new();
    if c.display_name.is_none() && row.name.is_some() {
        c.display_name = row.name.clone();
        what.push("name");
    }
    let before = c.tags.len();
    for t in &row.tags {
        if !c.tags.contains(t) {
            c.tags.push(t.clone());
        }
    }
    if c.tags.len() != before {
        c.tags.sort();
        what.push("tags");
    }
    let mut attributes = false;
    for (k, v) in &row.attributes {
        if c.attributes.get(k) != Some(v) {
            c.attributes.insert(k.clone(), v.clone());
            attributes = true;
        }
    }
    if attributes {
        what.push("attributes");
    }
    if let Some((consent, at)) = row.consent {
        let newer = c.marketing.as_ref().is_none_or(|m| m.at < at);
        if newer {
            c.marketing = Some(choice(consent, at));
            what.push("marketing");
        }
    }
    what
}
