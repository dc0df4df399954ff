//! Dead letters: keeping the inbound items the inbox refused, and letting
//! an admin list and replay them.

use chrono::{DateTime, Utc};

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::ids::{DeadLetterId, TenantId};
use crate::inbound::{InboundEvent, InboundRefusal, IngestOutcome};
use crate::permissions::Action;
use crate::ports::{
    DeadLetter, DeadLetterPut, DeadLetterQuery, DeadLetterReplay, DeadLetterScope, InboundDecoder,
    ReplayOutcome,
};
use crate::query::Page;

/// An inbound item an adapter refused, to keep as a dead letter
/// ([`Inbox::record_dead_letter`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedItem {
    /// Which adapter refused it and can decode it again (`"whatsapp"`).
    pub source: String,
    /// The phone number id it names, if any.
    pub phone_number_id: Option<String>,
    /// The item as received, whole enough to replay.
    pub raw: String,
    /// Why it was refused.
    pub reason: InboundRefusal,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// A phone number id fit to keep and look up (a store could not hold or
/// index anything else).
fn usable_number(n: Option<String>) -> Option<String> {
    n.filter(|n| {
        !n.trim().is_empty()
            && n.len() <= crate::inbound::MAX_INBOUND_ID_BYTES
            && !n.chars().any(char::is_control)
    })
}

impl Inbox {
    /// Keeps a refused inbound item as a dead letter (system level: for
    /// adapters, like [`Inbox::ingest`]). Idempotent: the same item refused
    /// for the same reason again (a redelivered webhook) returns the letter
    /// recorded the first time. The letter belongs to the tenant that has
    /// its number, if one has.
    ///
    /// Fails only when the store does ([`Error::Unavailable`] ...): then the
    /// webhook should not be acknowledged, so that the provider delivers it
    /// again.
    pub async fn record_dead_letter(&self, item: RefusedItem) -> Result<DeadLetterPut> {
        let phone_number_id = usable_number(item.phone_number_id);
        let channel = match &phone_number_id {
            Some(n) => self.ports.store.channel_by_phone_number_id(n).await?,
            None => None,
        };
        let letter = DeadLetter {
            id: self.new_id("dead_letter")?,
            tenant: channel.as_ref().map(|c| c.tenant.clone()),
            channel: channel.map(|c| c.id),
            phone_number_id,
            source: item.source,
            raw: item.raw,
            reason: item.reason.sanitized(),
            received_at: item.received_at,
            replayed_at: None,
            last_replay: None,
        };
        self.ports.store.put_dead_letter(letter).await
    }

    /// The dead letters of the actor's tenant (and those of its numbers that
    /// arrived before a tenant had them), newest first. Admins only.
    pub async fn dead_letters(
        &self,
        actor: &Actor,
        query: &DeadLetterQuery,
    ) -> Result<Page<DeadLetter>> {
        let scope = self.dead_letter_scope(actor).await?;
        query.validate()?;
        self.ports.store.dead_letters(&scope, query).await
    }

    /// One dead letter of the actor's tenant. Admins only.
    pub async fn dead_letter(&self, actor: &Actor, id: &DeadLetterId) -> Result<DeadLetter> {
        let scope = self.dead_letter_scope(actor).await?;
        self.ports.store.dead_letter(&scope, id).await
    }

