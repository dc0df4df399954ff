//! Scenario steps for numbers shared with other apps: the business writing
//! from its WhatsApp Business app (coexistence echoes), Meta's AI agent
//! answering while it holds the thread (standby copies), handovers between
//! it and the inbox, and agents taking, passing and releasing threads.

use serde::Deserialize;

use inbox_core::model::{ContactIdentity, Content, ReplyContext};
use inbox_core::ports::{Clock, Directory, ThreadAction};
use inbox_core::{
    Actor, ConversationId, Error, InboundEcho, InboundEvent, InboundHandover, InboundMessage,
    StandbyCopy,
};

use super::{id, tenant, Runner};

/// The business writes to a customer from another app on the number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessStep {
    /// The customer written to (wa_id).
    pub to: String,
    /// The channel id it is sent from.
    pub on: String,
    /// Text.
    pub text: String,
    /// Who sends it: `phone` (the WhatsApp Business app, the default) or
    /// the role of the app controlling the thread (`ai_agent` ...), whose
    /// answers reach the inbox as passive copies.
    #[serde(default)]
    pub from: Option<String>,
}

/// Control of a customer's thread changes hands.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverStep {
    /// The customer (wa_id).
    pub customer: String,
    /// The channel id.
    pub on: String,
    /// Who gets control: `inbox`, or another app's role (`ai_agent` ...).
    pub to: String,
    /// Who had it (for a handover to the inbox; default `ai_agent`).
    #[serde(default)]
    pub from: Option<String>,
    /// What comes with it (the AI agent's summary, say).
    #[serde(default)]
    pub metadata: Option<String>,
}

impl Runner<'_> {
    /// A message with a fresh provider id on `channel` at the current time.
    async fn message_on(
        &self,
        channel: &str,
        customer: &str,
        content: Content,
    ) -> Result<InboundMessage, String> {
        let channel = self
            .store
            .channel(&tenant(), &id(channel).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let n = self.events.len();
        Ok(InboundMessage {
            phone_number_id: channel.phone_number_id,
            external_id: format!("wamid.scenario.{}.{n}", self.clock.now().timestamp_millis()),
            from: ContactIdentity::wa(customer),
            profile_name: None,
            username: None,
            timestamp: self.clock.now(),
            content,
            context: ReplyContext::default(),
        })
    }

    /// A customer's message kept as a passive copy (another app holds the
    /// thread).
    pub(super) async fn standby_customer(
        &mut self,
        from: &str,
        to: &str,
        content: Content,
        name: Option<String>,
    ) -> Result<(), String> {
        let mut message = self.message_on(to, from, content).await?;
        message.profile_name = name;
        let event = InboundEvent::Standby(StandbyCopy::Customer(message));
        self.inbox.ingest(event).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    pub(super) async fn business(&mut self, b: &BusinessStep) -> Result<(), String> {
        let message = self
            .message_on(&b.on, &b.to, Content::text(b.text.clone()))
            .await?;
        let event = match b.from.as_deref() {
            None | Some("phone") => InboundEvent::Echo(InboundEcho {
                message,
                app: inbox_core::model::Author::BUSINESS_APP.into(),
            }),
            Some(app) => InboundEvent::Standby(StandbyCopy::Business(InboundEcho {
                message,
                app: app.into(),
            })),
        };
        self.inbox.ingest(event).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    pub(super) async fn handover(&mut self, h: &HandoverStep) -> Result<(), String> {
        let channel = self
            .store
            .channel(&tenant(), &id(&h.on).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let to_us = h.to == "inbox";
        let handover = InboundHandover {
            phone_number_id: channel.phone_number_id,
            customer: ContactIdentity::wa(h.customer.clone()),
            to_us,
            previous_owner: to_us.then(|| h.from.clone().unwrap_or_else(|| "ai_agent".into())),
            new_owner: (!to_us).then(|| h.to.clone()),
            metadata: h.metadata.clone(),
            timestamp: self.clock.now(),
        };
        let event = InboundEvent::Handover(handover);
        self.inbox.ingest(event).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The thread actions of agents (`take_thread`, `pass_thread` to a
    /// role, `release_thread`); `None` for another action.
    pub(super) async fn thread_action(
        &self,
        actor: &Actor,
        conversation: &ConversationId,
        version: u64,
        action: &str,
        to: Option<&str>,
    ) -> Option<Result<(), Error>> {
        let i = &self.inbox;
        Some(match action {
            "take_thread" => i.take_thread(actor, conversation, version).await.map(drop),
            "release_thread" => i
                .release_thread(actor, conversation, version)
                .await
                .map(drop),
            "pass_thread" => match to {
                Some(role) => i
                    .pass_thread(actor, conversation, version, role, None)
                    .await
                    .map(drop),
                None => Err(Error::invalid("to", "`pass_thread` needs `to`: a role")),
            },
            _ => return None,
        })
    }

    /// Who controls the conversation's thread (`inbox`, or the app).
    pub(super) fn controller(c: &inbox_core::model::Conversation) -> String {
        c.controlled_elsewhere().unwrap_or("inbox").to_string()
    }

    /// The thread control calls made so far, as `take`, `pass:<role>`,
    /// `release`.
    pub(super) fn thread_calls(&self) -> Vec<String> {
        self.transport
            .thread_calls()
            .into_iter()
            .map(|c| match c.action {
                ThreadAction::Pass { target_role } => format!("pass:{target_role}"),
                other => other.name().to_string(),
            })
            .collect()
    }
}
