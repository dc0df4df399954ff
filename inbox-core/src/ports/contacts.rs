//! Contacts: the [`Contacts`] port.

use async_trait::async_trait;

use crate::error::{Entity, Error, Result};
use crate::event::Event;
use crate::ids::{ContactId, TenantId};
use crate::model::{Contact, ContactIdentity};

use super::{Committed, Write};

/// Two contacts merged into one, for [`Contacts::merge_contacts`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContactMerge {
    /// The contact merged away, as it will be stored: identity cleared,
    /// `merged_into` set, at the version after the expected one.
    pub from: Write<Contact>,
    /// The contact that remains, with the union of both, at the version
    /// after the expected one.
    pub into: Write<Contact>,
    /// Events to record.
    pub events: Vec<Event>,
}

/// The customers a tenant talks to. Contacts are created and edited by
/// [`Conversations::commit`](super::Conversations::commit); this port reads
/// them and merges two into one.
///
/// # Contract
///
/// Every implementation must guarantee the following; the conformance suite
/// (`inbox_core::testing`, feature `testing`) checks each point.
///
/// **Tenancy.** An id of another tenant is left out (or `None`), never
/// data.
///
/// **Identity.** At most one contact per `wa_id` and one per `user_id` in a
/// tenant; [`Contacts::find_contact`] looks by `wa_id` first.
///
/// **Merges.** [`Contacts::merge_contacts`] is atomic and optimistic, as a
/// commit is: both contacts at their expected versions, or
/// [`Error::Conflict`] and nothing written.
#[async_trait]
pub trait Contacts: Send + Sync {
    /// The contacts of the tenant with these ids, each once, in the order
    /// of `ids`; ids that are unknown (or another tenant's) are left out.
    /// For a page of conversations: one read instead of one per row.
    async fn contacts(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>>;

    /// One contact, read as [`Contacts::contacts`] reads it; an unknown id
    /// is [`Error::NotFound`]. Implementations need not override it.
    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<Contact> {
        self.contacts(tenant, std::slice::from_ref(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(Entity::Contact, id))
    }

    /// The contact with this `wa_id`, else the one with this `user_id`,
    /// else the first with this `parent_user_id`.
    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>>;

    /// Merges two contacts atomically: checks both expected versions
    /// ([`Error::Conflict`] if either moved), moves every conversation of
    /// `from` to `into` (each conversation's version goes up by one), stores
    /// both contacts (`from` first, so `into` may take its identity) and
    /// records the events. Refused with [`Error::Duplicate`]
    /// ([`Unique::ActiveConversation`](crate::Unique::ActiveConversation))
    /// if both have an active conversation on the same channel; nothing is
    /// written then.
    async fn merge_contacts(&self, tenant: &TenantId, merge: &ContactMerge) -> Result<Committed>;
}
