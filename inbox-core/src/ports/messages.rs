//! Stored messages and the changes made to them after their commit
//! (delivery statuses, doubt, resends): the [`Messages`] port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{Entity, Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{ChannelId, ConversationId, MessageId, TenantId};
use crate::model::{DeliveryUpdate, Message};

/// A change to one stored message, applied by the store atomically with the
/// pure rules in [`MessageMutation::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum MessageMutation {
    /// A delivery status report, optionally recording the provider id.
    Delivery {
        /// The report.
        update: DeliveryUpdate,
        /// The provider id, recorded if the message has none yet.
        external_id: Option<String>,
    },
    /// A send attempt was interrupted: mark the message in doubt if it is
    /// still pending without a provider id.
    InDoubt {
        /// When the doubt was noticed.
        at: DateTime<Utc>,
    },
    /// A past message's file arrived after its placeholder
    /// ([`MEDIA_PLACEHOLDER`](crate::inbox::MEDIA_PLACEHOLDER)): the
    /// placeholder becomes `content` (nothing else changes, and a message
    /// that is not a placeholder is left as it is).
    Filled {
        /// The message's content now.
        content: crate::model::Content,
    },
    /// The inbox decided not to send a message still waiting in the
    /// outbox: it becomes [`Cancelled`](crate::model::DeliveryStatus::Cancelled)
    /// with `reason` (an event records it) if it is still pending with no
    /// provider id and no attempt in doubt; otherwise nothing changes.
    Cancelled {
        /// When.
        at: DateTime<Utc>,
        /// Why, in words (`taken over by ana`, `opted_out`).
        reason: String,
    },
    /// An agent sent the message again as `copy` (the event was recorded
    /// with that commit): remember it, once.
    Resent {
        /// The new message.
        copy: MessageId,
    },
}

impl MessageMutation {
    /// Applies the mutation to `message` and says what to store: whether the
    /// message changed, and the event to record (none for a duplicate or
    /// backwards status, or a change that only records the provider id).
    /// Stores call this inside their transaction.
    pub fn apply(&self, message: &mut Message) -> Mutated {
        if let MessageMutation::Filled { content } = self {
            let placeholder = matches!(&message.content,
                crate::model::Content::Unsupported { raw_type } if raw_type == crate::inbox::MEDIA_PLACEHOLDER);
            if placeholder {
                message.content = content.clone();
            }
            return Mutated {
                changed: placeholder,
                event: None,
            };
        }
        let Some(delivery) = message.delivery.as_mut() else {
            return Mutated::default();
        };
        if delivery.status == crate::model::DeliveryStatus::Cancelled {
            // Never sent: nothing the provider says can be about it.
            return Mutated::default();
        }
        match self {
            MessageMutation::Delivery {
                update,
                external_id,
            } => {
                let mut changed = false;
                if message.external_id.is_none() {
                    if let Some(ext) = external_id {
                        message.external_id = Some(ext.clone());
                        changed = true;
                    }
                }
                // What it costs is recorded whenever a report says, even
                // one that comes late (a `sent` after `read`).
                if let Some(p) = update
                    .pricing
                    .as_ref()
                    .filter(|p| delivery.pricing.as_ref() != Some(*p))
                {
                    delivery.pricing = Some(p.clone());
                    changed = true;
                }
                if !delivery.apply(update) {
                    return Mutated {
                        changed,
                        event: None,
                    };
                }
                delivery_changed(message, update.at)
            }
            MessageMutation::Filled { .. } => Mutated::default(),
            MessageMutation::Cancelled { at, reason } => {
                if message.external_id.is_some() || !delivery.cancel(*at, reason) {
                    return Mutated::default();
                }
                delivery_changed(message, *at)
            }
            MessageMutation::Resent { copy } => {
                if delivery.resent_as.is_some() {
                    return Mutated::default();
                }
                delivery.resent_as = Some(copy.clone());
                Mutated {
                    changed: true,
                    event: None,
                }
            }
            MessageMutation::InDoubt { at } => {
                let doubtful = delivery.status == crate::model::DeliveryStatus::Pending
                    && message.external_id.is_none()
                    && delivery.in_doubt_since.is_none();
                if !doubtful {
                    return Mutated::default();
                }
                delivery.in_doubt_since = Some(*at);
                let kind = EventKind::DeliveryInDoubt {
                    message: message.id.clone(),
                };
                Mutated {
                    changed: true,
                    event: Some(message_event(message, kind, *at)),
                }
            }
        }
    }
}

/// A message's delivery changed at `at`: what to store and the event.
fn delivery_changed(message: &Message, at: DateTime<Utc>) -> Mutated {
    let Some(delivery) = message.delivery.as_ref() else {
        return Mutated::default();
    };
    let kind = EventKind::DeliveryChanged {
        message: message.id.clone(),
        status: delivery.status,
        error: delivery.error.clone(),
    };
    Mutated {
        changed: true,
        event: Some(message_event(message, kind, at)),
    }
}