    /// Replays a dead letter: decodes its item again with `decoder` (today's
    /// decoder of the adapter that refused it) and ingests it. Admins only.
    ///
    /// When the item is ingested the letter is marked replayed with what it
    /// did; when it is refused again the letter keeps waiting, with the new
    /// reason. Either way the updated letter is returned. A store failure is
    /// returned as an error and changes nothing (replaying again is safe:
    /// ingest is idempotent).
    pub async fn replay_dead_letter(
        &self,
        actor: &Actor,
        id: &DeadLetterId,
        decoder: &dyn InboundDecoder,
    ) -> Result<DeadLetter> {
        let scope = self.dead_letter_scope(actor).await?;
        let mut letter = self.ports.store.dead_letter(&scope, id).await?;
        if let Some(at) = letter.replayed_at {
            return Err(Error::InvalidState(format!(
                "dead letter {id} was already replayed at {}",
                at.to_rfc3339()
            )));
        }
        if decoder.source() != letter.source {
            return Err(Error::invalid(
                "decoder",
                format!(
                    "dead letter {id} came from {:?}, the decoder reads {:?}",
                    letter.source,
                    decoder.source()
                ),
            ));
        }
        let outcome = match decoder.decode(&letter.raw, letter.received_at) {
            Err(reason) => ReplayOutcome::Refused {
                reason: reason.sanitized(),
            },
            Ok(events) => self.replay_events(&actor.tenant, &letter, events).await?,
        };
        let now = self.now();
        match &outcome {
            ReplayOutcome::Refused { reason } => letter.reason = reason.clone(),
            _ => letter.replayed_at = Some(now),
        }
        if letter.tenant.is_none() {
            if let Some(n) = &letter.phone_number_id {
                if let Some(c) = self.ports.store.channel_by_phone_number_id(n).await? {
                    if c.tenant == actor.tenant {
                        letter.tenant = Some(c.tenant);
                        letter.channel = Some(c.id);
                    }
                }
            }
        }
        letter.last_replay = Some(DeadLetterReplay {
            at: now,
            by: actor.agent.clone(),
            outcome,
        });
        self.ports.store.update_dead_letter(&letter).await?;
        tracing::info!(
            dead_letter = %letter.id,
            replayed = letter.replayed_at.is_some(),
            reason = letter.reason.code(),
            "dead letter replayed"
        );
        Ok(letter)
    }

    /// Ingests a letter's decoded events; a refusal of any of them is the
    /// outcome (the others stay ingested: a later replay finds them stored).
    async fn replay_events(
        &self,
        tenant: &TenantId,
        letter: &DeadLetter,
        events: Vec<InboundEvent>,
    ) -> Result<ReplayOutcome> {
        let (mut stored, mut duplicates, mut statuses) = (Vec::new(), Vec::new(), 0);
        for event in events {
            if let Some(reason) = self.replay_refusal(tenant, letter, &event).await? {
                return Ok(ReplayOutcome::Refused { reason });
            }
            match self.ingest(event).await {
                Ok(IngestOutcome::Stored { message, .. }) => stored.push(message.id),
                Ok(IngestOutcome::Duplicate { message }) => duplicates.push(message),
                Ok(_) => statuses += 1,
                Err(e) => match InboundRefusal::from_error(&e) {
                    Some(reason) => return Ok(ReplayOutcome::Refused { reason }),
                    None => return Err(e),
                },
            }
        }
        Ok(ReplayOutcome::Ingested {
            stored,
            duplicates,
            statuses,
        })
    }

    /// Why a replayed event must not be ingested, if it must not: it names
    /// another number than its letter, fails the inbound checks, or its
    /// number now belongs to another tenant than the replaying admin's.
    async fn replay_refusal(
        &self,
        tenant: &TenantId,
        letter: &DeadLetter,
        event: &InboundEvent,
    ) -> Result<Option<InboundRefusal>> {
        let number = event.phone_number_id();
        if letter.phone_number_id.as_deref() != Some(number) {
            return Ok(Some(InboundRefusal::malformed(format!(
                "the item names phone number id {number:?}, its dead letter {:?}",
                letter.phone_number_id.as_deref().unwrap_or("none")
            ))));
        }
        if let Err(reason) = event.check(self.now()) {
            return Ok(Some(reason));
        }
        match self.ports.store.channel_by_phone_number_id(number).await? {
            None => Ok(Some(InboundRefusal::UnknownChannel {
                phone_number_id: number.to_string(),
            })),
            Some(c) if &c.tenant != tenant => Ok(Some(InboundRefusal::Refused {
                field: "phone_number_id".into(),
                reason: "the number now belongs to another tenant".into(),
            })),
            Some(_) => Ok(None),
        }
    }

    /// The dead letters an admin of the actor's tenant sees.
    async fn dead_letter_scope(&self, actor: &Actor) -> Result<DeadLetterScope> {
        self.agent_allowed(actor, Action::ManageDeadLetters).await?;
        let numbers = self
            .ports
            .store
            .channels(&actor.tenant)
            .await?
            .into_iter()
            .map(|c| c.phone_number_id)
            .collect();
        Ok(DeadLetterScope {
            tenant: actor.tenant.clone(),
            numbers,
        })
    }
}
