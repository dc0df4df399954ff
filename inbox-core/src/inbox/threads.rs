//! Thread control on numbers this inbox shares with other apps (WhatsApp's
//! Conversation Routing: Meta's AI agent, a bot platform): handovers
//! reported by webhook, and this inbox taking, passing and releasing
//! threads (by hand, on claim and on resolve, per the tenant's
//! [`ThreadPolicy`](super::ThreadPolicy)).

use chrono::{DateTime, Utc};

use super::commit::{Decision, Retry, Rows, Rules, SlaStep};
use super::ingest::{reopen, CUSTOMER_WINDOW};
use super::{ActionOutcome, Actor, ClaimThread, Draft, Inbox, ResolveThread, Target};
use crate::error::{Error, Result};
use crate::event::{EventActor, EventKind};
use crate::ids::ConversationId;
use crate::inbound::{InboundHandover, InboundMessage, IngestOutcome};
use crate::model::{Content, Conversation, ConversationStatus, ThreadControl};
use crate::permissions::{self, Action};
use crate::ports::{
    IngestRequest, ThreadAction, ThreadControlRequest, TransportError, MAX_THREAD_METADATA_CHARS,
};
use crate::routing::TriggerKind;

/// A thread control call this inbox made, and how it went.
pub(super) struct ThreadCall {
    action: ThreadAction,
    metadata: Option<String>,
    result: std::result::Result<(), TransportError>,
}

impl Inbox {
    /// Records a handover (WhatsApp's `messaging_handovers`) on the
    /// customer's conversation on that number. Control passed to this
    /// inbox makes the customer wait for an answer: the conversation is
    /// opened (or reopened) and routed like a new message, the handover's
    /// metadata on its timeline. Control taken from it is recorded and
    /// shown; nothing is routed. A handover for a customer this tenant
    /// never heard from, taking control away, changes nothing.
    pub async fn ingest_handover(&self, h: InboundHandover) -> Result<IngestOutcome> {
        h.check(self.now())?;
        let channel = self.channel_for(&h.phone_number_id).await?;
        let mut retry = Retry::default();
        loop {
            let context = self
                .ports
                .store
                .ingest_context(IngestRequest {
                    tenant: &channel.tenant,
                    channel: &channel.id,
                    identity: &h.customer,
                    // No message has an empty id: this finds none.
                    external_id: "",
                })
                .await?;
            if context.contact.is_none() && !h.to_us {
                return Ok(IngestOutcome::Handover {
                    conversation: None,
                    changed: false,
                });
            }
            let Some(decision) = self.plan_handover(&channel, &h, context)? else {
                return Ok(IngestOutcome::Handover {
                    conversation: None,
                    changed: false,
                });
            };
            let id = decision.after.id.clone();
            match self.apply(decision).await {
                Ok(_) => {
                    return Ok(IngestOutcome::Handover {
                        conversation: Some(id),
                        changed: true,
                    })
                }
                Err(e @ Error::Duplicate { .. }) => retry.race(e, &self.config)?,
                Err(e) => retry.again(e, &self.config)?,
            }
        }
    }