/// Which stored message a [`MessageUpdate`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageTarget {
    /// The message with this id. A missing one is [`Error::NotFound`].
    Id(MessageId),
    /// The outbound message a delivery status report concerns: the one with
    /// our id `our_id` on the channel if there is one, else the one with the
    /// provider's `external_id` on the channel. A missing one is `Ok(None)`:
    /// a report about a message this inbox does not know.
    Status {
        /// The channel the report came in on.
        channel: ChannelId,
        /// Our message id, if the report carries it
        /// (`biz_opaque_callback_data`).
        our_id: Option<MessageId>,
        /// The provider's message id.
        external_id: String,
    },
}

/// One change to one stored message, for [`Messages::update_messages`]:
/// which message and the mutation to apply to it.
///
/// ```
/// use inbox_core::ports::{MessageMutation, MessageTarget, MessageUpdate};
/// use inbox_core::model::{DeliveryStatus, DeliveryUpdate};
/// use inbox_core::ChannelId;
/// let report = MessageUpdate {
///     target: MessageTarget::Status {
///         channel: ChannelId::new("main").unwrap(),
///         our_id: None,
///         external_id: "wamid.out.1".into(),
///     },
///     mutation: MessageMutation::Delivery {
///         update: DeliveryUpdate {
///             pricing: None,
///             status: DeliveryStatus::Delivered,
///             at: chrono::DateTime::UNIX_EPOCH,
///             error: None,
///         },
///         external_id: Some("wamid.out.1".into()),
///     },
/// };
/// assert!(matches!(report.target, MessageTarget::Status { .. }));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MessageUpdate {
    /// The message.
    pub target: MessageTarget,
    /// What to apply to it.
    pub mutation: MessageMutation,
}

/// What one [`MessageUpdate`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageUpdated {
    /// The message the update concerned.
    pub message: MessageId,
    /// The event recorded, or `None` if the mutation changed nothing (a
    /// duplicate, late or backwards status report) or changed the message
    /// without an event (a provider id recorded, a resend remembered).
    pub event: Option<Event>,
}

/// The result of [`MessageMutation::apply`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mutated {
    /// The message changed and must be stored.
    pub changed: bool,
    /// The event to record with it.
    pub event: Option<Event>,
}

fn message_event(message: &Message, kind: EventKind, at: DateTime<Utc>) -> Event {
    let mut e = Event::new(message.tenant.clone(), at, EventActor::System, kind);
    e.conversation = Some(message.conversation.clone());
    e
}

/// Stored messages and notes, and the changes made to a message after its
/// commit: delivery status reports, a send attempt in doubt, a resend.
/// Messages are created by [`Conversations::commit`](super::Conversations::commit).
///
/// # Contract
///
/// Every implementation must guarantee the following; the conformance suite
/// (`inbox_core::testing`, feature `testing`) checks each point.
///
/// **Tenancy.** An id of another tenant is [`Error::NotFound`] or `None`,
/// never data.
///
/// **Ordering.** [`Messages::messages`] returns a conversation's messages
/// and notes in commit order.
///
/// **Updates.** [`Messages::update_messages`] applies each mutation's pure
/// rules ([`MessageMutation::apply`]) atomically, under the message's lock
/// or an equivalent check: two concurrent status reports never lose one
/// another or move a status backwards. It stores the changed message and
/// records the returned event (numbered in the tenant's event sequence,
/// like a commit's), stamped with its conversation's
/// [`Scope`](crate::event::Scope) as it stands when the update is applied,
/// so that live subscribers decide who sees it without reading the store. A provider id that another message of the channel
/// already has fails that update with [`Error::Duplicate`]
/// ([`Unique::Message`](crate::Unique::Message)).
#[async_trait]
pub trait Messages: Send + Sync {
    /// A message.
    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message>;

    /// Messages and notes of a conversation, in commit order.
    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>>;

    /// The message with this provider id on the channel.
    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>>;

    /// The message created with this idempotency key.
    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>>;

    /// Applies a tenant's updates in the order given, each atomically on its
    /// own (see the contract), with its own result at the same position,
    /// and seeing what the updates before it did. So the sent, delivered
    /// and read reports of one webhook give three events in that order,
    /// and an update that fails (a provider id another message already
    /// has) fails alone. A result is the message updated and its event, or
    /// `None` for a [`MessageTarget::Status`] that finds no message.
    ///
    /// A store may apply them together -- one lookup and one lock per
    /// message, one write of a message several updates concern, one
    /// transaction -- as long as the results and events are those of the
    /// one-after-another order.
    async fn update_messages(
        &self,
        tenant: &TenantId,
        updates: &[MessageUpdate],
    ) -> Vec<Result<Option<MessageUpdated>>>;

    /// Applies `mutation` to the message `id` as
    /// [`Messages::update_messages`] does: the recorded event, or `None` if
    /// nothing changed that needs one. Implementations need not override it.
    async fn update_message(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        mutation: &MessageMutation,
    ) -> Result<Option<Event>> {
        let update = MessageUpdate {
            target: MessageTarget::Id(id.clone()),
            mutation: mutation.clone(),
        };
        let result = self
            .update_messages(tenant, std::slice::from_ref(&update))
            .await
            .into_iter()
            .next();
        match result {
            Some(Ok(Some(updated))) => Ok(updated.event),
            Some(Ok(None)) => Err(Error::not_found(Entity::Message, id)),
            Some(Err(e)) => Err(e),
            None => Err(Error::Backend {
                message: "the store answered no result for a message update".into(),
                source: None,
            }),
        }
    }
}
