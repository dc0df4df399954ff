//! Past chats of a coexistence number, imported from the WhatsApp Business
//! app: each customer's messages go to one imported conversation of theirs
//! on the number (resolved, left out of reports, never reopened), stored
//! once however often Meta sends them, with no routing, no SLA, no rules
//! and no notifications; the number keeps how far the import has come.

use chrono::{DateTime, Utc};

use super::commit::{Decision, Retry, Rows, SlaStep};
use super::Inbox;
use crate::error::{Error, Result};
use crate::event::{EventActor, EventKind};
use crate::ids::{ConversationId, TenantId};
use crate::inbound::{HistoryMessage, HistoryThread, InboundHistory, IngestOutcome};
use crate::model::{
    Author, Channel, Contact, Content, Conversation, ConversationStatus, DeliveryState, Direction,
    HistoryImport, Message, Origin,
};
use crate::ports::MessageMutation;

/// How the id of every imported conversation starts, and of no other: a
/// store can tell them apart by id alone (no id an
/// [`IdGenerator`](crate::ports::IdGenerator) makes starts so).
pub const IMPORTED_PREFIX: &str = "imported:";

/// Why an imported conversation takes notes and tags only.
pub(crate) const IMPORTED_READ_ONLY: &str =
    "the conversation was imported from the WhatsApp Business app's history and is kept for reference";

/// The type WhatsApp gives a past media message whose file comes later.
pub const MEDIA_PLACEHOLDER: &str = "media_placeholder";

impl Inbox {
    /// Imports past chats of a coexistence number ([`InboundHistory`]):
    /// each customer's messages are stored in their imported conversation
    /// on the number ([`Conversation::imported`], created resolved),
    /// [`Origin::History`], in the order they were sent, each once (a
    /// redelivered chunk stores nothing new; a media file sent after its
    /// placeholder fills it in). Nothing is routed, waited on or
    /// notified; the number records the chunk and the progress
    /// ([`Channel::history`]), or the business's refusal. Answered with
    /// [`IngestOutcome::History`].
    pub async fn ingest_history(&self, h: InboundHistory) -> Result<IngestOutcome> {
        h.check(self.now())?;
        let channel = self.channel_for(&h.phone_number_id).await?;
        let mut stored = 0;
        for thread in &h.threads {
            stored += self.import_thread(&channel, thread).await?;
        }
        self.record_import(&channel, &h, stored).await?;
        Ok(IngestOutcome::History { stored })
    }