    /// What a handover changes: `None` when the conversation already knew.
    fn plan_handover(
        &self,
        channel: &crate::model::Channel,
        h: &InboundHandover,
        context: crate::ports::IngestContext,
    ) -> Result<Option<Decision<'static>>> {
        let now = self.now();
        // The contact as a message of theirs would find or create it.
        let stand_in = InboundMessage {
            phone_number_id: h.phone_number_id.clone(),
            external_id: String::new(),
            from: h.customer.clone(),
            profile_name: None,
            username: None,
            timestamp: h.timestamp,
            content: Content::text(""),
            context: Default::default(),
        };
        let (contact, contact_write, leading) =
            self.contact_for(&channel.tenant, &stand_in, context.contact, now)?;
        let latest = context.latest.filter(|c| c.contact == contact.id);
        let owner = if h.to_us {
            None
        } else {
            h.new_owner.as_deref()
        };
        let known = |t: &ThreadControl| {
            // An older handover than the one recorded, or the same one
            // again (Meta redelivers; a time may be missing).
            t.since > h.timestamp
                || (t.owner.as_deref() == owner && t.since == h.timestamp)
                || (t.owner.as_deref() == owner && t.metadata == h.metadata)
        };
        if latest
            .as_ref()
            .is_some_and(|c| c.thread.as_ref().is_some_and(known))
        {
            return Ok(None);
        }
        let (before, mut c, mut events) = match latest {
            Some(c) => (Some(c.clone()), c, Vec::new()),
            None => {
                let (c, opened) = self.new_conversation(channel, &contact, now)?;
                (None, c, vec![opened])
            }
        };
        let previous = c.controlled_elsewhere().map(str::to_string);
        let at = h.timestamp.min(now);
        if h.to_us {
            let from = h.previous_owner.clone().or(previous.clone());
            c.thread = Some(ThreadControl::ours_since(from, at, h.metadata.clone()));
            reopen(&mut c, &mut events);
            // The other app handed the customer over: they wait for us.
            c.waiting_since.get_or_insert(at);
            c.last_activity_at = c.last_activity_at.max(at);
            if c.window_expires_at.is_none() {
                c.window_expires_at = c.last_customer_message_at.map(|t| t + CUSTOMER_WINDOW);
            }
        } else {
            let owner = h.new_owner.as_deref().unwrap_or(super::UNNAMED_APP);
            c.thread = Some(ThreadControl {
                previous: None,
                ..ThreadControl::elsewhere(owner, at, h.metadata.clone())
            });
        }
        let owner = c.thread.as_ref().and_then(|t| t.owner.clone());
        events.push(EventKind::ThreadControlChanged {
            owner,
            previous: if h.to_us {
                h.previous_owner.clone().or(previous)
            } else {
                None
            },
            how: if h.to_us { "passed" } else { "taken" }.into(),
            metadata: h.metadata.clone(),
        });
        let mut triggers: Vec<TriggerKind> =
            events.iter().filter_map(TriggerKind::from_event).collect();
        // A conversation kept passively until now reaches the inbox: rules
        // run as for a conversation opened (routing, first of all).
        if h.to_us && c.assignee.is_none() && !triggers.contains(&TriggerKind::ConversationOpened) {
            triggers.push(TriggerKind::ConversationOpened);
        }
        Ok(Some(Decision {
            actor: EventActor::System,
            before,
            after: c,
            events,
            rules: h.to_us.then_some(Rules {
                triggers,
                contact: Some(contact),
                content: None,
            }),
            sla: if h.to_us {
                SlaStep::Always
            } else {
                SlaStep::IfAutomated
            },
            rows: Rows {
                contact: contact_write,
                leading,
                ..Rows::default()
            },
        }))
    }

    /// Takes control of the conversation's WhatsApp thread from the app
    /// that has it (Meta's AI agent, say). WhatsApp lets only the number's
    /// escalation partner take a thread; its refusal (2494191) is answered
    /// as [`Error::InvalidState`] saying why, a failure to reach WhatsApp
    /// as [`Error::Transport`]; either is recorded on the timeline.
    pub async fn take_thread(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
    ) -> Result<ActionOutcome> {
        self.thread_action(actor, id, seen_version, ThreadAction::Take, None)
            .await
    }

    /// Passes control of the conversation's thread to the app with
    /// `target_role` (`ai_agent`: Meta's AI agent), with `metadata` for it
    /// (cut to WhatsApp's 2,000 characters).
    pub async fn pass_thread(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        target_role: &str,
        metadata: Option<String>,
    ) -> Result<ActionOutcome> {
        if target_role.trim().is_empty() {
            return Err(Error::invalid("target_role", "name the role to pass to"));
        }
        let action = ThreadAction::Pass {
            target_role: target_role.trim().to_string(),
        };
        self.thread_action(actor, id, seen_version, action, metadata)
            .await
    }

    /// Releases control of the conversation's thread: WhatsApp's routing
    /// decides who answers the customer's next message.
    pub async fn release_thread(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
    ) -> Result<ActionOutcome> {
        self.thread_action(actor, id, seen_version, ThreadAction::Release, None)
            .await
    }

    /// Calls WhatsApp, then records the outcome on the conversation: the
    /// new controller, or the refusal (also answered as an error).
    async fn thread_action(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        action: ThreadAction,
        metadata: Option<String>,
    ) -> Result<ActionOutcome> {
        let me = self.agent_allowed(actor, Action::Claim).await?;
        let current = self.ports.store.conversation(&actor.tenant, id).await?;
        permissions::require_view(&me, &current)?;
        // A stale version is refused before WhatsApp is asked anything.
        let target = Target::strict(id, seen_version, action.name());
        self.check_seen(&me, &current, &target).await?;
        let ours = current.controlled_elsewhere().is_none();
        match (&action, ours) {
            (ThreadAction::Take, true) => {
                return Err(Error::InvalidState(
                    "this inbox already controls the thread".into(),
                ))
            }
            (ThreadAction::Pass { .. } | ThreadAction::Release, false) => {
                return Err(Error::InvalidState(format!(
                    "{} controls the thread, not this inbox",
                    current.controlled_elsewhere().unwrap_or_default()
                )))
            }
            _ => {}
        }
        let call = self.call_thread(&current, action, metadata).await?;
        let failed = call.result.clone().err();
        let outcome = self
            .act_as(
                &me,
                actor,
                Target::strict(id, seen_version, call.action.name()),
                |d| {
                    record_call(d, &call);
                    Ok(())
                },
            )
            .await?;
        match failed {
            // WhatsApp refused for the thread's sake: said as the state it
            // is in, with the reason.
            Some(e @ TransportError::Rejected { .. }) => Err(Error::InvalidState(format!(
                "WhatsApp did not {} the thread: {}",
                call.action.name(),
                refusal(&e)
            ))),
            Some(e) => Err(Error::Transport(e)),
            None => Ok(outcome),
        }
    }

    /// Asks the transport to do `action` on `c`'s thread.
    pub(super) async fn call_thread(
        &self,
        c: &Conversation,
        action: ThreadAction,
        metadata: Option<String>,
    ) -> Result<ThreadCall> {
        let contact = self.ports.store.contact(&c.tenant, &c.contact).await?;
        let channel = self.ports.store.channel(&c.tenant, &c.channel).await?;
        let metadata = metadata.map(|m| {
            m.chars()
                .take(MAX_THREAD_METADATA_CHARS)
                .collect::<String>()
        });
        let request = ThreadControlRequest {
            tenant: c.tenant.clone(),
            channel,
            customer: contact.identity,
            action,
            metadata,
        };
        let result = self.ports.transport.thread_control(&request).await;
        Ok(ThreadCall {
            action: request.action,
            metadata: request.metadata,
            result,
        })
    }

    /// Claiming `c` under the tenant's policy: the `take` made, if one was.
    /// Nothing is called for a stale `seen_version` (the claim fails).
    pub(super) async fn take_on_claim(
        &self,
        me: &crate::model::Agent,
        id: &ConversationId,
        seen_version: u64,
    ) -> Result<Option<ThreadCall>> {
        if self.policy(&me.tenant).await?.thread().on_claim != ClaimThread::Take {
            return Ok(None);
        }
        let c = self.ports.store.conversation(&me.tenant, id).await?;
        // Only a claim that will be made takes the thread.
        permissions::require_view(me, &c)?;
        let someone_else = c.assignee.as_ref().is_some_and(|a| a != &me.id);
        if c.controlled_elsewhere().is_none()
            || someone_else
            || !c.status.is_active()
            || c.version != seen_version
        {
            return Ok(None);
        }
        Ok(Some(self.call_thread(&c, ThreadAction::Take, None).await?))
    }

    /// Resolving `c` under the tenant's policy: the `pass` or `release`
    /// made, if one was (none for a stale `seen_version`: the resolve
    /// fails).
    pub(super) async fn hand_back_on_resolve(
        &self,
        me: &crate::model::Agent,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
    ) -> Result<Option<ThreadCall>> {
        let policy = self.policy(&actor.tenant).await?.thread();
        let c = self.ports.store.conversation(&actor.tenant, id).await?;
        permissions::require_view(me, &c)?;
        let Some(thread) = c.thread.as_ref().filter(|t| t.ours()) else {
            return Ok(None);
        };
        if c.status == ConversationStatus::Resolved || c.version != seen_version {
            return Ok(None);
        }
        // An app known only as "another app" (seen on standby, released)
        // has no role to pass to: WhatsApp's routing picks instead.
        let role = thread.previous.clone().filter(|p| is_role(p));
        let action = match (policy.on_resolve, role) {
            (ResolveThread::PassBack, Some(target_role)) => ThreadAction::Pass { target_role },
            (ResolveThread::PassBack, None) if thread.previous.is_some() => ThreadAction::Release,
            (ResolveThread::Release, _) => ThreadAction::Release,
            _ => return Ok(None),
        };
        let note = Some(format!("resolved by {} in the team inbox", actor.agent));
        Ok(Some(self.call_thread(&c, action, note).await?))
    }
}

