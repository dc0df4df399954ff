//! A customer's stop or resume keyword (the tenant's `consent` settings)
//! recorded on their contact, in the commit that stores the message.

use chrono::{DateTime, Utc};

use crate::event::{Event, EventActor, EventKind};
use crate::inbound::InboundMessage;
use crate::model::{ConsentSource, Contact, MarketingChoice};
use crate::ports::Write;

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