    /// Stores one customer's past messages not stored yet; how many.
    async fn import_thread(&self, channel: &Channel, thread: &HistoryThread) -> Result<u32> {
        let tenant = &channel.tenant;
        let mut retry = Retry::default();
        loop {
            let fresh = self.not_stored(channel, thread).await?;
            let Some(first) = fresh.first() else {
                return Ok(0);
            };
            let now = self.now();
            let found = self
                .ports
                .store
                .find_contact(tenant, &thread.customer)
                .await?;
            let (contact, write, leading) = self.contact_for(tenant, &first.message, found, now)?;
            let id = imported_id(channel, &contact)?;
            let before = match self.ports.store.conversation(tenant, &id).await {
                Ok(c) => Some(c),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let mut after = before
                .clone()
                .unwrap_or_else(|| imported(channel, &contact, id, first.message.timestamp));
            let messages = fresh
                .iter()
                .map(|m| self.past_message(&mut after, &contact, m, now))
                .collect::<Result<Vec<_>>>()?;
            let count = messages.len() as u32;
            let decision = Decision {
                actor: EventActor::System,
                before,
                after,
                events: vec![EventKind::HistoryImported { messages: count }],
                rules: None,
                sla: SlaStep::IfAutomated,
                rows: Rows {
                    contact: write,
                    leading,
                    messages,
                    ..Rows::default()
                },
            };
            match self.apply(decision).await {
                Ok(_) => return Ok(count),
                Err(e @ Error::Duplicate { .. }) => retry.race(e, &self.config)?,
                Err(e) => retry.again(e, &self.config)?,
            }
        }
    }

    /// The thread's messages not stored yet, oldest first, each once; a
    /// stored placeholder whose file came is filled in on the way.
    async fn not_stored<'t>(
        &self,
        channel: &Channel,
        thread: &'t HistoryThread,
    ) -> Result<Vec<&'t HistoryMessage>> {
        let mut fresh: Vec<&HistoryMessage> = Vec::new();
        for m in &thread.messages {
            let ext = &m.message.external_id;
            if fresh.iter().any(|f| &f.message.external_id == ext) {
                continue;
            }
            let stored = self
                .ports
                .store
                .message_by_external_id(&channel.tenant, &channel.id, ext)
                .await?;
            match stored {
                None => fresh.push(m),
                Some(s) if is_placeholder(&s.content) && !is_placeholder(&m.message.content) => {
                    let filled = MessageMutation::Filled {
                        content: m.message.content.clone(),
                    };
                    self.ports
                        .store
                        .update_message(&channel.tenant, &s.id, &filled)
                        .await?;
                }
                Some(_) => {}
            }
        }
        fresh.sort_by_key(|m| m.message.timestamp);
        Ok(fresh)
    }

    /// A past message in the imported conversation `c` (which it widens).
    fn past_message(
        &self,
        c: &mut Conversation,
        contact: &Contact,
        m: &HistoryMessage,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        let sent_at = m.message.timestamp.min(now);
        c.created_at = c.created_at.min(sent_at);
        c.last_activity_at = c.last_activity_at.max(sent_at);
        c.resolved_at = Some(c.last_activity_at);
        c.message_count += 1;
        let (direction, author) = if m.from_business {
            (Direction::Outbound, Author::business_app())
        } else {
            (Direction::Inbound, Author::Customer(contact.id.clone()))
        };
        Ok(Message {
            tenant: c.tenant.clone(),
            id: self.new_id("message")?,
            conversation: c.id.clone(),
            channel: c.channel.clone(),
            direction,
            author,
            content: m.message.content.clone(),
            external_id: Some(m.message.external_id.clone()),
            idempotency_key: None,
            context: m.message.context.clone(),
            mentions: Vec::new(),
            sent_at,
            created_at: now,
            delivery: m.from_business.then(|| DeliveryState {
                status: m.status.unwrap_or(crate::model::DeliveryStatus::Sent),
                ..DeliveryState::pending(sent_at)
            }),
            response: None,
            origin: Origin::History,
        })
    }

    /// Records the chunk, its new messages and the progress (or the
    /// refusal) on the number, atomically with other chunks' records.
    async fn record_import(
        &self,
        channel: &Channel,
        h: &InboundHistory,
        stored: u32,
    ) -> Result<()> {
        let record = |c: &mut Channel| {
            let import = c.history.get_or_insert_with(HistoryImport::default);
            match (&h.chunk, &h.declined) {
                (_, Some(_)) if !import.declined => {
                    import.declined = true;
                    import.updated_at = Some(h.timestamp);
                    true
                }
                (Some(k), _) => import.took(
                    k.phase,
                    k.chunk_order,
                    k.progress,
                    stored.into(),
                    h.timestamp,
                ),
                (None, _) if stored > 0 => {
                    import.messages += u64::from(stored);
                    import.updated_at = Some(h.timestamp);
                    true
                }
                _ => false,
            }
        };
        (self.ports.store)
            .update_channel_news(&channel.tenant, &channel.id, &record)
            .await?;
        Ok(())
    }
}

/// The id of `contact`'s imported conversation on `channel`: the same in
/// every process, so that two deliveries of one customer's chunks meet
/// (the longest ids are shortened by a stable hash of the channel).
fn imported_id(channel: &Channel, contact: &Contact) -> Result<ConversationId> {
    let id = format!("{IMPORTED_PREFIX}{}:{}", channel.id, contact.id);
    if id.len() <= 200 {
        return ConversationId::new(id);
    }
    // FNV-1a: stable across processes and Rust versions.
    let hash = channel
        .id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    ConversationId::new(format!("{IMPORTED_PREFIX}{hash:016x}:{}", contact.id))
}

/// A new imported conversation of `contact` on `channel`, resolved.
fn imported(
    channel: &Channel,
    contact: &Contact,
    id: ConversationId,
    at: DateTime<Utc>,
) -> Conversation {
    let tenant: &TenantId = &channel.tenant;
    let mut c = Conversation::new(
        tenant.clone(),
        id,
        channel.id.clone(),
        contact.id.clone(),
        at,
    );
    c.status = ConversationStatus::Resolved;
    c.resolved_at = Some(at);
    c.imported = true;
    c
}

/// Whether `content` is a past media message's placeholder.
fn is_placeholder(content: &Content) -> bool {
    matches!(content, Content::Unsupported { raw_type } if raw_type == MEDIA_PLACEHOLDER)
}