impl Inbox {
    /// Records a thread change WhatsApp made for a claim or resolve that
    /// then failed to commit (another agent was faster): the thread did
    /// change hands, so the conversation says so, by the system, on its
    /// own. A call WhatsApp refused changed nothing and is not recorded.
    /// Best effort: should this fail too, the next handover, standby copy
    /// or live message sets the thread right.
    pub(super) async fn keep_thread_change(
        &self,
        tenant: &crate::ids::TenantId,
        id: &ConversationId,
        call: &ThreadCall,
    ) {
        if call.result.is_err() {
            return;
        }
        let Ok(current) = self.ports.store.conversation(tenant, id).await else {
            return;
        };
        let now = self.now();
        let mut after = current.clone();
        let previous = current.controlled_elsewhere().map(str::to_string);
        let (thread, how) = changed(
            current.thread.as_ref(),
            &call.action,
            now,
            call.metadata.clone(),
        );
        let owner = thread.owner.clone();
        after.thread = Some(thread);
        let mut decision = Decision::new(EventActor::System, current, after);
        decision.sla = SlaStep::IfAutomated;
        decision.events.push(EventKind::ThreadControlChanged {
            owner,
            previous,
            how: how.into(),
            metadata: call.metadata.clone(),
        });
        let _ = self.apply(decision).await;
    }
}

