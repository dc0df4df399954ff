//! Broadcasts at work: made and steered by supervisors, run by workers.
//!
//! [`Inbox::run_broadcasts`] looks at the due broadcasts of every tenant:
//! a scheduled one whose time came starts selecting; a selecting one adds
//! a page of the segment's contacts as recipients (each pending, or
//! skipped with why: `opted_out` for a marketing template to a customer
//! who stopped marketing, `no_identity`), then moves its cursor; once the
//! segment is read it sends. A crash between adding a page and moving the
//! cursor only adds the same page again, which changes nothing.

use chrono::{DateTime, Utc};

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::ids::{BroadcastId, ChannelId};
use crate::model::{
    Broadcast, BroadcastState, Contact, Recipient, RecipientState, Segment, TemplateFill,
};
use crate::permissions::Action;
use crate::ports::RecipientOutcome;

/// Contacts read per selection step.
pub const SELECTION_PAGE: u32 = 500;
/// The highest rate a broadcast may ask for, in messages per second.
pub const MAX_BROADCAST_RATE: u32 = 1000;

/// What a supervisor asks for when making a broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBroadcast {
    /// Its id (the caller's: making it again with the same id is a
    /// duplicate).
    pub id: BroadcastId,
    /// A name for people.
    pub name: String,
    /// The number it is sent from.
    pub channel: ChannelId,
    /// The template and its values.
    pub template: TemplateFill,
    /// Who it goes to.
    pub segment: Segment,
    /// When it starts (`None`: a draft, started by hand).
    pub schedule: Option<DateTime<Utc>>,
    /// Messages per second at most.
    pub rate_per_second: u32,
}

/// What a supervisor does to a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    /// Start a draft now.
    Start,
    /// Stop sending for now.
    Pause,
    /// Go on sending.
    Resume,
    /// Stop for good.
    Cancel,
}

