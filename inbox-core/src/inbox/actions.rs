//! Agent actions on conversations.

use chrono::{DateTime, Utc};

use super::{ActionOutcome, Actor, Draft, Inbox, StaleReplies, Target};
use crate::error::{Error, Result, Unique};
use crate::event::{Event, EventKind, Ownership};
use crate::ids::{AgentId, ConversationId, MessageId, TeamId, TenantId};
use crate::model::{
    limits, Agent, Author, Content, ConversationStatus, Direction, Message, Presence, Priority,
    ResponseTime,
};
use crate::permissions::{self, Action};
use crate::ports::Changeset;

/// Where to hand a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// To an agent (who becomes the owner).
    Agent(AgentId),
    /// To a team's queue (nobody owns it until someone claims it).
    Team(TeamId),
}

/// A reply to send to the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// What to send. Free-form content needs an open 24-hour window; a
    /// template does not.
    pub content: Content,
    /// The caller's key for this request: retrying with the same key never
    /// sends a second message. Required.
    pub idempotency_key: String,
    /// The message this reply quotes (a message of the same conversation).
    pub reply_to: Option<MessageId>,
}

impl Reply {
    /// A text reply.
    ///
    /// ```
    /// use inbox_core::Reply;
    /// let r = Reply::text("Hi! Your order ships today.", "req-42");
    /// assert_eq!(r.idempotency_key, "req-42");
    /// ```
    pub fn text(body: impl Into<String>, idempotency_key: impl Into<String>) -> Self {
        Self {
            content: Content::text(body),
            idempotency_key: idempotency_key.into(),
            reply_to: None,
        }
    }
}

fn ownership(agent: Option<&AgentId>, team: Option<&TeamId>) -> Ownership {
    Ownership {
        agent: agent.cloned(),
        team: team.cloned(),
    }
}

fn current_ownership(d: &Draft<'_>) -> Ownership {
    ownership(
        d.conversation.assignee.as_ref(),
        d.conversation.team.as_ref(),
    )
}

/// What a reply that sends a message again carries over from it.
struct Resend<'a> {
    /// The message sent again.
    original: &'a MessageId,
    /// The provider id of the message the original quoted.
    quoted: Option<String>,
}

