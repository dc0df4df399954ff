//! Dry runs: what a message would do under a tenant's settings (those
//! running, a past version, or a draft), explained, without doing any of
//! it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::ids::ConversationId;
use crate::inbound::InboundMessage;
use crate::model::{Content, Conversation, Direction, Message};
use crate::permissions::Action;
use crate::settings::TenantSettings;
use crate::timer::{TimerChange, TimerKind};

/// Which settings a dry run explains.
#[derive(Debug, Clone, PartialEq)]
pub enum DryRunSettings {
    /// Those the tenant runs now.
    Running,
    /// A version stored earlier (or the one now), as the history rebuilds
    /// it: "what would this message have done under last week's rules?".
    Version(u64),
    /// A draft not stored, checked as [`Inbox::update_settings`] checks a
    /// change: to try a change before making it.
    Draft(Box<TenantSettings>),
}

/// What a customer message would do, step by step, and the state it would
/// leave; nothing of it was stored, sent or published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The settings version explained: the one this instance runs or the
    /// past one asked for (`None`: a draft, not stored).
    pub settings_version: Option<u64>,
    /// Whether the message would open a new conversation (else it continues
    /// or reopens the customer's latest).
    pub opened: bool,
    /// The conversation as the message would leave it: team, owner,
    /// priority, tags, and the SLA policy with its due times.
    pub conversation: Conversation,
    /// What would be recorded, in order: the rules that fire with what they
    /// do and why (`team sales → least loaded: ana 2/5 (ben 3/5)`), the
    /// assignment, the SLA targets started.
    pub events: Vec<EventKind>,
    /// Automatic answers (sent to the customer) and notes the rules would
    /// write.
    pub messages: Vec<Message>,
    /// The timers it would schedule, with their due times.
    pub timers: Vec<(TimerKind, DateTime<Utc>)>,
}

impl Inbox {
    /// Explains what `sample` (a customer message, as a webhook would bring
    /// it) would do under the acting agent's tenant's `settings` (those
    /// running, a past version, or a draft). The rule that matches, the
    /// team, the agent and why, the SLA policy and its due times, the
    /// timers; nothing is stored, sent or published. Supervisors and admins.
    pub async fn explain(
        &self,
        actor: &Actor,
        settings: DryRunSettings,
        sample: InboundMessage,
    ) -> Result<Explanation> {
        self.agent_allowed(actor, Action::ViewSettings).await?;
        sample.check(self.now())?;
        let channel = self.channel_for(&sample.phone_number_id).await?;
        if channel.tenant != actor.tenant {
            return Err(Error::UnknownChannel {
                phone_number_id: sample.phone_number_id,
            });
        }
        let tenant = &actor.tenant;
        let (sandbox, settings_version) = match settings {
            DryRunSettings::Running => (self.clone(), Some(self.running_version(tenant).await?)),
            DryRunSettings::Version(v) => {
                let policy = self.document_at(tenant, v).await?.compile_stored()?;
                (self.with_policy(tenant, Arc::new(policy)), Some(v))
            }
            DryRunSettings::Draft(doc) => {
                let policy = (*doc).compile(&self.known(tenant).await?)?;
                (self.with_policy(tenant, Arc::new(policy)), None)
            }
        };
        let plan = match sandbox
            .prepare_ingest(&channel, &sample, super::ingest::Arrival::Customer)
            .await?
        {
            Ok(plan) => plan,
            Err(existing) => {
                return Err(Error::invalid(
                    "external_id",
                    format!("message {existing} is already stored: a sample needs a new id"),
                ))
            }
        };
        let opened = plan.opened;
        let finished = sandbox.finish(plan.decision, self.now()).await?;
        let changes = finished.changes;
        let conversation = changes
            .conversation
            .map(|w| w.value)
            .ok_or_else(|| Error::invalid("sample", "the message changes no conversation"))?;
        Ok(Explanation {
            settings_version,
            opened,
            conversation,
            events: changes.events.into_iter().map(|e| e.kind).collect(),
            messages: changes
                .messages
                .into_iter()
                .filter(|m| m.direction != Direction::Inbound)
                .collect(),
            timers: changes
                .timers
                .into_iter()
                .filter_map(|t| match t {
                    TimerChange::Set(t) => Some((t.kind, t.due_at)),
                    TimerChange::Clear { .. } => None,
                })
                .collect(),
        })
    }

    /// [`Inbox::explain`] for an existing conversation: what its customer
    /// writing its last message again now would do (its latest message from
    /// the customer, or a placeholder text when there is none).
    pub async fn explain_conversation(
        &self,
        actor: &Actor,
        settings: DryRunSettings,
        conversation: &ConversationId,
    ) -> Result<Explanation> {
        let view = self.conversation(actor, conversation).await?;
        let c = &view.conversation;
        let store = &self.ports.store;
        let channel = store.channel(&c.tenant, &c.channel).await?;
        let contact = store.contact(&c.tenant, &c.contact).await?;
        let messages = store.messages(&c.tenant, &c.id).await?;
        let content = messages
            .into_iter()
            .rev()
            .find(|m| m.direction == Direction::Inbound)
            .map_or_else(|| Content::text("(no message yet)"), |m| m.content);
        let sample = InboundMessage {
            phone_number_id: channel.phone_number_id,
            external_id: format!("dry-run.{}.{}", c.id, self.now().timestamp_millis()),
            from: contact.identity,
            profile_name: contact.profile_name,
            username: contact.username,
            timestamp: self.now(),
            content,
            context: Default::default(),
        };
        self.explain(actor, settings, sample).await
    }
}