impl Inbox {
    /// Makes a broadcast (supervisors and admins): the number must be the
    /// tenant's, the template one of its approved templates, filled as its
    /// definition asks, and its category known (consent cannot be kept for
    /// a template of unknown category); the rate at most
    /// [`MAX_BROADCAST_RATE`].
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] for an agent; [`Error::InvalidInput`] or a
    /// content error naming the field; [`Error::Duplicate`] for an id in use.
    pub async fn create_broadcast(&self, actor: &Actor, new: NewBroadcast) -> Result<Broadcast> {
        self.agent_allowed(actor, Action::ManageBroadcasts).await?;
        self.ports
            .store
            .channel(&actor.tenant, &new.channel)
            .await?;
        let policy = self.policy(&actor.tenant).await?;
        check_template(&policy.document, &new.template)?;
        if new.rate_per_second == 0 || new.rate_per_second > MAX_BROADCAST_RATE {
            let why = format!("from 1 to {MAX_BROADCAST_RATE} messages per second");
            return Err(Error::invalid("rate_per_second", why));
        }
        if new.name.trim().is_empty() || new.name.chars().count() > 200 {
            return Err(Error::invalid("name", "must be 1 to 200 characters"));
        }
        let now = self.now();
        let b = Broadcast {
            tenant: actor.tenant.clone(),
            id: new.id,
            name: new.name.trim().to_string(),
            channel: new.channel,
            template: new.template,
            segment: new.segment,
            created_by: actor.agent.clone(),
            state: match new.schedule {
                Some(_) => BroadcastState::Scheduled,
                None => BroadcastState::Draft,
            },
            schedule: new.schedule,
            rate_per_second: new.rate_per_second,
            selected: 0,
            cursor: None,
            paced_until: None,
            created_at: now,
            finished_at: None,
            version: 0,
        };
        self.ports.store.put_broadcast(&b, None).await?;
        self.ports.store.broadcast(&actor.tenant, &b.id).await
    }

    /// The tenant's broadcasts, newest first (supervisors and admins).
    pub async fn broadcasts(&self, actor: &Actor) -> Result<Vec<Broadcast>> {
        self.agent_allowed(actor, Action::ManageBroadcasts).await?;
        self.ports.store.broadcasts(&actor.tenant).await
    }

    /// A broadcast and how many of its recipients are in each state
    /// (supervisors and admins).
    pub async fn broadcast(
        &self,
        actor: &Actor,
        id: &BroadcastId,
    ) -> Result<(Broadcast, crate::model::RecipientCounts)> {
        self.agent_allowed(actor, Action::ManageBroadcasts).await?;
        let b = self.ports.store.broadcast(&actor.tenant, id).await?;
        let counts = self.ports.store.recipient_counts(&actor.tenant, id).await?;
        Ok((b, counts))
    }

    /// Starts, pauses, resumes or cancels a broadcast seen at `version`.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] for an agent; [`Error::Conflict`] on a stale
    /// version; [`Error::InvalidState`] for a move its state does not
    /// allow (a finished broadcast cannot be resumed).
    pub async fn steer_broadcast(
        &self,
        actor: &Actor,
        id: &BroadcastId,
        version: u64,
        steer: Steer,
    ) -> Result<Broadcast> {
        self.agent_allowed(actor, Action::ManageBroadcasts).await?;
        let mut b = self.ports.store.broadcast(&actor.tenant, id).await?;
        use BroadcastState as S;
        let next = match (steer, b.state) {
            (Steer::Start, S::Draft | S::Scheduled) => S::Selecting,
            (Steer::Pause, S::Scheduled | S::Selecting | S::Sending) => S::Paused,
            (Steer::Resume, S::Paused) if b.selected == 0 && b.cursor.is_none() => S::Selecting,
            (Steer::Resume, S::Paused) => S::Sending,
            (Steer::Cancel, S::Draft | S::Scheduled | S::Selecting | S::Sending | S::Paused) => {
                S::Cancelled
            }
            (_, state) => {
                return Err(Error::InvalidState(format!(
                    "a {} broadcast cannot be {}",
                    state.as_str(),
                    steered(steer)
                )))
            }
        };
        b.state = next;
        if next == S::Cancelled {
            b.finished_at = Some(self.now());
        }
        self.ports.store.put_broadcast(&b, Some(version)).await?;
        self.ports.store.broadcast(&actor.tenant, id).await
    }

    /// Works the due broadcasts of every tenant (up to `limit`): starts
    /// the scheduled ones whose time came, selects a page of recipients of
    /// those selecting. Returns how many it worked on. A broadcast another
    /// worker moved first is left to it.
    pub async fn run_broadcasts(&self, limit: u32) -> Result<u32> {
        let now = self.now();
        let due = self.ports.store.due_broadcasts(now, limit).await?;
        let mut worked = 0;
        for mut b in due {
            let result = match b.state {
                BroadcastState::Scheduled => {
                    let v = b.version;
                    b.state = BroadcastState::Selecting;
                    self.ports.store.put_broadcast(&b, Some(v)).await
                }
                BroadcastState::Selecting => self.select_page(b.clone()).await,
                BroadcastState::Sending => Box::pin(self.send_batch(b.clone(), now)).await,
                _ => Ok(()),
            };
            match result {
                Ok(()) => worked += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => tracing::error!(broadcast = %b.id, error = %e, "broadcast not worked on"),
            }
        }
        Ok(worked)
    }

    /// One selection step of `b`: a page of its segment added as
    /// recipients, the cursor moved; the last page moves it to sending.
    pub(super) async fn select_page(&self, mut b: Broadcast) -> Result<()> {
        let store = &self.ports.store;
        let page = store
            .segment_contacts(&b.tenant, &b.segment, b.cursor.as_ref(), SELECTION_PAGE)
            .await?;
        let policy = self.policy(&b.tenant).await?;
        let marketing = template_is_marketing(&policy.document, &b.template);
        let recipients: Vec<Recipient> = page.iter().map(|c| first_state(c, marketing)).collect();
        let added = store.add_recipients(&b.tenant, &b.id, &recipients).await?;
        let expected = b.version;
        b.selected += added;
        if let Some(last) = page.last() {
            b.cursor = Some(last.id.clone());
        }
        if (page.len() as u32) < SELECTION_PAGE {
            b.state = BroadcastState::Sending;
        }
        store.put_broadcast(&b, Some(expected)).await
    }
}

