//! A customer's stop or resume keyword (the tenant's `consent` settings)
//! recorded on their contact, in the commit that stores the message.

use chrono::{DateTime, Utc};

use super::commit::Retry;
use super::Inbox;
use crate::error::Result;
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{MessageId, TenantId};
use crate::inbound::InboundMessage;
use crate::model::{ConsentSource, Contact, MarketingChoice, ProviderError};
use crate::ports::{Changeset, Write};

/// WhatsApp's error for a marketing message to someone who stopped
/// marketing messages from the business.
pub const MARKETING_REFUSED: i64 = 131_050;

/// Whether a failed send's `error` says the customer stopped marketing
/// messages.
pub(super) fn refuses_marketing(error: Option<&ProviderError>) -> bool {
    error.is_some_and(|e| e.code == Some(MARKETING_REFUSED))
}

impl Inbox {
    /// Records on the contact of `message`'s conversation that they stopped
    /// marketing messages, as WhatsApp's refusal to deliver one at `at`
    /// says (error 131050; source `send_refused`). A choice kept from
    /// later, or the same stop already kept, changes nothing; recording it
    /// again is harmless (a redelivered status).
    pub(super) async fn record_marketing_refused(
        &self,
        tenant: &TenantId,
        message: &MessageId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let store = &self.ports.store;
        let m = store.message(tenant, message).await?;
        let c = store.conversation(tenant, &m.conversation).await?;
        let mut retry = Retry::default();
        loop {
            let contact = store.contact(tenant, &c.contact).await?;
            let kept = contact
                .marketing
                .as_ref()
                .is_some_and(|k| k.at > at || (k.stopped && k.at == at));
            if kept
                || contact
                    .marketing
                    .as_ref()
                    .is_some_and(|k| k.stopped && k.source == ConsentSource::SendRefused)
            {
                return Ok(());
            }
            let mut next = contact.clone();
            next.marketing = Some(MarketingChoice {
                stopped: true,
                at,
                detail: Some("WhatsApp refused a marketing message (131050)".into()),
                source: ConsentSource::SendRefused,
                opted_in: false,
            });
            next.version += 1;
            let event = Event::new(
                tenant.clone(),
                self.now(),
                EventActor::System,
                EventKind::ContactUpdated {
                    contact: contact.id.clone(),
                    what: "stopped marketing messages (WhatsApp refused one)".into(),
                },
            );
            let changes = Changeset {
                contact: Some(Write {
                    expected_version: Some(contact.version),
                    value: next,
                }),
                events: vec![event],
                ..Changeset::new(tenant.clone())
            };
            match store.commit(changes).await {
                Ok(committed) => {
                    self.publish(&committed.events).await;
                    return Ok(());
                }
                Err(e) => retry.again(e, &self.config)?,
            }
        }
    }
}

/// `contact` (with its write and leading events, as
/// [`Inbox::contact_for`](super::Inbox) made them) after the customer sent
/// a keyword that stops (`stopped`) or resumes marketing messages in
/// `msg`: their choice, its source and time, and a `contact_updated`
/// event. A choice kept from later than the message, or the same choice
/// at the same time, changes nothing.
pub(super) fn keyword_choice(
    stopped: bool,
    msg: &InboundMessage,
    mut contact: Contact,
    write: Option<Write<Contact>>,
    mut leading: Vec<Event>,
    now: DateTime<Utc>,
) -> (Contact, Option<Write<Contact>>, Vec<Event>) {
    let at = msg.timestamp.min(now);
    let stale = contact
        .marketing
        .as_ref()
        .is_some_and(|m| m.at > at || (m.at == at && m.stopped == stopped));
    if stale {
        return (contact, write, leading);
    }
    contact.marketing = Some(MarketingChoice {
        stopped,
        at,
        detail: None,
        source: ConsentSource::Keyword,
        opted_in: !stopped,
    });
    let write = match write {
        Some(w) => Write {
            value: contact.clone(),
            ..w
        },
        None => {
            contact.version += 1;
            Write {
                expected_version: Some(contact.version - 1),
                value: contact.clone(),
            }
        }
    };
    let what = if stopped {
        "stopped marketing messages (keyword)"
    } else {
        "resumed marketing messages (keyword)"
    };
    leading.push(Event::new(
        contact.tenant.clone(),
        now,
        EventActor::Customer(contact.id.clone()),
        EventKind::ContactUpdated {
            contact: contact.id.clone(),
            what: what.into(),
        },
    ));
    (contact, Some(write), leading)
}
