//! The [`Inbox`] service: the API an embedder calls.
//!
//! It holds no state of its own beyond its ports (and, while the store
//! fails, the dispatcher's outcomes waiting to be recorded), so any number
//! of `Inbox` values (in one process or many) can share one store: every
//! decision that must be exclusive (one owner, one message per webhook, one
//! reply per idempotency key) is enforced by the store's atomic,
//! version-checked commits.

mod access;
mod actions;
mod app_contacts;
mod automation;
mod bots;
mod broadcasts;
mod canned;
mod commit;
mod config;
mod consent;
mod contacts;
mod copies;
mod csat;
mod dead_letters;
mod directory;
mod dispatch;
mod dry_run;
mod history;
mod imports;
mod ingest;
mod leases;
mod outbound;
mod policies;
mod pricing;
mod queue;
mod signals;
mod subscribe;
mod templates;
mod tenant_secrets;
mod threads;
mod timers;
mod unread;
mod views;

use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::error::{Change, Conflict, Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{AgentId, ConversationId, TenantId};
use crate::model::{Agent, Conversation, Message};
use crate::permissions;
use crate::ports::{Clock, EventBus, IdGenerator, OutboxEntry, Store, Transport};
use commit::{Decision, Retry};

pub use access::{NewApiKey, API_KEY_PREFIX, MIN_SECRET_LEN, TOUCH_EVERY};
pub use actions::{normalize_tag, parse_mentions, Assignee, Reply};
pub use automation::OfflineReport;
pub use broadcasts::{BroadcastFigures, NewBroadcast, Steer, MAX_BROADCAST_RATE, SELECTION_PAGE};
pub use config::{
    ClaimThread, InboxConfig, OutboxPolicy, ReopenPolicy, ReplyPolicy, ResolveThread, StaleReplies,
    ThreadPolicy,
};
pub use contacts::ContactUpdate;
pub use copies::UNNAMED_APP;
pub use dead_letters::RefusedItem;
pub use dispatch::DispatchReport;
pub use dry_run::{DryRunSettings, Explanation};
use history::IMPORTED_READ_ONLY;
pub use history::{IMPORTED_PREFIX, MEDIA_PLACEHOLDER};
pub use imports::{ImportProblem, ImportReport, ImportRow, MAX_IMPORT_ROWS};
pub use ingest::CUSTOMER_WINDOW;
pub use outbound::{StartConversation, StartTo};
pub use policies::{MAX_HISTORY_PAGE, SETTINGS_RECHECK};
pub use subscribe::AGENT_REFRESH;
pub use timers::TickReport;
pub use views::{
    AgentMay, Allowance, ContactDetail, ConversationDetail, CustomerContextView, View, ViewCounts,
    ViewQuery, VIEW_COUNT_CAP,
};

/// The ports an [`Inbox`] runs on.
#[derive(Clone)]
pub struct Ports {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Outbound delivery.
    pub transport: Arc<dyn Transport>,
    /// Live events.
    pub bus: Arc<dyn EventBus>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Id source for new contacts, conversations and messages.
    pub ids: Arc<dyn IdGenerator>,
}

/// Who is acting: an agent of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    /// The agent's tenant.
    pub tenant: TenantId,
    /// The agent.
    pub agent: AgentId,
}

impl Actor {
    /// An actor.
    pub fn new(tenant: TenantId, agent: AgentId) -> Self {
        Self { tenant, agent }
    }
}

/// What an agent action did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionOutcome {
    /// The conversation after the action.
    pub conversation: Conversation,
    /// The message or note the action created (replies, notes, handoffs).
    pub message: Option<Message>,
    /// The events recorded, with sequence numbers.
    pub events: Vec<Event>,
    /// Warnings: the action went through, but the caller should know (an
    /// agent over capacity, a note added on a version that has since moved).
    pub warnings: Vec<String>,
    /// `true` when this repeats an earlier request with the same idempotency
    /// key (nothing new was created), or changed nothing.
    pub replayed: bool,
}

/// How an action treats a stale `seen_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Staleness {
    /// Refuse with a conflict that lists what changed.
    Reject,
    /// Go ahead (the action commutes with others), warning about the changes.
    Warn,
}

/// What an agent action acts on: the conversation, the version the agent
/// saw, the action's name (for collision notices) and how a stale version
/// is treated.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    id: &'a ConversationId,
    seen: u64,
    action: &'static str,
    staleness: Staleness,
}