/// How long a worker holds the recipients it claimed.
const RECIPIENT_LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl Inbox {
    /// One sending step of `b`: as many recipients as its rate allows
    /// since its last batch (a second's worth at most), each queued
    /// through the outbox as a conversation the broadcast starts, or
    /// skipped with why; the broadcast is done when none is pending.
    async fn send_batch(&self, mut b: Broadcast, now: DateTime<Utc>) -> Result<()> {
        let store = &self.ports.store;
        let (allowance, start) = allowance(&b, now);
        if allowance == 0 {
            return Ok(());
        }
        let until = now + RECIPIENT_LEASE;
        let claims = store
            .claim_recipients(&b.tenant, &b.id, now, until, allowance)
            .await?;
        let expected = b.version;
        if claims.is_empty() {
            if store.recipient_counts(&b.tenant, &b.id).await?.pending == 0 {
                b.state = BroadcastState::Done;
                b.finished_at = Some(now);
                return store.put_broadcast(&b, Some(expected)).await;
            }
            return Ok(());
        }
        let policy = self.policy(&b.tenant).await?;
        let marketing = template_is_marketing(&policy.document, &b.template);
        let actor = Actor::new(b.tenant.clone(), b.created_by.clone());
        for claim in &claims {
            let outcome = match self.send_one(&b, &actor, &claim.contact, marketing).await {
                Ok(o) => o,
                // The store failing: the claims lapse and are taken again.
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => RecipientOutcome::Skipped(format!("refused: {}", e.code())),
            };
            match store.settle_recipient(claim, &outcome).await {
                Ok(()) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        b.paced_until = Some(paced(&b, start, claims.len()));
        match store.put_broadcast(&b, Some(expected)).await {
            Ok(()) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Queues the broadcast to one recipient (idempotent by the key
    /// `bc:{broadcast}:{contact}`: a replay after a crash finds the message
    /// already queued), or says why not.
    async fn send_one(
        &self,
        b: &Broadcast,
        actor: &Actor,
        contact: &crate::ids::ContactId,
        marketing: bool,
    ) -> Result<RecipientOutcome> {
        let store = &self.ports.store;
        let k = store.contact(&b.tenant, contact).await?;
        if marketing && !k.accepts_marketing() {
            return Ok(RecipientOutcome::Skipped("opted_out".into()));
        }
        let key = format!("bc:{}:{}", b.id, contact);
        if let Some(m) = store.message_by_idempotency_key(&b.tenant, &key).await? {
            return Ok(RecipientOutcome::Queued(m.id));
        }
        let latest = store
            .latest_conversation(&b.tenant, &b.channel, contact)
            .await?;
        if latest.is_some_and(|c| c.status.is_active()) {
            // A live conversation is not interrupted by a campaign.
            return Ok(RecipientOutcome::Skipped("active_conversation".into()));
        }
        let start = super::outbound::StartConversation {
            channel: b.channel.clone(),
            to: super::outbound::StartTo::Contact(contact.clone()),
            template: for_recipient(&b.template, &k),
            idempotency_key: key,
        };
        match self.start_with(actor, start, Some(&b.id)).await {
            Ok(done) => match done.message {
                Some(m) => Ok(RecipientOutcome::Queued(m.id)),
                None => Ok(RecipientOutcome::Skipped("nothing queued".into())),
            },
            Err(Error::Forbidden { .. }) => Ok(RecipientOutcome::Skipped("opted_out".into())),
            Err(e) => Err(e),
        }
    }
}

/// The most a broadcast banks while nothing is sent (a worker that runs
/// once a second, a restart): a second's worth. Steadily, sends go out
/// evenly at the rate; right after an idle moment one second may carry
/// up to that second's worth more.
const MAX_BANKED: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// The broadcast's values with the canned variables filled in for one
/// recipient: `{{contact.name}}` (the team's name for them, else their
/// profile name) and `{{contact.phone}}`; `{{agent.name}}` and
/// `{{conversation.id}}` are empty (no agent, no conversation yet). A
/// value left empty makes the template refuse the fill, and the recipient
/// is skipped with the reason.
fn for_recipient(fill: &TemplateFill, k: &Contact) -> TemplateFill {
    let mut fill = fill.clone();
    if !fill.clone().texts_mut().any(|t| t.contains("{{")) {
        return fill;
    }
    let values = crate::settings::CannedValues {
        contact_name: k
            .display_name
            .clone()
            .or_else(|| k.profile_name.clone())
            .unwrap_or_default(),
        contact_phone: k.identity.wa_id.clone().unwrap_or_default(),
        agent_name: String::new(),
        conversation_id: String::new(),
    };
    for text in fill.texts_mut() {
        let canned = crate::settings::CannedResponse {
            shortcut: String::new(),
            text: std::mem::take(text),
            owner: crate::settings::CannedOwner::Tenant,
        };
        *text = canned.render(&values);
    }
    fill
}

/// How many recipients `b` may be sent now, evenly at its rate (one every
/// `1/rate` seconds from where its pacing stands), and where its pacing
/// stands once they are sent.
fn allowance(b: &Broadcast, now: DateTime<Utc>) -> (u32, DateTime<Utc>) {
    let rate = i64::from(b.rate_per_second.max(1));
    let interval_us = 1_000_000 / rate;
    let start = b.paced_until.map_or(now, |p| p.max(now - MAX_BANKED));
    if start > now {
        return (0, start);
    }
    let n = ((now - start).num_microseconds().unwrap_or(i64::MAX) / interval_us + 1).min(rate);
    (n as u32, start)
}

/// Where the pacing stands after `sent` recipients from `start`.
fn paced(b: &Broadcast, start: DateTime<Utc>, sent: usize) -> DateTime<Utc> {
    let interval_us = 1_000_000 / i64::from(b.rate_per_second.max(1));
    start + chrono::TimeDelta::microseconds(interval_us * sent as i64)
}

/// The words for a move, in errors.
fn steered(s: Steer) -> &'static str {
    match s {
        Steer::Start => "started",
        Steer::Pause => "paused",
        Steer::Resume => "resumed",
        Steer::Cancel => "cancelled",
    }
}

/// The template must be one of the tenant's approved ones, its fill
/// complete, and its category known.
fn check_template(settings: &crate::settings::TenantSettings, fill: &TemplateFill) -> Result<()> {
    let def = settings
        .templates
        .iter()
        .find(|t| t.name == fill.name && t.language == fill.language)
        .ok_or_else(|| {
            let why = format!(
                "no template {:?} in {:?} is known to this tenant",
                fill.name, fill.language
            );
            Error::invalid("template.name", why)
        })?;
    if def.category.is_none() {
        let why =
            "its category is not known: sync the templates from WhatsApp (or declare it) first";
        return Err(Error::invalid("template.name", why));
    }
    let content = def.fill(fill)?;
    settings.check_template(&content)
}

/// Whether the broadcast's template may be marketing (the dispatcher's
/// rule: unknown categories count as marketing).
fn template_is_marketing(settings: &crate::settings::TenantSettings, fill: &TemplateFill) -> bool {
    let content = crate::model::Content::Template {
        name: fill.name.clone(),
        language: fill.language.clone(),
        components: serde_json::Value::Null,
    };
    settings.may_be_marketing(&content)
}

/// A selected contact's first state: skipped when it cannot or must not
/// get the broadcast.
fn first_state(c: &Contact, marketing: bool) -> Recipient {
    let reason = if !c.identity.is_known() {
        Some("no_identity")
    } else if marketing && !c.accepts_marketing() {
        Some("opted_out")
    } else {
        None
    };
    Recipient {
        contact: c.id.clone(),
        state: match reason {
            Some(_) => RecipientState::Skipped,
            None => RecipientState::Pending,
        },
        message: None,
        reason: reason.map(str::to_string),
    }
}

/// What became of a broadcast's recipients and their messages.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BroadcastFigures {
    /// Recipients chosen and not yet sent.
    pub pending: u32,
    /// Messages queued.
    pub queued: u32,
    /// Recipients skipped, by reason (`opted_out`, `active_conversation` …).
    pub skipped: std::collections::BTreeMap<String, u32>,
    /// Messages WhatsApp took (accepted or further).
    pub sent: u32,
    /// Delivered to the customer's phone (or read).
    pub delivered: u32,
    /// Read.
    pub read: u32,
    /// Failed, by WhatsApp's error code (`none` without one).
    pub failed: std::collections::BTreeMap<String, u32>,
    /// Cancelled before sending (a stop that came later).
    pub cancelled: u32,
    /// The customer wrote after it was sent.
    pub replied: u32,
}

impl Inbox {
    /// A broadcast's figures (supervisors and admins): its recipients by
    /// state, and their messages by delivery status and reply. Read
    /// recipient by recipient, a page at a time.
    pub async fn broadcast_figures(
        &self,
        actor: &Actor,
        id: &BroadcastId,
    ) -> Result<BroadcastFigures> {
        self.agent_allowed(actor, Action::ManageBroadcasts).await?;
        let store = &self.ports.store;
        store.broadcast(&actor.tenant, id).await?;
        let mut f = BroadcastFigures::default();
        let mut after = None;
        loop {
            let page = store
                .recipients(&actor.tenant, id, after.as_ref(), 500)
                .await?;
            for r in &page {
                self.count_recipient(actor, r, &mut f).await?;
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = Some(last.contact.clone()),
                _ => return Ok(f),
            }
        }
    }

    async fn count_recipient(
        &self,
        actor: &Actor,
        r: &crate::model::Recipient,
        f: &mut BroadcastFigures,
    ) -> Result<()> {
        use crate::model::DeliveryStatus as D;
        match (r.state, &r.message) {
            (RecipientState::Pending, _) => f.pending += 1,
            (RecipientState::Skipped, _) => {
                let reason = r.reason.clone().unwrap_or_else(|| "unknown".into());
                *f.skipped.entry(reason).or_default() += 1;
            }
            (RecipientState::Queued, None) => f.queued += 1,
            (RecipientState::Queued, Some(m)) => {
                f.queued += 1;
                let store = &self.ports.store;
                let message = store.message(&actor.tenant, m).await?;
                let status = message.delivery.as_ref().map(|d| d.status);
                match status {
                    Some(D::Failed) => {
                        let code = message
                            .delivery
                            .as_ref()
                            .and_then(|d| d.error.as_ref())
                            .and_then(|e| e.code);
                        let key = code.map_or("none".to_string(), |c| c.to_string());
                        *f.failed.entry(key).or_default() += 1;
                    }
                    Some(D::Cancelled) => f.cancelled += 1,
                    Some(D::Accepted | D::Sent) => f.sent += 1,
                    Some(D::Delivered) => {
                        f.sent += 1;
                        f.delivered += 1;
                    }
                    Some(D::Read | D::Played) => {
                        f.sent += 1;
                        f.delivered += 1;
                        f.read += 1;
                    }
                    Some(D::Pending) | None => {}
                }
                let c = store
                    .conversation(&actor.tenant, &message.conversation)
                    .await?;
                if c.last_customer_message_at
                    .is_some_and(|at| at > message.sent_at)
                {
                    f.replied += 1;
                }
            }
        }
        Ok(())
    }
}
