use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What happens when a customer writes again after their conversation was
/// resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "within_secs", rename_all = "snake_case")]
pub enum ReopenPolicy {
    /// Always reopen the resolved conversation (same owner, same team).
    Reopen,
    /// Always open a new conversation.
    NewConversation,
    /// Reopen if it was resolved less than this many seconds ago, else open
    /// a new one.
    ReopenWithin(u64),
}

impl Default for ReopenPolicy {
    fn default() -> Self {
        ReopenPolicy::ReopenWithin(7 * 24 * 3600)
    }
}

/// What to do with a reply sent on a stale version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StaleReplies {
    /// Refuse it with a conflict saying what changed (default).
    #[default]
    Reject,
    /// Send it, with a warning saying what changed.
    Warn,
}

/// Who may reply, and how. A field left out takes its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplyPolicy {
    /// Only the owner may reply; supervisors and admins may override.
    pub assignee_only: bool,
    /// Replying to an unowned conversation claims it for the replier.
    pub claim_on_reply: bool,
    /// Stale replies are refused or warned about.
    pub stale: StaleReplies,
}

impl Default for ReplyPolicy {
    fn default() -> Self {
        Self {
            assignee_only: false,
            claim_on_reply: true,
            stale: StaleReplies::Reject,
        }
    }
}

/// What claiming a conversation does when another app (Meta's AI agent,
/// say) controls its WhatsApp thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimThread {
    /// Take control of the thread as the conversation is claimed.
    #[default]
    Take,
    /// Claim without taking; an agent takes control explicitly.
    Ask,
}

/// What resolving a conversation does with control of its WhatsApp
/// thread, when this inbox has it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolveThread {
    /// Pass control back to the app that had it before this inbox (when
    /// one did; else keep it).
    #[default]
    PassBack,
    /// Release control: WhatsApp's routing picks who answers next.
    Release,
    /// Keep control.
    Keep,
}

/// Thread control on numbers this inbox shares with other apps (WhatsApp's
/// Conversation Routing: Meta's AI agent, a bot platform). A field left
/// out takes its default.
///
/// ```
/// use inbox_core::settings::TenantSettings;
/// use inbox_core::{ClaimThread, ResolveThread};
/// let s = TenantSettings::from_yaml("thread_control: {on_claim: ask}").unwrap();
/// let p = s.thread_control;
/// assert_eq!((p.on_claim, p.on_resolve), (ClaimThread::Ask, ResolveThread::PassBack));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThreadPolicy {
    /// Claiming takes control (`take`, the default) or leaves it (`ask`).
    pub on_claim: ClaimThread,
    /// Resolving passes control back (`pass_back`, the default), releases
    /// it or keeps it.
    pub on_resolve: ResolveThread,
}

/// How the dispatcher delivers queued replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxPolicy {
    /// How long a dispatcher may hold a claimed message before it begins
    /// sending it; if it has not begun by then it is considered crashed and
    /// the message is claimed again and sent by another.
    pub lease: Duration,
    /// How long a dispatcher may hold a message from the start of a send
    /// attempt: longer than the transport's worst case for one send, its
    /// own retries included (the WhatsApp client's defaults: 4 tries of up
    /// to 20 s and the waits between them, under 2.5 minutes). A dispatcher
    /// still holding it after that is considered crashed, and the message
    /// is marked in doubt, not resent.
    #[serde(default = "default_attempt_lease")]
    pub attempt_lease: Duration,
    /// Messages sent at once by one dispatcher pass (each of another
    /// conversation: a conversation's messages go one after another, in
    /// order).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Attempts before a retryable failure becomes final.
    pub max_attempts: u32,
    /// First retry delay; doubled each attempt.
    pub base_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            attempt_lease: default_attempt_lease(),
            concurrency: default_concurrency(),
            max_attempts: 8,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// The options of one inbox process, the same for every tenant it serves:
/// how it delivers, how long leases last, how often it retries. What a
/// tenant decides (rules, SLA, timers, reply and reopen policies) is in
/// the tenant's settings ([`crate::settings`]), not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxConfig {
    /// Outbound delivery.
    pub outbox: OutboxPolicy,
    /// How long a reply lease lasts unless renewed.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl: Duration,
    /// How many times an action is retried when its commit races with
    /// another writer before the conflict is returned.
    pub commit_attempts: u32,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            outbox: OutboxPolicy::default(),
            lease_ttl: default_lease_ttl(),
            commit_attempts: 8,
        }
    }
}

fn default_lease_ttl() -> Duration {
    Duration::from_secs(30)
}

fn default_concurrency() -> u32 {
    8
}

fn default_attempt_lease() -> Duration {
    Duration::from_secs(300)
}