impl<'a> Target<'a> {
    /// An action refused on a stale version.
    fn strict(id: &'a ConversationId, seen: u64, action: &'static str) -> Self {
        Target {
            id,
            seen,
            action,
            staleness: Staleness::Reject,
        }
    }

    /// An action that commutes with others: applied on a stale version,
    /// with a warning.
    fn lenient(id: &'a ConversationId, seen: u64, action: &'static str) -> Self {
        Target {
            staleness: Staleness::Warn,
            ..Target::strict(id, seen, action)
        }
    }
}

/// The working copy an action edits.
struct Draft<'a> {
    agent: &'a Agent,
    now: DateTime<Utc>,
    conversation: Conversation,
    messages: Vec<Message>,
    outbox: Vec<OutboxEntry>,
    events: Vec<EventKind>,
    warnings: Vec<String>,
}

impl Draft<'_> {
    fn emit(&mut self, kind: EventKind) {
        self.events.push(kind);
    }

    /// What the draft decided, from `current`: automation reacts to what
    /// the agent did (tags, assignment, status), in the same commit.
    fn decide(self, current: Conversation) -> Decision<'static> {
        let mut d = Decision::new(
            EventActor::Agent(self.agent.id.clone()),
            current,
            self.conversation,
        );
        d.events = self.events;
        d.rows.messages = self.messages;
        d.rows.outbox = self.outbox;
        d.with_rules(&[])
    }
}

/// A message written in conversation `c` at `now` (counted in it, its
/// activity time moved), by `author`; the caller fills in what differs
/// (idempotency key, quoted message, delivery, response time).
pub(crate) fn written(
    c: &mut Conversation,
    id: crate::ids::MessageId,
    author: crate::model::Author,
    direction: crate::model::Direction,
    content: crate::model::Content,
    now: DateTime<Utc>,
) -> Message {
    c.message_count += 1;
    c.last_activity_at = c.last_activity_at.max(now);
    Message {
        tenant: c.tenant.clone(),
        id,
        conversation: c.id.clone(),
        channel: c.channel.clone(),
        direction,
        author,
        content,
        external_id: None,
        idempotency_key: None,
        context: crate::model::ReplyContext::default(),
        mentions: Vec::new(),
        sent_at: now,
        created_at: now,
        delivery: None,
        response: None,
        origin: crate::model::Origin::Live,
    }
}

