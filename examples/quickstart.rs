//! A shared WhatsApp inbox at work on one number, told as a story.
//!
//! Runs with no setup: in-memory store, a recording transport instead of the
//! WhatsApp Cloud API, and a simulated clock.
//!
//! ```text
//! cargo run --example quickstart
//! ```

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

use inbox_core::model::{
    Agent, Channel, ContactIdentity, Content, ConversationStatus, DeliveryStatus, Direction, Role,
    Team, Tenant,
};
use inbox_core::ports::{Clock, ManualClock, SequentialIds};
use inbox_core::testing::RecordingTransport;
use inbox_core::{
    Actor, AgentId, Assignee, ChannelId, ConversationId, Error, InboundEvent, InboundMessage,
    InboundStatus, Inbox, InboxConfig, IngestOutcome, Ports, Reply, TeamId, TenantId, View,
    ViewQuery,
};
use inbox_store_memory::{MemoryEventBus, MemoryStore};

/// The business number customers write to (Meta's phone number id).
const NUMBER: &str = "100100";

struct Story {
    inbox: Inbox,
    clock: Arc<ManualClock>,
    transport: Arc<RecordingTransport>,
    next_wamid: u32,
}

impl Story {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn at(&self, minutes: i64) {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        self.clock.set(start + TimeDelta::minutes(minutes));
    }

    fn say(&self, line: impl AsRef<str>) {
        println!("{}  {}", self.now().format("%H:%M"), line.as_ref());
    }

    fn aside(&self, line: impl AsRef<str>) {
        println!("       {}", line.as_ref());
    }

    async fn customer(
        &mut self,
        wa_id: &str,
        name: &str,
        text: &str,
    ) -> Result<ConversationId, Error> {
        self.next_wamid += 1;
        let out = self
            .inbox
            .ingest(InboundEvent::Message(InboundMessage {
                phone_number_id: NUMBER.into(),
                external_id: format!("wamid.in.{}", self.next_wamid),
                from: ContactIdentity::wa(wa_id),
                profile_name: Some(name.into()),
                username: None,
                timestamp: self.now(),
                content: Content::text(text),
                context: Default::default(),
            }))
            .await?;
        match out {
            IngestOutcome::Stored {
                conversation,
                opened,
                reopened,
                ..
            } => {
                let how = if opened {
                    "new conversation"
                } else if reopened {
                    "conversation reopened"
                } else {
                    "same conversation"
                };
                self.say(format!("{name} writes: \"{text}\"  [{how}]"));
                Ok(conversation)
            }
            other => Err(Error::InvalidState(format!("unexpected {other:?}"))),
        }
    }

    async fn version(&self, c: &ConversationId) -> Result<u64, Error> {
        Ok(self
            .inbox
            .conversation(&actor("sam")?, c)
            .await?
            .conversation
            .version)
    }

    /// `who` replies `text` (idempotency key `key`) on the version they
    /// read now; returns that version.
    async fn reply_now(
        &self,
        who: &str,
        c: &ConversationId,
        text: &str,
        key: &str,
    ) -> Result<u64, Error> {
        let v = self.version(c).await?;
        let reply = Reply::text(text, key);
        self.inbox.reply(&actor(who)?, c, v, reply).await?;
        Ok(v)
    }
}

fn actor(agent: &str) -> Result<Actor, Error> {
    Ok(Actor::new(TenantId::new("acme")?, AgentId::new(agent)?))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut s = setup().await?;
    println!(
        "== A shared WhatsApp inbox: Acme Shoes, +34 600 100 100, agents Ana, Ben and Sam ==\n"
    );

    // Customers write in.
    s.at(0);
    let marta = s
        .customer("34611000001", "Marta", "Hi, my order #1042 hasn't arrived")
        .await?;
    s.at(1);
    let jon = s
        .customer("34611000002", "Jon", "Do you ship to Portugal?")
        .await?;
    let unassigned = s
        .inbox
        .list(&actor("ana")?, &ViewQuery::new(View::Unassigned))
        .await?;
    s.aside(format!(
        "Unassigned view: {} conversations, nobody owns them yet",
        unassigned.items.len()
    ));

    claims(&mut s, &marta).await?;
    delivery(&mut s, &marta).await?;
    handoff(&mut s, &marta, &jon).await?;
    summary(&s).await
}