pub(super) fn validate_key(key: &str) -> Result<()> {
    if key.trim().is_empty() {
        return Err(Error::invalid("idempotency_key", "must not be empty"));
    }
    if key.len() > 200 {
        return Err(Error::invalid(
            "idempotency_key",
            "must be at most 200 bytes",
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "idempotency_key",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Fails unless `identity` has a phone number: an authentication template
/// cannot go to a business-scoped user id (WhatsApp would refuse it with
/// 131062).
pub(super) fn phone_for_authentication(identity: &crate::model::ContactIdentity) -> Result<()> {
    if identity.wa_id.is_some() {
        return Ok(());
    }
    Err(Error::content(
        "template",
        crate::error::ContentProblem::Invalid {
            reason: format!(
                "authentication templates need the customer's phone number; {} is known only by a WhatsApp user id",
                identity.handle()
            ),
        },
    ))
}

/// Normalises a tag: trimmed, lower-case, 1 to 64 characters, no control
/// characters.
pub fn normalize_tag(tag: &str) -> Result<String> {
    let t = tag.trim().to_lowercase();
    if t.is_empty() {
        return Err(Error::invalid("tag", "must not be empty"));
    }
    if t.chars().count() > 64 {
        return Err(Error::invalid(
            "tag",
            format!("{t:?} is longer than 64 characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid("tag", "must not contain control characters"));
    }
    Ok(t)
}

/// Finds `@handle` mentions of known agents in a note.
pub fn parse_mentions(text: &str, agents: &[Agent]) -> Vec<AgentId> {
    let mut found: Vec<AgentId> = Vec::new();
    for (i, _) in text.match_indices('@') {
        // A mention starts a word: not an e-mail address.
        if text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric())
        {
            continue;
        }
        let handle: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        let handle = handle.trim_end_matches('.');
        if let Some(a) = agents.iter().find(|a| a.id.as_str() == handle) {
            if !found.contains(&a.id) {
                found.push(a.id.clone());
            }
        }
    }
    found
}

impl Inbox {
    /// Load of an agent against capacity, as a warning if over.
    pub(super) async fn capacity_warning(
        &self,
        agent: &Agent,
        adding: u32,
    ) -> Result<Option<String>> {
        if agent.capacity == 0 {
            return Ok(None);
        }
        let load = self
            .ports
            .store
            .agent_load(&agent.tenant, &agent.id)
            .await?;
        Ok((load + adding > agent.capacity).then(|| {
            format!(
                "{} is over capacity: {}/{} open conversations",
                agent.id,
                load + adding,
                agent.capacity
            )
        }))
    }

    /// The acting agent takes ownership of an unowned conversation.
    ///
    /// Exactly one of several agents claiming at once wins; the others get
    /// [`Error::AlreadyOwned`] naming the winner (or a conflict if they acted
    /// on a stale version). Claiming one's own conversation changes nothing.
    /// Claiming over capacity is allowed, with a warning.
    pub async fn claim(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
    ) -> Result<ActionOutcome> {
        let me = self.agent_allowed(actor, Action::Claim).await?;
        let warning = self.capacity_warning(&me, 1).await?;
        let took = self.take_on_claim(&me, id, seen_version).await?;
        let result = self
            .act_as(&me, actor, Target::strict(id, seen_version, "claim"), |d| {
                claim_in(d, warning.clone())?;
                if let Some(call) = &took {
                    super::threads::record_call(d, call);
                }
                Ok(())
            })
            .await;
        if let (Err(_), Some(call)) = (&result, &took) {
            self.keep_thread_change(&actor.tenant, id, call).await;
        }
        match result {
            // A stale claim on a conversation someone else now owns: "already
            // owned by X" is what the caller needs to hear.
            Err(Error::Conflict(c)) => {
                let current = self.ports.store.conversation(&actor.tenant, id).await?;
                match &current.assignee {
                    Some(owner) if owner != &actor.agent => Err(Error::AlreadyOwned {
                        conversation: id.clone(),
                        owner: owner.clone(),
                    }),
                    // Already ours (a retried or doubled claim): nothing to do.
                    Some(_) => Ok(ActionOutcome {
                        conversation: current,
                        message: None,
                        events: Vec::new(),
                        warnings: Vec::new(),
                        replayed: true,
                    }),
                    None => Err(Error::Conflict(c)),
                }
            }
            other => other,
        }
    }

    /// Assigns a conversation to an agent or a team queue (supervisors and
    /// admins; agents may hand over conversations they own). Over-capacity
    /// manual assignment is allowed, with a warning.
    pub async fn assign(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        to: Assignee,
        reason: &str,
    ) -> Result<ActionOutcome> {
        let (target, warning) = self.resolve_assignee(actor, &to).await?;
        let reason = reason.trim().to_string();
        self.act(actor, Target::strict(id, seen_version, "assign"), |d| {
            let (from, to_own) = move_to(d, &to, target.as_ref())?;
            if from == to_own {
                return Ok(());
            }
            d.emit(EventKind::Assigned {
                from,
                to: to_own,
                reason: if reason.is_empty() {
                    "manual assignment".into()
                } else {
                    reason.clone()
                },
                warning: warning.clone(),
            });
            d.warnings.extend(warning.clone());
            Ok(())
        })
        .await
    }

    /// Hands a conversation over with a handoff note for the next owner.
    pub async fn transfer(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        to: Assignee,
        handoff_note: &str,
    ) -> Result<ActionOutcome> {
        let note_text = handoff_note.trim().to_string();
        if note_text.is_empty() {
            return Err(Error::invalid(
                "handoff_note",
                "a transfer needs a note for the next owner",
            ));
        }
        limits::check_note("handoff_note", &note_text)?;
        let (target, warning) = self.resolve_assignee(actor, &to).await?;
        let agents = self.ports.store.agents(&actor.tenant).await?;
        let note_id: MessageId = self.new_id("message")?;
        self.act(actor, Target::strict(id, seen_version, "transfer"), |d| {
            let (from, to_own) = move_to(d, &to, target.as_ref())?;
            if from == to_own {
                return Err(Error::invalid("to", "the conversation is already there"));
            }
            let mentions = parse_mentions(&note_text, &agents);
            let note = new_note(d, note_id.clone(), &note_text, mentions.clone());
            d.messages.push(note);
            d.emit(EventKind::NoteAdded {
                message: note_id.clone(),
                mentions,
            });
            d.emit(EventKind::Transferred {
                from,
                to: to_own,
                note: note_id.clone(),
            });
            d.warnings.extend(warning.clone());
            Ok(())
        })
        .await
    }

    /// Returns an owned conversation to its team queue (owner, supervisors,
    /// admins).
    pub async fn release(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        reason: &str,
    ) -> Result<ActionOutcome> {
        let reason = reason.trim().to_string();
        limits::check_control("reason", &reason)?;
        self.act(actor, Target::strict(id, seen_version, "release"), |d| {
            let Some(owner) = d.conversation.assignee.clone() else {
                return Err(Error::InvalidState(format!(
                    "conversation {} has no owner to release",
                    d.conversation.id
                )));
            };
            permissions::require_ownership_change(d.agent, &d.conversation)?;
            d.conversation.assignee = None;
            d.emit(EventKind::Released {
                agent: owner,
                reason: if reason.is_empty() {
                    "released".into()
                } else {
                    reason.clone()
                },
            });
            Ok(())
        })
        .await
    }

    /// Queues a reply to the customer.
    ///
    /// The reply is committed first (with its outbox entry) and delivered by
    /// [`Inbox::dispatch`]. Refused when: the content is not sendable or
    /// breaks WhatsApp's limits ([`Error::InvalidContent`], see
    /// [`Content::validate_outbound`]; nothing is stored or queued), or is
    /// a template the tenant's settings do not allow (see
    /// [`TenantSettings::check_template`](crate::settings::TenantSettings::check_template)),
    /// or an authentication template to a customer without a phone number; the
    /// 24-hour window is closed and the content is not a template
    /// ([`Error::WindowClosed`]); the agent acted on a stale version (per
    /// [`crate::ReplyPolicy::stale`]); the policy is assignee-only and
    /// someone else owns it (supervisors may override); the conversation is
    /// resolved. Retrying with the same idempotency key returns the first
    /// reply (`replayed: true`) and never sends twice.
    pub async fn reply(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        reply: Reply,
    ) -> Result<ActionOutcome> {
        self.queue_reply(actor, id, seen_version, reply, None).await
    }

    /// Fails unless the customer of conversation `id` has a phone number
    /// (an authentication template cannot go to a business-scoped user
    /// id: WhatsApp would refuse it with 131062).
    async fn require_phone(&self, actor: &Actor, id: &ConversationId) -> Result<()> {
        let conversation = self.conversation_state(actor, id).await?;
        let store = &self.ports.store;
        let contact = store.contact(&actor.tenant, &conversation.contact).await?;
        phone_for_authentication(&contact.identity)
    }

    /// Whether `actor` may reply to conversation `id` now (seen at
    /// `seen_version`) with free-form content (`template`: false) or a
    /// template, by every rule [`Inbox::reply`] applies except the content
    /// itself: nothing is stored. For work worth doing only if the reply
    /// will be taken, e.g. uploading an agent's file to WhatsApp before
    /// sending it; the reply is checked again when sent.
    pub async fn check_reply(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        template: bool,
    ) -> Result<()> {
        let me = self.agent_allowed(actor, Action::Reply).await?;
        self.check_lease(actor, id).await?;
        let policy = self.policy(&actor.tenant).await?.replies();
        let target = match policy.stale {
            StaleReplies::Warn => Target::lenient(id, seen_version, "reply"),
            _ => Target::strict(id, seen_version, "reply"),
        };
        let current = self.ports.store.conversation(&actor.tenant, id).await?;
        permissions::require_view(&me, &current)?;
        self.check_seen(&me, &current, &target).await?;
        refuse_reply(&me, &current, &policy, self.now(), template)
    }

    /// The reply `actor` already queued on conversation `id` under
    /// `idempotency_key`, if any (`replayed: true`), as [`Inbox::reply`]
    /// would answer it again: for work to skip on a retry, e.g. uploading
    /// the file again. A key used for another conversation or by another
    /// agent is refused ([`Error::InvalidInput`]).
    pub async fn earlier_reply(
        &self,
        actor: &Actor,
        id: &ConversationId,
        idempotency_key: &str,
    ) -> Result<Option<ActionOutcome>> {
        validate_key(idempotency_key)?;
        self.replayed(actor, id, idempotency_key).await
    }

    /// Sends again, as a new message, an outbound message that is in doubt
    /// (it may not have reached the customer: see [`Inbox::dispatch`]) or
    /// that failed. The new message goes through every rule a reply does
    /// (window, permissions; a stale `seen_version` is always refused) and
    /// quotes what the original quoted; the original is marked as sent
    /// again (no longer counted in doubt; a late status webhook may still
    /// settle it), and the conversation's timeline records who sent what
    /// again ([`EventKind::MessageResent`]).
    ///
    /// A message is sent again at most once: the same request again (the
    /// same idempotency key) returns that resend (`replayed: true`); any
    /// other is refused. To try once more, send the resend again.
    ///
    /// Refused with [`Error::InvalidInput`] when the message is not an
    /// outbound message of this conversation or the key was used for
    /// another request, and [`Error::InvalidState`] when the message is
    /// neither in doubt nor failed (it was sent, or is still queued) or was
    /// already sent again.
    pub async fn resend(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        original: &MessageId,
        idempotency_key: &str,
    ) -> Result<ActionOutcome> {
        validate_key(idempotency_key)?;
        let m = self.ports.store.message(&actor.tenant, original).await?;
        if &m.conversation != id || m.direction != Direction::Outbound {
            return Err(Error::invalid(
                "message",
                "not an outbound message of this conversation",
            ));
        }
        let earlier = self.resent_as(&m).await?;
        if let Some(done) = self.replayed(actor, id, idempotency_key).await? {
            let copy = done.message.as_ref().map(|c| &c.id);
            return match earlier {
                Some(c) if Some(&c) == copy => {
                    self.mark_resent(&m, &c).await;
                    Ok(done)
                }
                _ => Err(Error::invalid(
                    "idempotency_key",
                    "already used for a different request",
                )),
            };
        }
        if let Some(copy) = earlier {
            self.mark_resent(&m, &copy).await;
            return Err(Error::InvalidState(format!(
                "message {original} was already sent again (as {copy})"
            )));
        }
        let resendable = m
            .delivery
            .as_ref()
            .is_some_and(|d| d.status == crate::model::DeliveryStatus::Failed || m.is_in_doubt());
        if !resendable {
            return Err(Error::InvalidState(format!(
                "message {original} is neither in doubt nor failed; there is nothing to send again"
            )));
        }
        let reply = Reply {
            content: m.content.clone(),
            idempotency_key: idempotency_key.to_string(),
            reply_to: None,
        };
        let resend = Resend {
            original,
            quoted: m.context.reply_to.clone(),
        };
        let outcome = self
            .queue_reply(actor, id, seen_version, reply, Some(resend))
            .await?;
        if let Some(copy) = &outcome.message {
            self.mark_resent(&m, &copy.id).await;
        }
        Ok(outcome)
    }

    /// The message `original` was sent again as, if it was: its mark, else
    /// the timeline's [`EventKind::MessageResent`] (committed with the
    /// copy, so it holds even if marking the original was interrupted).
    async fn resent_as(&self, original: &Message) -> Result<Option<MessageId>> {
        if let Some(copy) = original.delivery.as_ref().and_then(|d| d.resent_as.clone()) {
            return Ok(Some(copy));
        }
        let resends = self
            .resends(&original.tenant, &original.conversation)
            .await?;
        Ok(resends
            .into_iter()
            .find_map(|(o, copy)| (o == original.id).then_some(copy)))
    }

    /// The message `message` was sent again from, if it is a resend of the
    /// agent's tenant (its conversation's timeline records it, see
    /// [`Inbox::resend`]). It only tells the holder of `message` where it
    /// came from; whether the agent may still see the conversation is the
    /// caller's to check ([`Inbox::conversation_state`]).
    pub async fn resent_from(&self, actor: &Actor, message: &Message) -> Result<Option<MessageId>> {
        let resends = self.resends(&actor.tenant, &message.conversation).await?;
        Ok(resends
            .into_iter()
            .find_map(|(original, copy)| (copy == message.id).then_some(original)))
    }

    /// The resends a conversation's timeline records, as (original, copy).
    async fn resends(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<(MessageId, MessageId)>> {
        let events = self
            .ports
            .store
            .conversation_events(tenant, conversation, 0)
            .await?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::MessageResent { original, message } => Some((original, message)),
                _ => None,
            })
            .collect())
    }

    /// Marks `original` as sent again as `copy`; a failure is only logged
    /// (the resend itself is committed, and the timeline says so).
    async fn mark_resent(&self, original: &Message, copy: &MessageId) {
        let mutation = crate::ports::MessageMutation::Resent { copy: copy.clone() };
        let store = &self.ports.store;
        if let Err(e) = store
            .update_message(&original.tenant, &original.id, &mutation)
            .await
        {
            tracing::warn!(message = %original.id, error = %e, "could not mark a message as sent again");
        }
    }

    async fn queue_reply(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        reply: Reply,
        resend: Option<Resend<'_>>,
    ) -> Result<ActionOutcome> {
        validate_key(&reply.idempotency_key)?;
        if let Some(done) = self.replayed(actor, id, &reply.idempotency_key).await? {
            return Ok(done);
        }
        reply.content.validate_outbound()?;
        let me = self.agent_allowed(actor, Action::Reply).await?;
        self.check_lease(actor, id).await?;
        let quoted = match (&resend, &reply.reply_to) {
            (Some(r), _) => r.quoted.clone(),
            (None, None) => None,
            (None, Some(m)) => {
                let quoted = self.ports.store.message(&actor.tenant, m).await?;
                if &quoted.conversation != id {
                    return Err(Error::invalid(
                        "reply_to",
                        "the quoted message is in another conversation",
                    ));
                }
                Some(quoted.external_id.ok_or_else(|| {
                    Error::invalid("reply_to", "the quoted message has no provider id yet")
                })?)
            }
        };
        let message_id: MessageId = self.new_id("message")?;
        let tenant_policy = self.policy(&actor.tenant).await?;
        tenant_policy.document.check_template(&reply.content)?;
        if tenant_policy
            .document
            .is_authentication_template(&reply.content)
        {
            self.require_phone(actor, id).await?;
        }
        let policy = tenant_policy.replies();
        let sla = &tenant_policy.sla;
        // Sending again on a stale version is always refused: two agents
        // seeing the same message in doubt must not both send it again.
        let target = match (policy.stale, &resend) {
            (StaleReplies::Warn, None) => Target::lenient(id, seen_version, "reply"),
            _ => Target::strict(id, seen_version, "reply"),
        };
        let result = self
            .act_as(&me, actor, target, |d| {
                // A person answering a conversation a bot answers takes it
                // over (people always win).
                if d.conversation.status.is_active() {
                    if let Some(e) = super::bots::take_over(&mut d.conversation, &d.agent.id, d.now)
                    {
                        let from = current_ownership(d);
                        d.emit(e);
                        d.conversation.assignee = Some(d.agent.id.clone());
                        d.emit(EventKind::Claimed {
                            agent: d.agent.id.clone(),
                            from,
                        });
                    }
                }
                let c = &d.conversation;
                refuse_reply(d.agent, c, &policy, d.now, reply.content.is_template())?;
                if c.assignee.is_none() && policy.claim_on_reply {
                    let from = current_ownership(d);
                    d.conversation.assignee = Some(d.agent.id.clone());
                    d.emit(EventKind::Claimed {
                        agent: d.agent.id.clone(),
                        from,
                    });
                }
                let now = d.now;
                let c = &mut d.conversation;
                let response = c.waiting_since.map(|since| {
                    let calendar = sla.calendar_for(c);
                    ResponseTime {
                        secs: (now - since).num_seconds(),
                        business_secs: calendar.business_time_between(since, now).num_seconds(),
                        first: c.first_response_at.is_none(),
                    }
                });
                c.last_agent_reply_at = Some(now);
                c.human_replied_at = Some(now);
                c.first_response_at.get_or_insert(now);
                c.waiting_since = None;
                let content = reply.content.clone();
                let (mut message, entry) = super::queued(
                    c,
                    message_id.clone(),
                    &d.agent.id,
                    content,
                    &reply.idempotency_key,
                    now,
                );
                message.context.reply_to = quoted.clone();
                message.response = response;
                d.outbox.push(entry);
                if let Some(r) = &resend {
                    d.emit(EventKind::MessageResent {
                        original: r.original.clone(),
                        message: message_id.clone(),
                    });
                }
                d.emit(EventKind::ReplyQueued {
                    message: message_id.clone(),
                    content: reply.content.kind().to_string(),
                });
                d.messages.push(message);
                Ok(())
            })
            .await;
        self.settle_idempotent(actor, id, &reply.idempotency_key, result)
            .await
    }

    /// Two requests with the same key raced and the other one won: its commit
    /// shows up here as a duplicate key, or (when it committed first) as a
    /// conflict on the version it moved. Either way the caller gets the
    /// winner's outcome, not an error.
    async fn settle_idempotent(
        &self,
        actor: &Actor,
        id: &ConversationId,
        key: &str,
        result: Result<ActionOutcome>,
    ) -> Result<ActionOutcome> {
        match result {
            Err(Error::Duplicate {
                what: Unique::IdempotencyKey,
                ..
            }) => self
                .replayed(actor, id, key)
                .await?
                .ok_or_else(|| Error::Backend {
                    message: "idempotency key reported duplicate but not found".into(),
                    source: None,
                }),
            Err(e @ Error::Conflict(_)) => match self.replayed(actor, id, key).await? {
                Some(done) => Ok(done),
                None => Err(e),
            },
            other => other,
        }
    }

    /// The outcome of an earlier request with this idempotency key, if any.
    pub(super) async fn replayed(
        &self,
        actor: &Actor,
        id: &ConversationId,
        key: &str,
    ) -> Result<Option<ActionOutcome>> {
        let Some(existing) = self
            .ports
            .store
            .message_by_idempotency_key(&actor.tenant, key)
            .await?
        else {
            return Ok(None);
        };
        if &existing.conversation != id || existing.author != Author::Agent(actor.agent.clone()) {
            return Err(Error::invalid(
                "idempotency_key",
                "already used for a different request",
            ));
        }
        let conversation = self.ports.store.conversation(&actor.tenant, id).await?;
        Ok(Some(ActionOutcome {
            conversation,
            message: Some(existing),
            events: Vec::new(),
            warnings: Vec::new(),
            replayed: true,
        }))
    }

    /// Adds an internal note, visible to the team only and never sent to the
    /// customer. `@agent-id` mentions of the tenant's agents are recorded.
    ///
    /// Notes commute with other changes: a stale `seen_version` is accepted
    /// with a warning listing what changed. An idempotency key makes retries
    /// safe. An empty note, one over 20,000 characters or one with a control
    /// character (NUL ...; line breaks and tabs are fine) is refused with
    /// [`Error::InvalidContent`].
    pub async fn note(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        text: &str,
        idempotency_key: &str,
    ) -> Result<ActionOutcome> {
        validate_key(idempotency_key)?;
        let text = text.trim().to_string();
        limits::check_note("note", &text)?;
        if let Some(done) = self.replayed(actor, id, idempotency_key).await? {
            return Ok(done);
        }
        let agents = self.ports.store.agents(&actor.tenant).await?;
        let note_id: MessageId = self.new_id("message")?;
        let mentions = parse_mentions(&text, &agents);
        let key = idempotency_key.to_string();
        let result = self
            .act(actor, Target::lenient(id, seen_version, "note"), |d| {
                permissions::require(d.agent, Action::AddNote)?;
                let mut note = new_note(d, note_id.clone(), &text, mentions.clone());
                note.idempotency_key = Some(key.clone());
                d.messages.push(note);
                d.emit(EventKind::NoteAdded {
                    message: note_id.clone(),
                    mentions: mentions.clone(),
                });
                Ok(())
            })
            .await;
        self.settle_idempotent(actor, id, idempotency_key, result)
            .await
    }

    /// Adds and removes tags (normalised to lower case). Commutes with other
    /// changes: a stale version is accepted with a warning.
    pub async fn tag(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        add: &[&str],
        remove: &[&str],
    ) -> Result<ActionOutcome> {
        let add = add
            .iter()
            .map(|t| normalize_tag(t))
            .collect::<Result<Vec<_>>>()?;
        let remove = remove
            .iter()
            .map(|t| normalize_tag(t))
            .collect::<Result<Vec<_>>>()?;
        self.act(actor, Target::lenient(id, seen_version, "tag"), |d| {
            permissions::require(d.agent, Action::Tag)?;
            let tags = &mut d.conversation.tags;
            let mut added = Vec::new();
            let mut removed = Vec::new();
            for t in &remove {
                if let Some(pos) = tags.iter().position(|x| x == t) {
                    tags.remove(pos);
                    removed.push(t.clone());
                }
            }
            for t in &add {
                if !tags.contains(t) {
                    tags.push(t.clone());
                    added.push(t.clone());
                }
            }
            if tags.len() > 50 {
                return Err(Error::invalid("tags", "at most 50 tags per conversation"));
            }
            tags.sort();
            if !added.is_empty() || !removed.is_empty() {
                d.emit(EventKind::Tagged { added, removed });
            }
            Ok(())
        })
        .await
    }

    /// Sets the priority.
    pub async fn set_priority(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        priority: Priority,
    ) -> Result<ActionOutcome> {
        self.act(
            actor,
            Target::lenient(id, seen_version, "set priority"),
            |d| {
                permissions::require(d.agent, Action::Tag)?;
                let from = d.conversation.priority;
                if from != priority {
                    d.conversation.priority = priority;
                    d.emit(EventKind::PriorityChanged { from, to: priority });
                }
                Ok(())
            },
        )
        .await
    }

    /// Sets the status to open, pending (waiting on the customer) or
    /// resolved. Use [`Inbox::snooze`] to snooze.
    pub async fn set_status(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        status: ConversationStatus,
    ) -> Result<ActionOutcome> {
        if status == ConversationStatus::Snoozed {
            return Err(Error::invalid(
                "status",
                "use snooze, which needs a wake-up time",
            ));
        }
        let me = self.agent_allowed(actor, Action::ChangeStatus).await?;
        let handed_back = match status {
            ConversationStatus::Resolved => {
                self.hand_back_on_resolve(&me, actor, id, seen_version)
                    .await?
            }
            _ => None,
        };
        let result = self
            .act_as(
                &me,
                actor,
                Target::strict(id, seen_version, "change status"),
                |d| {
                    change_status(d, status, None)?;
                    if let Some(call) = &handed_back {
                        super::threads::record_call(d, call);
                    }
                    Ok(())
                },
            )
            .await;
        if let (Err(_), Some(call)) = (&result, &handed_back) {
            self.keep_thread_change(&actor.tenant, id, call).await;
        }
        result
    }

    /// Snoozes a conversation until `until`: in the future, and no further
    /// ahead than the tenant's snooze limit (`timers.max_snooze`).
    pub async fn snooze(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        until: DateTime<Utc>,
    ) -> Result<ActionOutcome> {
        if until <= self.now() {
            return Err(Error::invalid("until", "must be in the future"));
        }
        let limit = self.policy(&actor.tenant).await?.document.timers.max_snooze;
        if let Some(limit) = limit.filter(|l| until > self.now() + l.0) {
            let limit = humantime::format_duration(limit.0);
            return Err(Error::invalid(
                "until",
                format!("at most {limit} ahead (the tenant's snooze limit)"),
            ));
        }
        self.act(actor, Target::strict(id, seen_version, "snooze"), |d| {
            permissions::require(d.agent, Action::ChangeStatus)?;
            change_status(d, ConversationStatus::Snoozed, Some(until))
        })
        .await
    }

    /// Sets the acting agent's presence (online, away, offline).
    pub async fn set_presence(&self, actor: &Actor, presence: Presence) -> Result<Vec<Event>> {
        let me = self.load_agent(actor).await?;
        if me.presence == presence {
            return Ok(Vec::new());
        }
        let event = self.agent_event(
            &actor.tenant,
            &me.id,
            EventKind::PresenceChanged {
                agent: me.id.clone(),
                presence,
            },
        );
        let committed = self
            .ports
            .store
            .commit(Changeset {
                presence: Some((me.id.clone(), presence)),
                events: vec![event],
                ..Changeset::new(actor.tenant.clone())
            })
            .await?;
        self.publish(&committed.events).await;
        // Their open conversations follow the teams' offline policies.
        if presence == Presence::Offline
            && self.routing_for(&actor.tenant).await?.has_offline_policy()
        {
            self.handle_agent_offline(&actor.tenant, &me.id).await?;
        }
        // Coming online: what waits in their teams' queues can go to them.
        if presence == Presence::Online {
            let cause = crate::routing::DrainCause::CameOnline(me.id.clone());
            self.drain_quietly(&actor.tenant, &me.teams, &cause, self.now())
                .await;
        }
        Ok(committed.events)
    }

    /// Checks an assignment target and computes its capacity warning.
    async fn resolve_assignee(
        &self,
        actor: &Actor,
        to: &Assignee,
    ) -> Result<(Option<Agent>, Option<String>)> {
        match to {
            Assignee::Agent(a) => {
                let target = self.ports.store.agent(&actor.tenant, a).await?;
                if !target.active {
                    return Err(Error::invalid("to", format!("agent {a} is deactivated")));
                }
                if target.bot {
                    return Err(Error::invalid(
                        "to",
                        format!("{a} is a bot: hand the conversation to it instead"),
                    ));
                }
                if target.service {
                    return Err(Error::invalid(
                        "to",
                        format!("agent {a} is a service account (an API key), not a person"),
                    ));
                }
                let warning = self.capacity_warning(&target, 1).await?;
                Ok((Some(target), warning))
            }
            Assignee::Team(t) => {
                self.ports.store.team(&actor.tenant, t).await?;
                Ok((None, None))
            }
        }
    }
}

fn require_active(d: &Draft<'_>) -> Result<()> {
    if d.conversation.status == ConversationStatus::Resolved {
        return Err(Error::InvalidState(format!(
            "conversation {} is resolved",
            d.conversation.id
        )));
    }
    Ok(())
}

/// Who owns `c` now.
pub(super) fn ownership_of(c: &crate::model::Conversation) -> Ownership {
    ownership(c.assignee.as_ref(), c.team.as_ref())
}

fn claim_in(d: &mut Draft<'_>, warning: Option<String>) -> Result<()> {
    require_active(d)?;
    // People always win: claiming a conversation a bot answers takes it over.
    let taken = super::bots::take_over(&mut d.conversation, &d.agent.id, d.now);
    let taken_over = taken.is_some();
    if let Some(e) = taken {
        d.emit(e);
    }
    match &d.conversation.assignee {
        Some(owner) if owner == &d.agent.id => return Ok(()),
        Some(_) if taken_over => {}
        Some(owner) => {
            return Err(Error::AlreadyOwned {
                conversation: d.conversation.id.clone(),
                owner: owner.clone(),
            })
        }
        None => {}
    }
    let from = current_ownership(d);
    d.conversation.assignee = Some(d.agent.id.clone());
    d.emit(EventKind::Claimed {
        agent: d.agent.id.clone(),
        from,
    });
    if let Some(w) = warning {
        d.warnings.push(w);
    }
    Ok(())
}

/// Moves an active conversation to `to`, if the acting agent may change its
/// ownership; returns where it was and where it is now.
fn move_to(
    d: &mut Draft<'_>,
    to: &Assignee,
    target: Option<&Agent>,
) -> Result<(Ownership, Ownership)> {
    permissions::require_ownership_change(d.agent, &d.conversation)?;
    require_active(d)?;
    let from = current_ownership(d);
    let to_its_bot = matches!(to, Assignee::Agent(a)
        if d.conversation.bot_owns().is_some_and(|s| &s.agent == a));
    if !to_its_bot {
        if let Some(e) = super::bots::take_over(&mut d.conversation, &d.agent.id, d.now) {
            d.emit(e);
        }
    }
    apply_assignee(d, to, target);
    Ok((from, current_ownership(d)))
}

fn apply_assignee(d: &mut Draft<'_>, to: &Assignee, target: Option<&Agent>) {
    match to {
        Assignee::Agent(a) => {
            d.conversation.assignee = Some(a.clone());
            // Route it to the new owner's team if it is in none of theirs.
            if let Some(agent) = target {
                let in_team = d
                    .conversation
                    .team
                    .as_ref()
                    .is_some_and(|t| agent.is_in_team(t));
                if !in_team {
                    if let Some(first) = agent.teams.first() {
                        d.conversation.team = Some(first.clone());
                    }
                }
            }
        }
        Assignee::Team(t) => {
            d.conversation.assignee = None;
            d.conversation.team = Some(t.clone());
        }
    }
}

fn new_note(d: &mut Draft<'_>, id: MessageId, text: &str, mentions: Vec<AgentId>) -> Message {
    let author = Author::Agent(d.agent.id.clone());
    let content = Content::text(text);
    let mut note = super::written(
        &mut d.conversation,
        id,
        author,
        Direction::Note,
        content,
        d.now,
    );
    note.mentions = mentions;
    note
}

fn change_status(
    d: &mut Draft<'_>,
    to: ConversationStatus,
    snoozed_until: Option<DateTime<Utc>>,
) -> Result<()> {
    let from = d.conversation.status;
    if from == to && d.conversation.snoozed_until == snoozed_until {
        return Ok(());
    }
    if from == ConversationStatus::Resolved && to != ConversationStatus::Resolved {
        // Reopening by hand must not create a second active conversation;
        // the store refuses it if the customer already has a new one.
        d.conversation.reopen_count += 1;
    }
    let now = d.now;
    let c = &mut d.conversation;
    c.status = to;
    c.snoozed_until = snoozed_until;
    if to == ConversationStatus::Resolved {
        c.resolved_at = Some(now);
        c.waiting_since = None;
    }
    d.emit(EventKind::StatusChanged {
        from,
        to,
        snoozed_until,
    });
    Ok(())
}

/// Why `agent` may not reply to `c` at `now` under `policy` (`template`:
/// the reply is a template, allowed outside the 24-hour window), if they
/// may not: the conversation is resolved, the window is closed, or the
/// policy is assignee-only and someone else owns it (supervisors may
/// override).
fn refuse_reply(
    agent: &Agent,
    c: &crate::model::Conversation,
    policy: &super::ReplyPolicy,
    now: DateTime<Utc>,
    template: bool,
) -> Result<()> {
    if c.status == ConversationStatus::Resolved {
        return Err(Error::InvalidState(format!(
            "conversation {} is resolved; reopen it before replying",
            c.id
        )));
    }
    if !template && !c.window_open(now) {
        return Err(Error::WindowClosed {
            conversation: c.id.clone(),
            closed_at: crate::error::WindowClosedAt(c.window_expires_at),
        });
    }
    match &c.assignee {
        Some(owner) if owner != &agent.id && policy.assignee_only => {
            permissions::require(agent, Action::OverrideAssignee).map_err(|_| Error::Forbidden {
                agent: agent.id.clone(),
                action: Action::Reply,
                reason: format!("only the owner ({owner}) may reply to this conversation"),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::model::Role;

    #[test]
    fn mentions_match_known_agents_only() {
        let t = TenantId::new("t").unwrap();
        let agents = vec![
            Agent::new(t.clone(), AgentId::new("ana").unwrap(), "Ana", Role::Agent),
            Agent::new(t, AgentId::new("ben.s").unwrap(), "Ben", Role::Agent),
        ];
        let m = parse_mentions(
            "@ana can you check? cc @ben.s. mail x@ana.com @nobody @ana",
            &agents,
        );
        let ids: Vec<&str> = m.iter().map(|a| a.as_str()).collect();
        assert_eq!(ids, ["ana", "ben.s"]);
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(normalize_tag("  VIP ").unwrap(), "vip");
        assert!(normalize_tag(" ").is_err());
        assert!(normalize_tag(&"x".repeat(65)).is_err());
    }
}