/// Records a thread control call on the draft: the new controller, or the
/// refusal (and a warning for the agent).
pub(super) fn record_call(d: &mut Draft<'_>, call: &ThreadCall) {
    let now = d.now;
    let c = &mut d.conversation;
    let before = c.controlled_elsewhere().map(str::to_string);
    if let Err(e) = &call.result {
        let reason = refusal(e);
        d.warnings.push(match e {
            TransportError::InDoubt { .. } => format!(
                "it is not known whether WhatsApp did {} the thread: {reason}",
                call.action.name()
            ),
            _ => format!(
                "WhatsApp did not {} the thread: {reason}",
                call.action.name()
            ),
        });
        d.emit(EventKind::ThreadControlFailed {
            action: call.action.name().into(),
            reason,
        });
        return;
    }
    let (thread, how) = changed(c.thread.as_ref(), &call.action, now, call.metadata.clone());
    let owner = thread.owner.clone();
    c.thread = Some(thread);
    d.emit(EventKind::ThreadControlChanged {
        owner,
        previous: before,
        how: how.into(),
        metadata: call.metadata.clone(),
    });
}

/// Who controls the thread after a successful call, and how it changed.
fn changed(
    was: Option<&ThreadControl>,
    action: &ThreadAction,
    now: DateTime<Utc>,
    metadata: Option<String>,
) -> (ThreadControl, &'static str) {
    let other = was.and_then(|t| t.other_app()).map(str::to_string);
    match action {
        ThreadAction::Take => (ThreadControl::ours_since(other, now, metadata), "taken"),
        ThreadAction::Pass { target_role } => (
            ThreadControl {
                previous: None,
                ..ThreadControl::elsewhere(target_role, now, metadata)
            },
            "passed",
        ),
        ThreadAction::Release => (
            ThreadControl {
                previous: None,
                ..ThreadControl::elsewhere(RELEASED, now, metadata)
            },
            "released",
        ),
    }
}

/// Who controls a released thread until the customer writes again:
/// WhatsApp's routing decides.
pub const RELEASED: &str = "released";

/// Whether `app` names a role WhatsApp can pass a thread to (not a stand-in
/// for an app the inbox could not name).
fn is_role(app: &str) -> bool {
    app != RELEASED && app != super::UNNAMED_APP
}

/// A refusal in words: WhatsApp's 2494191 explained.
fn refusal(e: &TransportError) -> String {
    match e.code() {
        Some(2494191) => format!(
            "only the number's escalation partner may take a thread; ask the app in control to pass it ({e})"
        ),
        _ => e.to_string(),
    }
}
