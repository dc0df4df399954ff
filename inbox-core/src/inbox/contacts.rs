//! Editing contacts: tags, attributes, display name.

use std::collections::BTreeMap;

use super::{Actor, Inbox};
use crate::error::{Entity, Error, Result};
use crate::event::EventKind;
use crate::ids::ContactId;
use crate::model::Contact;
use crate::permissions::Action;
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
        let agent = self.agent_allowed(actor, Action::Tag).await?;
        let current = self.ports.store.contact(&actor.tenant, id).await?;
        if seen_version != current.version {
            let mut c =
                crate::error::Conflict::on(Entity::Contact, id, seen_version, current.version);
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
        let event = self.agent_event(
            &actor.tenant,
            &agent.id,
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

    /// Merges contact `merge` into contact `keep` (the same person known
    /// twice, e.g. once by number and once by BSUID, or written in from
    /// two numbers): `merge`'s conversations move to `keep`, which takes
    /// the union of identities, tags and attributes (its own values win)
    /// and `merge`'s names where it has none. `merge` stays as a pointer to
    /// `keep` ([`Contact::merged_into`]). Supervisors and admins; both
    /// versions must be the ones the agent saw.
    ///
    /// Refused when the two have different WhatsApp numbers or BSUIDs (a
    /// contact has one of each), and when both have an active conversation
    /// on the same number (resolve one first).
    pub async fn merge_contacts(
        &self,
        actor: &Actor,
        keep: &ContactId,
        keep_version: u64,
        merge: &ContactId,
        merge_version: u64,
    ) -> Result<Contact> {
        let agent = self.agent_allowed(actor, Action::MergeContacts).await?;
        if keep == merge {
            return Err(Error::invalid(
                "merge",
                "a contact cannot be merged into itself",
            ));
        }
        let store = &self.ports.store;
        let into = store.contact(&actor.tenant, keep).await?;
        let from = store.contact(&actor.tenant, merge).await?;
        for (c, seen) in [(&into, keep_version), (&from, merge_version)] {
            if c.version != seen {
                let mut conflict =
                    crate::error::Conflict::on(Entity::Contact, &c.id, seen, c.version);
                conflict.changes.push(crate::error::Change::Other {
                    what: "the contact was edited".into(),
                });
                return Err(Error::Conflict(Box::new(conflict)));
            }
            if c.merged_into.is_some() {
                return Err(Error::InvalidState(format!(
                    "contact {} was already merged into another",
                    c.id
                )));
            }
        }
        let clash =
            |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(x), Some(y)) if x != y);
        if clash(&into.identity.wa_id, &from.identity.wa_id) {
            return Err(Error::InvalidState(
                "the contacts have different WhatsApp numbers; a contact has one".into(),
            ));
        }
        if clash(&into.identity.user_id, &from.identity.user_id) {
            return Err(Error::InvalidState(
                "the contacts have different WhatsApp user ids (BSUID); a contact has one".into(),
            ));
        }
        let mut next = into.clone();
        if next.identity.wa_id.is_none() {
            next.identity.wa_id = from.identity.wa_id.clone();
        }
        if next.identity.user_id.is_none() {
            next.identity.user_id = from.identity.user_id.clone();
        }
        if next.identity.parent_user_id.is_none() {
            next.identity.parent_user_id = from.identity.parent_user_id.clone();
        }
        if next.profile_name.is_none() {
            next.profile_name = from.profile_name.clone();
        }
        if next.username.is_none() {
            next.username = from.username.clone();
        }
        if next.display_name.is_none() {
            next.display_name = from.display_name.clone();
        }
        for t in &from.tags {
            if !next.tags.contains(t) {
                next.tags.push(t.clone());
            }
        }
        next.tags.sort();
        for (k, v) in &from.attributes {
            next.attributes
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        next.created_at = next.created_at.min(from.created_at);
        next.version = into.version + 1;
        let mut gone = from.clone();
        gone.identity = crate::model::ContactIdentity::default();
        gone.merged_into = Some(keep.clone());
        gone.version = from.version + 1;
        let moved = self
            .contact(actor, merge)
            .await
            .map(|d| d.conversations.len() as u32)
            .unwrap_or(0);
        let event = self.agent_event(
            &actor.tenant,
            &agent.id,
            EventKind::ContactsMerged {
                from: merge.clone(),
                into: keep.clone(),
                conversations: moved,
            },
        );
        let committed = store
            .merge_contacts(
                &actor.tenant,
                &crate::ports::ContactMerge {
                    from: Write {
                        value: gone,
                        expected_version: Some(from.version),
                    },
                    into: Write {
                        value: next.clone(),
                        expected_version: Some(into.version),
                    },
                    events: vec![event],
                },
            )
            .await?;
        self.publish(&committed.events).await;
        Ok(next)
    }
}
