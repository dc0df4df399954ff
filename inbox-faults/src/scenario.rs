//! The inbox the fault tests run: PostgreSQL, the real Graph API client
//! pointed at a stand-in, the system clock; a tenant with one number and
//! customers who each got replies queued; a dispatcher loop.

use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use inbox_core::model::{Agent, Channel, ContactIdentity, Content, DeliveryStatus, Role, Tenant};
use inbox_core::ports::Store;
use inbox_core::{
    Actor, AgentId, ChannelId, ConversationId, InboundEvent, InboundMessage, InboundStatus, Inbox,
    InboxConfig, IngestOutcome, MessageId, Reply, TenantId,
};
use inbox_store_memory::MemoryEventBus;
use inbox_store_postgres::PgStore;
use inbox_whatsapp::{GraphClient, GraphConfig};

/// The phone number id of the tenant's number.
pub const PHONE_NUMBER_ID: &str = "1001";

/// How the inbox under test is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Graph API (stand-in) base URL.
    pub graph_url: String,
    /// The dispatcher's lease on a claimed message.
    pub lease: Duration,
    /// Its lease from the start of a send attempt (longer than a send can
    /// take: the client's `timeout`, no retries expected of the stand-in).
    pub attempt_lease: Duration,
    /// Conversations sent to at once.
    pub concurrency: u32,
    /// The Graph client's timeout for one request.
    pub timeout: Duration,
}

impl Settings {
    /// Two-second claim leases, four-second attempt leases, eight messages
    /// at once, a two-second request timeout.
    pub fn new(graph_url: &str) -> Self {
        Self {
            graph_url: graph_url.to_string(),
            lease: Duration::from_secs(2),
            attempt_lease: Duration::from_secs(4),
            concurrency: 8,
            timeout: Duration::from_secs(2),
        }
    }
}

/// An inbox over `store`, sending through the Graph client.
pub fn inbox(store: PgStore, settings: &Settings) -> Result<Inbox, String> {
    let mut graph = GraphConfig::new("test-token").base_url(settings.graph_url.clone());
    graph.timeout = settings.timeout;
    graph.connect_timeout = settings.timeout.min(Duration::from_secs(2));
    graph.messages_per_second = 1000;
    let client = GraphClient::new(graph).map_err(|e| e.to_string())?;
    let mut config = InboxConfig::default();
    config.outbox.lease = settings.lease;
    config.outbox.attempt_lease = settings.attempt_lease;
    config.outbox.concurrency = settings.concurrency;
    config.outbox.base_backoff = Duration::from_millis(200);
    config.outbox.max_backoff = Duration::from_secs(2);
    Ok(Inbox::new(
        inbox_runtime::ports(
            Arc::new(store),
            Arc::new(MemoryEventBus::new(1024)),
            Arc::new(client),
        ),
        config,
    ))
}

/// The tenant `acme`.
pub fn tenant() -> TenantId {
    id(TenantId::new("acme"))
}

fn id<T>(r: inbox_core::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => unreachable!("a literal id is valid: {e}"),
    }
}

/// A reply that was queued: its id, the customer and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Our message id.
    pub id: MessageId,
    /// The customer's number.
    pub to: String,
    /// The text.
    pub text: String,
}

/// Provisions the tenant, its number and agent `ana`, then has
/// `customers` customers write in and ana answer each `per_customer`
/// times. Returns the replies in the order they were queued.
pub async fn queue_replies(
    inbox: &Inbox,
    customers: usize,
    per_customer: usize,
) -> inbox_core::Result<Vec<Queued>> {
    let acme = tenant();
    inbox
        .provision_tenant(&Tenant::new(acme.clone(), "Acme"))
        .await?;
    let main = ChannelId::new("main")?;
    let number = Channel::new(acme.clone(), main, PHONE_NUMBER_ID, "+34 600 001");
    inbox.provision_channel(&number).await?;
    let ana = AgentId::new("ana")?;
    inbox
        .provision_agent(&Agent::new(acme.clone(), ana.clone(), "Ana", Role::Admin))
        .await?;
    let actor = Actor::new(acme, ana);
    let mut queued = Vec::new();
    for c in 0..customers {
        let to = format!("3460000{c:04}");
        let conversation = customer_writes(inbox, &to, c).await?;
        for k in 0..per_customer {
            let text = format!("reply {k} to {to}");
            let seen = inbox.conversation(&actor, &conversation).await?;
            let version = seen.conversation.version;
            let reply = Reply::text(text.clone(), format!("{to}-{k}"));
            let done = inbox.reply(&actor, &conversation, version, reply).await?;
            if let Some(m) = done.message {
                queued.push(Queued {
                    id: m.id,
                    to: to.clone(),
                    text,
                });
            }
        }
    }
    Ok(queued)
}

