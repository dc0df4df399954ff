//! Editing contacts: tags, attributes, display name.

use std::collections::BTreeMap;

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::ContactId;
use crate::model::Contact;
use crate::permissions::{self, Action};
use crate::ports::{Changeset, Write};

/// Changes to a contact's profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactUpdate {
    /// Tags to add (normalised to lower case).
    pub add_tags: Vec<String>,
    /// Tags to remove.
    pub remove_tags: Vec<String>,
    /// Attributes to set (CRM id, language ...); an empty value removes the
    /// attribute.
    pub attributes: BTreeMap<String, String>,
    /// A display name the team uses instead of the WhatsApp profile name.
    pub display_name: Option<String>,
}

impl Inbox {
    /// Updates a contact's tags, attributes or name, on the version the
    /// agent saw (a stale version is refused with a conflict). Records a
    /// `contact_updated` event saying what changed.
    pub async fn update_contact(
        &self,
        actor: &Actor,
        id: &ContactId,
        seen_version: u64,
        update: ContactUpdate,
    ) -> Result<Contact> {
        let agent = self.load_agent(actor).await?;
        permissions::require(&agent, Action::Tag)?;
        let current = self.ports.store.contact(&actor.tenant, id).await?;
        if seen_version != current.version {
            let mut c = crate::error::Conflict::on("contact", id, seen_version, current.version);
            c.changes.push(crate::error::Change::Other {
                what: "the contact was edited".into(),
            });
            return Err(Error::Conflict(Box::new(c)));
        }
        let mut next = current.clone();
        let mut what = Vec::new();
        for t in &update.remove_tags {
            let t = super::normalize_tag(t)?;
            if let Some(pos) = next.tags.iter().position(|x| *x == t) {
                next.tags.remove(pos);
                what.push(format!("-tag {t}"));
            }
        }
        for t in &update.add_tags {
            let t = super::normalize_tag(t)?;
            if !next.tags.contains(&t) {
                next.tags.push(t.clone());
                what.push(format!("+tag {t}"));
            }
        }
        next.tags.sort();
        for (k, v) in &update.attributes {
            let key = k.trim();
            if key.is_empty() || key.len() > 64 || key.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "attributes",
                    format!("bad attribute name {k:?}"),
                ));
            }
            if v.len() > 2_000 {
                return Err(Error::invalid(
                    "attributes",
                    format!("value of {key:?} is longer than 2000 bytes"),
                ));
            }
            if v.is_empty() {
                if next.attributes.remove(key).is_some() {
                    what.push(format!("-{key}"));
                }
            } else if next.attributes.get(key) != Some(v) {
                next.attributes.insert(key.to_string(), v.clone());
                what.push(format!("{key}={v}"));
            }
        }
        if let Some(name) = &update.display_name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(Error::invalid(
                    "display_name",
                    "must be 1 to 200 characters",
                ));
            }
            if next.display_name.as_deref() != Some(name) {
                next.display_name = Some(name.to_string());
                what.push("name".into());
            }
        }
        if what.is_empty() {
            return Ok(current);
        }
        next.version = current.version + 1;
        let event = Event::new(
            actor.tenant.clone(),
            self.now(),
            EventActor::Agent(agent.id.clone()),
            EventKind::ContactUpdated {
                contact: id.clone(),
                what: what.join(", "),
            },
        );
        let committed = self
            .ports
            .store
            .commit(Changeset {
                contact: Some(Write {
                    value: next.clone(),
                    expected_version: Some(current.version),
                }),
                events: vec![event],
                ..Changeset::new(actor.tenant.clone())
            })
            .await?;
        self.publish(&committed.events).await;
        Ok(next)
    }
}