/// An outbound message by `agent` in `c` at `now`, queued to be sent:
/// written ([`written`]), keyed by `idempotency_key`, its delivery
/// pending, with its outbox entry.
pub(crate) fn queued(
    c: &mut Conversation,
    id: crate::ids::MessageId,
    agent: &AgentId,
    content: crate::model::Content,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> (Message, OutboxEntry) {
    let author = crate::model::Author::Agent(agent.clone());
    let direction = crate::model::Direction::Outbound;
    let mut message = written(c, id, author, direction, content, now);
    message.idempotency_key = Some(idempotency_key.to_string());
    message.delivery = Some(crate::model::DeliveryState::pending(now));
    let entry = OutboxEntry {
        tenant: c.tenant.clone(),
        message: message.id.clone(),
        not_before: now,
        attempts: 0,
    };
    (message, entry)
}

/// The shared team inbox.
///
/// Build one over your ports (`inbox_runtime::ports` adds the system clock
/// and ids to your store, bus and transport; `inbox-store-memory` has a
/// ready-made set for trials), then call its methods as agents act and
/// webhooks arrive:
///
/// ```no_run
/// # fn ports() -> inbox_core::Ports { unimplemented!("see inbox-store-memory") }
/// # async fn demo() -> Result<(), inbox_core::Error> {
/// use inbox_core::{Actor, AgentId, ConversationId, Inbox, InboxConfig, TenantId};
/// let inbox = Inbox::new(ports(), InboxConfig::default());
/// let ana = Actor::new(TenantId::new("acme")?, AgentId::new("ana")?);
/// let claimed = inbox.claim(&ana, &ConversationId::new("c-1")?, 3).await?;
/// println!("ana owns {} at version {}", claimed.conversation.id, claimed.conversation.version);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Inbox {
    ports: Ports,
    config: Arc<InboxConfig>,
    policies: Arc<policies::PolicyCache>,
    context: Arc<std::sync::RwLock<Option<Arc<dyn crate::ports::CustomerContext>>>>,
    bot: Arc<bots::BotSlot>,
    backlog: Arc<dispatch::Backlog>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// Creates an inbox over its ports.
    pub fn new(ports: Ports, config: InboxConfig) -> Self {
        Self {
            ports,
            config: Arc::new(config),
            policies: Default::default(),
            context: Default::default(),
            bot: Default::default(),
            backlog: Default::default(),
        }
    }

    /// The ports: an escape hatch for tests, benchmarks and tools that need
    /// the store or bus directly (wrapping the store in a fault injector,
    /// publishing a live-only event, timing a store query). Everything an
    /// application does goes through the inbox's methods, which check
    /// permissions and keep the invariants; reading or writing the store
    /// behind the inbox's back bypasses both.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The configuration.
    pub fn config(&self) -> &InboxConfig {
        &self.config
    }

    /// The time on the inbox's clock: what the inbox stamps events with and
    /// checks timers, windows and leases against (a test's manual clock, or
    /// the system clock in production).
    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// The inbox's clock, for an embedder's own timers and limits to run on
    /// the same time as the inbox (tests that move a manual clock move
    /// both).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.ports.clock.clone()
    }

    fn new_id<T: TryFrom<String, Error = Error>>(&self, kind: &'static str) -> Result<T> {
        T::try_from(self.ports.ids.next_id(kind)).map_err(|e| Error::Backend {
            message: format!("the id generator returned an invalid {kind} id: {e}"),
            source: None,
        })
    }

    async fn load_agent(&self, actor: &Actor) -> Result<Agent> {
        let agent = self.ports.store.agent(&actor.tenant, &actor.agent).await?;
        if !agent.active {
            return Err(Error::Forbidden {
                agent: agent.id,
                action: permissions::Action::View,
                reason: "the agent is deactivated".into(),
            });
        }
        Ok(agent)
    }

    /// An event an agent of `tenant` causes now (not yet stored).
    fn agent_event(&self, tenant: &TenantId, agent: &AgentId, kind: EventKind) -> Event {
        Event::new(
            tenant.clone(),
            self.now(),
            EventActor::Agent(agent.clone()),
            kind,
        )
    }

    /// The acting agent, if active and its role allows `action`.
    async fn agent_allowed(&self, actor: &Actor, action: permissions::Action) -> Result<Agent> {
        let agent = self.load_agent(actor).await?;
        permissions::require(&agent, action)?;
        Ok(agent)
    }

    /// Publishes committed (or live-only) events; failures are logged, never
    /// returned, because the change is already committed.
    async fn publish(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        if let Err(e) = self.ports.bus.publish(events).await {
            tracing::warn!(error = %e, count = events.len(), "event bus publish failed");
        }
    }

    /// What changed in a conversation after version `seen`.
    async fn changes_since(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        seen: u64,
    ) -> Result<Vec<Change>> {
        let events = self
            .ports
            .store
            .conversation_events(tenant, conversation, seen)
            .await?;
        let mut changes = Vec::new();
        for e in events {
            if e.conversation_version.is_none_or(|v| v <= seen) {
                continue;
            }
            let change = match e.kind {
                EventKind::MessageReceived { message, .. } => {
                    Change::NewCustomerMessage { message }
                }
                EventKind::ReplyQueued { message, .. } => Change::AgentReplied {
                    agent: match e.actor {
                        EventActor::Agent(a) => Some(a),
                        _ => None,
                    },
                    message,
                },
                EventKind::Claimed { agent, .. } => Change::OwnerChanged { owner: Some(agent) },
                EventKind::Assigned { to, .. } | EventKind::Transferred { to, .. } => {
                    Change::OwnerChanged { owner: to.agent }
                }
                EventKind::Released { .. } => Change::OwnerChanged { owner: None },
                EventKind::StatusChanged { to, .. } => Change::StatusChanged { status: to },
                EventKind::ConversationReopened { .. } => Change::StatusChanged {
                    status: crate::model::ConversationStatus::Open,
                },
                EventKind::NoteAdded { message, .. } => Change::NoteAdded { message },
                EventKind::ConversationOpened { .. } | EventKind::ContactCreated { .. } => continue,
                other => Change::Other {
                    what: other.name().replace('_', " "),
                },
            };
            if changes.last() != Some(&change) {
                changes.push(change);
            }
        }
        Ok(changes)
    }

    async fn conflict(&self, conversation: &Conversation, seen: u64) -> Result<Error> {
        let changes = self
            .changes_since(&conversation.tenant, &conversation.id, seen)
            .await?;
        let mut c = Conflict::conversation(&conversation.id, seen, conversation.version);
        c.changes = changes;
        Ok(Error::Conflict(Box::new(c)))
    }

    /// Runs an agent action on a conversation on a conversation: load, check visibility and the
    /// version the agent saw, let `f` edit a draft, commit with an optimistic
    /// version check, retry on races, publish the events.
    async fn act<F>(&self, actor: &Actor, target: Target<'_>, f: F) -> Result<ActionOutcome>
    where
        F: Fn(&mut Draft<'_>) -> Result<()> + Send + Sync,
    {
        let agent = self.load_agent(actor).await?;
        self.act_as(&agent, actor, target, f).await
    }

    /// [`Inbox::act`] for an agent the caller already loaded.
    async fn act_as<F>(
        &self,
        agent: &Agent,
        actor: &Actor,
        target: Target<'_>,
        f: F,
    ) -> Result<ActionOutcome>
    where
        F: Fn(&mut Draft<'_>) -> Result<()> + Send + Sync,
    {
        let mut retry = Retry::default();
        loop {
            let current = (self.ports.store)
                .conversation(&actor.tenant, target.id)
                .await?;
            permissions::require_view(agent, &current)?;
            if current.imported && !matches!(target.action, "note" | "tag") {
                return Err(Error::InvalidState(format!(
                    "{IMPORTED_READ_ONLY}: {} in the customer's own conversation",
                    target.action
                )));
            }
            let warnings = self.check_seen(agent, &current, &target).await?;
            let mut draft = Draft {
                agent,
                now: self.now(),
                conversation: current.clone(),
                messages: Vec::new(),
                outbox: Vec::new(),
                events: Vec::new(),
                warnings,
            };
            if let Err(e) = f(&mut draft) {
                if matches!(e, Error::AlreadyOwned { .. }) {
                    self.collision(agent, target.action, &e, &current).await;
                }
                return Err(e);
            }
            if draft.events.is_empty() && draft.messages.is_empty() {
                // Nothing to do (e.g. claiming one's own conversation).
                return Ok(ActionOutcome {
                    conversation: current,
                    message: None,
                    events: Vec::new(),
                    warnings: draft.warnings,
                    replayed: true,
                });
            }
            let message = draft.messages.first().cloned();
            let mine = crate::model::Author::Agent(agent.id.clone());
            let wrote = draft.messages.iter().any(|m| m.author == mine);
            let warnings = std::mem::take(&mut draft.warnings);
            let decision = draft.decide(current);
            match self.apply(decision).await {
                Ok(applied) => {
                    if wrote {
                        // Their own message is never unread for them.
                        self.read_own(actor, &applied.conversation).await;
                    }
                    return Ok(ActionOutcome {
                        conversation: applied.conversation,
                        message,
                        events: applied.events,
                        warnings,
                        replayed: false,
                    });
                }
                Err(e) => retry.again(e, &self.config)?,
            }
        }
    }

    /// Checks the version an agent acted on: refuses one that does not
    /// exist; on a stale one, refuses with what changed or warns about it.
    async fn check_seen(
        &self,
        agent: &Agent,
        current: &Conversation,
        target: &Target<'_>,
    ) -> Result<Vec<String>> {
        let seen = target.seen;
        let id = &current.id;
        if seen > current.version {
            return Err(Error::invalid(
                "seen_version",
                format!(
                    "version {seen} of conversation {id} does not exist (current is {})",
                    current.version
                ),
            ));
        }
        let mut warnings = Vec::new();
        if seen != current.version {
            match target.staleness {
                Staleness::Reject => {
                    let err = self.conflict(current, seen).await?;
                    self.collision(agent, target.action, &err, current).await;
                    return Err(err);
                }
                Staleness::Warn => {
                    if let Error::Conflict(c) = self.conflict(current, seen).await? {
                        warnings.push(format!("applied on a newer version: {c}"));
                    }
                }
            }
        }
        Ok(warnings)
    }

    /// Publishes a live-only notice that a colliding action on
    /// `conversation` was refused (seen by whoever may see it).
    async fn collision(
        &self,
        agent: &Agent,
        action: &str,
        err: &Error,
        conversation: &Conversation,
    ) {
        let mut e = self.agent_event(
            &agent.tenant,
            &agent.id,
            EventKind::CollisionPrevented {
                agent: agent.id.clone(),
                action: action.to_string(),
                reason: err.to_string(),
            },
        );
        match err {
            Error::Conflict(c) => e.conversation = ConversationId::new(c.id.clone()).ok(),
            Error::AlreadyOwned { conversation, .. } => e.conversation = Some(conversation.clone()),
            _ => {}
        }
        crate::event::Scope::stamp(std::slice::from_mut(&mut e), conversation);
        self.publish(&[e]).await;
    }
}
