//! Contacts of the WhatsApp Business app on coexistence numbers: the name
//! the business gave a customer on the phone names them for the team.

use super::commit::Retry;
use super::Inbox;
use crate::error::Result;
use crate::event::{Event, EventActor, EventKind};
use crate::inbound::{InboundAppContact, IngestOutcome};
use crate::model::Contact;
use crate::ports::{Changeset, Write};

impl Inbox {
    /// Records a contact of the WhatsApp Business app
    /// (`smb_app_state_sync`): its name is kept on the contact
    /// ([`Contact::app_name`]) and names them for the team unless someone
    /// on the team named them otherwise; a contact the tenant has never
    /// heard from is created, so their first message already shows the
    /// name. Removing it from the app forgets the app's name, nothing else.
    /// Answered with [`IngestOutcome::AppContact`].
    pub async fn ingest_app_contact(&self, a: InboundAppContact) -> Result<IngestOutcome> {
        a.check(self.now())?;
        let channel = self.channel_for(&a.phone_number_id).await?;
        let tenant = &channel.tenant;
        let name = a
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty() && !a.removed);
        let mut retry = Retry::default();
        loop {
            let found = self.ports.store.find_contact(tenant, &a.contact).await?;
            let (before, mut next) = match found {
                Some(c) => (Some(c.clone()), c),
                None if name.is_some() => (None, self.app_contact(&channel.tenant, &a)?),
                None => {
                    return Ok(IngestOutcome::AppContact {
                        contact: None,
                        changed: false,
                    })
                }
            };
            // An older report than the one kept, delivered late.
            let stale = next.app_name_at.is_some_and(|at| at > a.timestamp);
            if (stale || !renamed(&mut next, name)) && before.is_some() {
                return Ok(IngestOutcome::AppContact {
                    contact: Some(next.id),
                    changed: false,
                });
            }
            next.app_name_at = Some(a.timestamp);
            next.version = before.as_ref().map_or(1, |b| b.version + 1);
            let kind = match &before {
                Some(_) => EventKind::ContactUpdated {
                    contact: next.id.clone(),
                    what: "name from the WhatsApp Business app".into(),
                },
                None => EventKind::ContactCreated {
                    contact: next.id.clone(),
                },
            };
            let event = Event::new(tenant.clone(), self.now(), EventActor::System, kind);
            let id = next.id.clone();
            let changes = Changeset {
                contact: Some(Write {
                    expected_version: before.as_ref().map(|b| b.version),
                    value: next,
                }),
                events: vec![event],
                ..Changeset::new(tenant.clone())
            };
            match self.ports.store.commit(changes).await {
                Ok(committed) => {
                    self.publish(&committed.events).await;
                    return Ok(IngestOutcome::AppContact {
                        contact: Some(id),
                        changed: true,
                    });
                }
                Err(e @ crate::Error::Duplicate { .. }) => retry.race(e, &self.config)?,
                Err(e) => retry.again(e, &self.config)?,
            }
        }
    }

    /// A new contact known from the app only.
    fn app_contact(&self, tenant: &crate::ids::TenantId, a: &InboundAppContact) -> Result<Contact> {
        let id = self.new_id("contact")?;
        Ok(Contact::new(
            tenant.clone(),
            id,
            a.contact.clone(),
            self.now(),
        ))
    }
}

/// Gives `c` the app's `name` (`None`: removed from the app): it names
/// them for the team when the team's name was the app's or none. Whether
/// anything changed.
fn renamed(c: &mut Contact, name: Option<&str>) -> bool {
    if c.app_name.as_deref() == name {
        return false;
    }
    let team_named = c
        .display_name
        .as_deref()
        .is_some_and(|d| Some(d) != c.app_name.as_deref());
    if !team_named {
        c.display_name = name.map(str::to_string);
    }
    c.app_name = name.map(str::to_string);
    true
}