async fn customer_writes(
    inbox: &Inbox,
    from: &str,
    n: usize,
) -> inbox_core::Result<ConversationId> {
    let message = InboundMessage {
        phone_number_id: PHONE_NUMBER_ID.into(),
        external_id: format!("wamid.in.{n}"),
        from: ContactIdentity::wa(from),
        profile_name: Some(format!("Customer {n}")),
        username: None,
        timestamp: Utc::now(),
        content: Content::text("hello?"),
        context: Default::default(),
    };
    match inbox.ingest(InboundEvent::Message(message)).await? {
        IngestOutcome::Stored { conversation, .. } => Ok(conversation),
        other => Err(inbox_core::Error::InvalidState(format!(
            "the customer's message was not stored: {other:?}"
        ))),
    }
}

/// Runs dispatcher passes until `stop` says so: back to back while there
/// is work, every 20 ms when idle, every 100 ms while the store fails.
pub async fn run_dispatcher(inbox: Inbox, mut stop: watch::Receiver<bool>) {
    loop {
        let pause = match inbox.dispatch(50).await {
            Ok(r) if r.total() > 0 => Duration::ZERO,
            Ok(_) => Duration::from_millis(20),
            Err(e) => {
                tracing::info!(error = %e, "dispatch failed");
                Duration::from_millis(100)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Where the queued replies stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Still waiting to be sent (pending, not in doubt).
    pub waiting: Vec<MessageId>,
    /// In doubt.
    pub in_doubt: Vec<MessageId>,
    /// Accepted or further, with the provider id recorded.
    pub sent: Vec<(MessageId, String)>,
    /// Failed.
    pub failed: Vec<MessageId>,
}

/// Reads every queued reply back; `None` while the store does not answer.
pub async fn tally(store: &dyn Store, queued: &[Queued]) -> Option<Tally> {
    let mut t = Tally::default();
    for q in queued {
        let m = store.message(&tenant(), &q.id).await.ok()?;
        let d = m.delivery.as_ref()?;
        match (d.status, d.in_doubt_since, m.external_id) {
            (DeliveryStatus::Failed | DeliveryStatus::Cancelled, ..) => t.failed.push(q.id.clone()),
            (DeliveryStatus::Pending, Some(_), _) => t.in_doubt.push(q.id.clone()),
            (DeliveryStatus::Pending, None, _) => t.waiting.push(q.id.clone()),
            (_, _, Some(ext)) => t.sent.push((q.id.clone(), ext)),
            (_, _, None) => t.waiting.push(q.id.clone()),
        }
    }
    Some(t)
}

/// Waits (up to `limit`) until no reply is waiting any more.
pub async fn wait_settled(store: &dyn Store, queued: &[Queued], limit: Duration) -> Tally {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let now = tally(store, queued).await;
        match now {
            Some(t) if t.waiting.is_empty() => return t,
            Some(t) if tokio::time::Instant::now() >= deadline => return t,
            _ if tokio::time::Instant::now() >= deadline => return Tally::default(),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The status webhook Meta sends for a message it had: `delivered`, with
/// our id in `biz_opaque_callback_data`.
pub fn delivered(our_id: &MessageId, wamid: &str) -> InboundEvent {
    InboundEvent::Status(InboundStatus {
        pricing: None,
        phone_number_id: PHONE_NUMBER_ID.into(),
        external_id: wamid.to_string(),
        our_message_id: Some(our_id.to_string()),
        recipient: None,
        status: DeliveryStatus::Delivered,
        timestamp: Utc::now(),
        error: None,
    })
}