/// Provisioning: one business, one WhatsApp number, one team of three.
async fn setup() -> Result<Story, Error> {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let transport = Arc::new(RecordingTransport::new());
    let inbox = Inbox::new(
        Ports {
            store: Arc::new(MemoryStore::new()),
            transport: transport.clone(),
            bus: Arc::new(MemoryEventBus::default()),
            clock: clock.clone(),
            ids: Arc::new(SequentialIds::default()),
        },
        InboxConfig::default(),
    );

    let acme = TenantId::new("acme")?;
    inbox
        .provision_tenant(&Tenant::new(acme.clone(), "Acme Shoes"))
        .await?;
    inbox
        .provision_channel(&Channel::new(
            acme.clone(),
            ChannelId::new("shop")?,
            NUMBER,
            "+34 600 100 100",
        ))
        .await?;
    let support = TeamId::new("support")?;
    inbox
        .provision_team(&Team::new(acme.clone(), support.clone(), "Support"))
        .await?;
    for (id, name, role) in [
        ("ana", "Ana", Role::Agent),
        ("ben", "Ben", Role::Agent),
        ("sam", "Sam", Role::Supervisor),
    ] {
        let agent = Agent::new(acme.clone(), AgentId::new(id)?, name, role)
            .in_team(support.clone())
            .with_capacity(5);
        inbox.provision_agent(&agent).await?;
    }

    Ok(Story {
        inbox,
        clock,
        transport,
        next_wamid: 0,
    })
}

/// Ana claims Marta's conversation, Ben is refused; Ana's stale reply is
/// refused, her fresh one queued; she adds a note for the team.
async fn claims(s: &mut Story, marta: &ConversationId) -> Result<(), Error> {
    // Ana claims Marta's conversation; Ben tries too.
    s.at(2);
    let seen = s.version(marta).await?;
    let claimed = s.inbox.claim(&actor("ana")?, marta, seen).await?;
    s.say(format!(
        "Ana claims Marta's conversation (version {seen} → {})",
        claimed.conversation.version
    ));
    match s.inbox.claim(&actor("ben")?, marta, seen).await {
        Err(e) => s.say(format!("Ben claims it too → refused: {e}")),
        Ok(_) => s.say("Ben claims it too → (unexpectedly) accepted"),
    }

    // A customer message arrives while Ana is typing: her reply is stale.
    s.at(3);
    let ana_saw = s.version(marta).await?;
    s.customer("34611000001", "Marta", "It was due yesterday!")
        .await?;
    let draft = Reply::text("Sorry Marta, let me check with the courier.", "ana-reply-1");
    match s
        .inbox
        .reply(&actor("ana")?, marta, ana_saw, draft.clone())
        .await
    {
        Err(e) => s.say(format!(
            "Ana sends her reply typed on version {ana_saw} → refused: {e}"
        )),
        Ok(_) => s.say("Ana's stale reply went out (unexpected)"),
    }
    let sorry = "Sorry Marta! It was due yesterday, I'm chasing the courier now.";
    let fresh = s.reply_now("ana", marta, sorry, "ana-reply-2").await?;
    s.say(format!(
        "Ana reads the new message and replies on version {fresh} → queued"
    ));

    // An internal note for the team.
    s.at(4);
    let v = s.version(marta).await?;
    let note = s
        .inbox
        .note(
            &actor("ana")?,
            marta,
            v,
            "@ben courier says it's lost; refund if not found by Friday",
            "ana-note-1",
        )
        .await?;
    let mentions: Vec<String> = note
        .message
        .map(|m| m.mentions.iter().map(|a| a.to_string()).collect())
        .unwrap_or_default();
    s.say(format!(
        "Ana adds an internal note mentioning {mentions:?} (team only)"
    ));

    Ok(())
}

/// The dispatcher sends what was queued; delivery statuses arrive out of
/// order.
async fn delivery(s: &mut Story, marta: &ConversationId) -> Result<(), Error> {
    // The dispatcher delivers what was queued, from the business number.
    let report = s.inbox.dispatch(10).await?;
    s.say(format!(
        "Dispatcher: {} sent, {} failed; the transport saw {} message(s) — the note is not among them",
        report.sent,
        report.failed,
        s.transport.sent().len()
    ));
    for m in s.transport.sent() {
        s.aside(format!(
            "→ to {} from number {}: \"{}\" ({})",
            m.request.to.handle(),
            m.request.channel.display_number,
            m.request.content.text_body().unwrap_or_default(),
            m.external_id
        ));
    }

    // WhatsApp reports delivery; a late "sent" never moves it backwards.
    s.at(5);
    let wamid = s.transport.sent()[0].external_id.clone();
    for status in [
        DeliveryStatus::Read,
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
    ] {
        s.inbox
            .ingest(InboundEvent::Status(InboundStatus {
                pricing: None,
                phone_number_id: NUMBER.into(),
                external_id: wamid.clone(),
                our_message_id: None,
                recipient: Some("34611000001".into()),
                status,
                timestamp: s.now(),
                error: None,
            }))
            .await?;
    }
    let detail = s.inbox.conversation(&actor("ana")?, marta).await?;
    let reply_status = detail
        .messages
        .iter()
        .find(|m| m.direction == Direction::Outbound)
        .and_then(|m| m.delivery.as_ref())
        .map(|d| d.status);
    s.say(format!(
        "Status webhooks read, sent, delivered arrive out of order → reply is {:?}",
        reply_status.unwrap_or(DeliveryStatus::Pending)
    ));

    Ok(())
}

/// Tags, a handoff, a resolution, and the customer writing again.
async fn handoff(s: &mut Story, marta: &ConversationId, jon: &ConversationId) -> Result<(), Error> {
    // Tags, a handoff, a resolution.
    s.at(6);
    let v = s.version(marta).await?;
    s.inbox
        .tag(&actor("ana")?, marta, v, &["VIP", "delivery-issue"], &[])
        .await?;
    s.say("Ana tags it vip, delivery-issue");
    s.at(7);
    let v = s.version(marta).await?;
    s.inbox
        .transfer(
            &actor("ana")?,
            marta,
            v,
            Assignee::Agent(AgentId::new("ben")?),
            "Going off shift; refund approved if the courier can't find it",
        )
        .await?;
    s.say("Ana transfers the conversation to Ben with a handoff note");
    s.at(8);
    let v = s.version(jon).await?;
    s.inbox.claim(&actor("sam")?, jon, v).await?;
    s.reply_now("sam", jon, "Yes! 3-5 days to Portugal.", "sam-1")
        .await?;
    s.say("Sam claims Jon's question and answers it");
    s.at(10);
    let v = s.version(marta).await?;
    s.inbox
        .set_status(&actor("ben")?, marta, v, ConversationStatus::Resolved)
        .await?;
    s.say("Ben resolves Marta's conversation");
    s.inbox.dispatch(10).await?;

    // The customer writes again: the same conversation reopens, still Ben's.
    s.at(90);
    s.customer(
        "34611000001",
        "Marta",
        "Found it at my neighbour's, thanks!",
    )
    .await?;

    Ok(())
}

/// Who owns what, and the events recorded.
async fn summary(s: &Story) -> Result<(), Error> {
    // Summary.
    println!("\n== Who owns what ==");
    let all = s
        .inbox
        .list(&actor("sam")?, &ViewQuery::new(View::All).statuses(&[]))
        .await?;
    for c in &all.items {
        let d = s.inbox.conversation(&actor("sam")?, &c.id).await?;
        let last = d
            .messages
            .iter()
            .rev()
            .find(|m| m.direction != Direction::Note)
            .and_then(|m| m.content.text_body())
            .unwrap_or_default();
        println!(
            "  {:<8} {:<9} owner: {:<5} tags: {:<24} reopened: {}  last: \"{}\"",
            d.contact.profile_name.clone().unwrap_or_default(),
            c.status.as_str(),
            c.assignee
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
            if c.tags.is_empty() {
                "-".to_string()
            } else {
                c.tags.join(", ")
            },
            c.reopen_count,
            last
        );
    }
    let events = s.inbox.events_since(&actor("sam")?, 0, 1000).await?;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        *by_kind.entry(e.kind.name()).or_default() += 1;
    }
    println!("\n{} events recorded: {by_kind:?}", events.len());
    println!(
        "{} messages left the business number; notes stayed inside the team.",
        s.transport.sent().len()
    );
    Ok(())
}
