//! A store wrapper that fails on demand, for fault-injection tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::event::Event;
use crate::ids::{
    AgentId, ApiKeyId, ChannelId, ContactId, ConversationId, DeadLetterId, MessageId, TeamId,
    TenantId,
};
use crate::metrics::{LiveQuery, LiveSnapshot, MetricsQuery, MetricsReport};
use crate::model::{Agent, Channel, Contact, ContactIdentity, Conversation, Message, Team, Tenant};
use crate::ports::{
    Access, ApiKeyRecord, Changeset, ChannelSecrets, Committed, ContactMerge, Contacts,
    Conversations, DeadLetter, DeadLetterPut, DeadLetterQuery, DeadLetterScope, DeadLetters,
    Directory, HistoryQuery, IngestContext, IngestRequest, Lease, LeaseKey, LeaseRequest,
    LoadScope, MessageUpdate, MessageUpdated, Messages, OutboxAttempt, OutboxClaim,
    OutboxClaimRequest, OutboxDisposition, Outreach, ReadMarkers, Reports, Scheduling,
    SealedSecret, SecretSlot, SessionRecord, Settings, SettingsChange, SettingsPut, Store,
    StoredSettings, TenantSecretSlot, TokenHash,
};
use crate::query::{ConversationQuery, Page, SearchHit, SearchQuery};
use crate::routing::RoutingCursor;
use crate::timer::Timer;
use crate::Secret;

/// A [`Store`] that passes every call to another store, except while it is
/// switched off: then every call fails with [`Error::Unavailable`] and
/// reaches nothing, as when a database goes away. It can also go down by
/// itself after a number of calls ([`FaultyStore::fail_after`]) and refuse
/// one operation with a scripted error ([`FaultyStore::refuse`]).
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use inbox_core::testing::FaultyStore;
/// use inbox_core::ports::{Directory, Store};
/// # let inner: std::sync::Arc<dyn Store> = unimplemented!();
/// let store = FaultyStore::new(inner);
/// store.set_down(true);
/// assert!(store.tenant(&inbox_core::TenantId::new("acme").unwrap()).await.is_err());
/// # });
/// ```
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    down: AtomicBool,
    /// Calls still answered before the store goes down by itself.
    countdown: Mutex<Option<u64>>,
    /// Operations refused with a scripted error while the rest works.
    refusals: Mutex<HashMap<&'static str, MakeError>>,
    /// Calls made, by operation.
    calls: Mutex<BTreeMap<String, u64>>,
}

/// Makes the error a refused operation fails with.
type MakeError = fn() -> Error;

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore")
            .field("down", &self.is_down())
            .finish_non_exhaustive()
    }
}

impl FaultyStore {
    /// Wraps `inner`, switched on.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            down: AtomicBool::new(false),
            countdown: Mutex::new(None),
            refusals: Mutex::new(HashMap::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// Switches the store off (every call fails) or on again (which also
    /// cancels a [`FaultyStore::fail_after`] countdown).
    pub fn set_down(&self, down: bool) {
        *self.countdown.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.down.store(down, Ordering::SeqCst);
    }

    /// Answers the next `calls` calls, then goes down by itself (as a
    /// database that goes away in the middle of some work).
    pub fn fail_after(&self, calls: u64) {
        *self.countdown.lock().unwrap_or_else(|e| e.into_inner()) = Some(calls);
    }

    /// Every call of `operation` (the name of a method a store implements,
    /// such as `"channel"`; a provided method such as
    /// [`Contacts::contact`] is a call of the method it is made of,
    /// `"contacts"`) fails with `error()` from now on, while the rest
    /// works: for data a backend cannot read or has lost.
    pub fn refuse(&self, operation: &'static str, error: fn() -> Error) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        refusals.insert(operation, error);
    }

    /// The calls made so far (answered or not), by operation (a [`Store`]
    /// method's name): to count what some work reads.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether calls fail now.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    fn outage() -> Error {
        Error::Unavailable {
            message: "the store is switched off (fault injection)".into(),
            source: None,
        }
    }

    fn check(&self, operation: &str) -> Result<()> {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operation.to_string())
            .or_default() += 1;
        {
            let mut countdown = self.countdown.lock().unwrap_or_else(|e| e.into_inner());
            match countdown.as_mut() {
                Some(0) => {
                    *countdown = None;
                    self.down.store(true, Ordering::SeqCst);
                }
                Some(n) => *n -= 1,
                None => {}
            }
        }
        if self.is_down() {
            return Err(Self::outage());
        }
        let refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        match refusals.get(operation) {
            Some(error) => Err(error()),
            None => Ok(()),
        }
    }
}

/// Implements ports for [`FaultyStore`]: each listed method passes its call
/// to the inner store once [`FaultyStore::check`] lets it through (one
/// signature a line, as the port declares it); what follows `by_hand` is
/// written out, for a method that fails otherwise.
macro_rules! pass_through {
    ($(impl $port:ident {
        $(fn $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*
        $(by_hand { $($manual:tt)* })?
    })*) => {$(
        #[async_trait]
        impl $port for FaultyStore {
            $(async fn $method(&self, $($arg: $ty),*) -> $ret {
                self.check(stringify!($method))?;
                self.inner.$method($($arg),*).await
            })*
            $($($manual)*)?
        }
    )*};
}

pass_through! {
    impl Directory {
        fn upsert_tenant(tenant: &Tenant) -> Result<()>;
        fn tenant(id: &TenantId) -> Result<Tenant>;
        fn tenants() -> Result<Vec<Tenant>>;
        fn upsert_channel(channel: &Channel) -> Result<()>;
        fn update_channel_news(tenant: &TenantId, id: &ChannelId, change: &crate::ports::ChannelNews<'_>) -> Result<Channel>;
        fn channel(tenant: &TenantId, id: &ChannelId) -> Result<Channel>;
        fn channels(tenant: &TenantId) -> Result<Vec<Channel>>;
        fn channel_by_phone_number_id(phone_number_id: &str) -> Result<Option<Channel>>;
        fn upsert_agent(agent: &Agent) -> Result<()>;
        fn agent(tenant: &TenantId, id: &AgentId) -> Result<Agent>;
        fn agents(tenant: &TenantId) -> Result<Vec<Agent>>;
        fn upsert_team(team: &Team) -> Result<()>;
        fn team(tenant: &TenantId, id: &TeamId) -> Result<Team>;
        fn teams(tenant: &TenantId) -> Result<Vec<Team>>;
    }

    impl Contacts {
        fn contacts(tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>>;
        fn find_contact(tenant: &TenantId, identity: &ContactIdentity) -> Result<Option<Contact>>;
        fn merge_contacts(tenant: &TenantId, merge: &ContactMerge) -> Result<Committed>;
    }

    impl Conversations {
        fn conversation(tenant: &TenantId, id: &ConversationId) -> Result<Conversation>;
        fn latest_conversation(tenant: &TenantId, channel: &ChannelId, contact: &ContactId) -> Result<Option<Conversation>>;
        fn list_conversations(tenant: &TenantId, query: &ConversationQuery) -> Result<Page<Conversation>>;
        fn count_conversations(tenant: &TenantId, filter: &crate::query::ConversationFilter, cap: u32) -> Result<u64>;
        fn ingest_context(request: IngestRequest<'_>) -> Result<IngestContext>;
        fn commit(changes: Changeset) -> Result<Committed>;
        fn events_since(tenant: &TenantId, after_seq: u64, limit: u32) -> Result<Vec<Event>>;
        fn conversation_events(tenant: &TenantId, conversation: &ConversationId, after_version: u64) -> Result<Vec<Event>>;
    }

    impl Messages {
        fn message(tenant: &TenantId, id: &MessageId) -> Result<Message>;
        fn messages(tenant: &TenantId, conversation: &ConversationId) -> Result<Vec<Message>>;
        fn message_by_external_id(tenant: &TenantId, channel: &ChannelId, external_id: &str) -> Result<Option<Message>>;
        fn message_by_idempotency_key(tenant: &TenantId, key: &str) -> Result<Option<Message>>;
        by_hand {
            // One outage result per update, as a store that went away gives.
            async fn update_messages(
                &self,
                tenant: &TenantId,
                updates: &[MessageUpdate],
            ) -> Vec<Result<Option<MessageUpdated>>> {
                if self.check("update_messages").is_err() {
                    return updates.iter().map(|_| Err(Self::outage())).collect();
                }
                self.inner.update_messages(tenant, updates).await
            }
        }
    }

    impl Scheduling {
        fn due_timers(now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>>;
        fn acquire_lease(request: LeaseRequest<'_>) -> Result<Lease>;
        fn release_lease(key: LeaseKey<'_>, agent: &AgentId) -> Result<bool>;
        fn lease(key: LeaseKey<'_>, now: DateTime<Utc>) -> Result<Option<Lease>>;
        fn claim_outbox(request: OutboxClaimRequest) -> Result<Vec<OutboxClaim>>;
        fn begin_outbox_attempt(claim: &OutboxClaim, attempt: OutboxAttempt) -> Result<()>;
        fn release_outbox(claim: &OutboxClaim, disposition: OutboxDisposition) -> Result<()>;
    }

    impl Reports {
        fn search(tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>>;
        fn metrics(tenant: &TenantId, query: &MetricsQuery) -> Result<MetricsReport>;
        fn message_tallies(tenant: &TenantId, query: &crate::pricing::CostQuery) -> Result<Vec<crate::pricing::MessageTally>>;
        fn surveys(tenant: &TenantId, query: &crate::metrics::CsatQuery) -> Result<Vec<crate::metrics::SurveyRow>>;
        fn bot_rows(tenant: &TenantId, query: &crate::metrics::BotQuery) -> Result<Vec<crate::metrics::BotRow>>;
        fn live_snapshot(tenant: &TenantId, query: &LiveQuery) -> Result<LiveSnapshot>;
        fn agent_loads(tenant: &TenantId, scope: &LoadScope) -> Result<BTreeMap<AgentId, u32>>;
        fn last_assignee(tenant: &TenantId, contact: &ContactId) -> Result<Option<AgentId>>;
        fn routing_cursors(tenant: &TenantId) -> Result<Vec<RoutingCursor>>;
    }

    impl DeadLetters {
        fn put_dead_letter(letter: DeadLetter) -> Result<DeadLetterPut>;
        fn dead_letters(scope: &DeadLetterScope, query: &DeadLetterQuery) -> Result<Page<DeadLetter>>;
        fn dead_letter(scope: &DeadLetterScope, id: &DeadLetterId) -> Result<DeadLetter>;
        fn update_dead_letter(letter: &DeadLetter) -> Result<()>;
    }

    impl Settings {
        fn settings(tenant: &TenantId) -> Result<Option<StoredSettings>>;
        fn put_settings(put: SettingsPut<'_>) -> Result<StoredSettings>;
        fn settings_history(tenant: &TenantId, query: HistoryQuery) -> Result<Vec<SettingsChange>>;
        fn settings_versions() -> Result<Vec<(TenantId, u64)>>;
    }

    impl ChannelSecrets {
        fn put_channel_secret(slot: &SecretSlot, secret: Option<&SealedSecret>) -> Result<()>;
        fn channel_secret(slot: &SecretSlot) -> Result<Option<SealedSecret>>;
        fn sealed_secrets(after: Option<&SecretSlot>, limit: u32) -> Result<Vec<(SecretSlot, SealedSecret)>>;
        fn put_tenant_secret(slot: &TenantSecretSlot, secret: Option<&SealedSecret>) -> Result<()>;
        fn tenant_secret(slot: &TenantSecretSlot) -> Result<Option<SealedSecret>>;
        fn tenant_secret_names(tenant: &TenantId) -> Result<Vec<String>>;
        fn sealed_tenant_secrets(after: Option<&TenantSecretSlot>, limit: u32) -> Result<Vec<(TenantSecretSlot, SealedSecret)>>;
    }

    impl Outreach {
        fn put_broadcast(broadcast: &crate::model::Broadcast, expected: Option<u64>) -> Result<()>;
        fn broadcast(tenant: &TenantId, id: &crate::BroadcastId) -> Result<crate::model::Broadcast>;
        fn broadcasts(tenant: &TenantId) -> Result<Vec<crate::model::Broadcast>>;
        fn due_broadcasts(now: DateTime<Utc>, limit: u32) -> Result<Vec<crate::model::Broadcast>>;
        fn add_recipients(tenant: &TenantId, broadcast: &crate::BroadcastId, recipients: &[crate::model::Recipient]) -> Result<u32>;
        fn claim_recipients(tenant: &TenantId, broadcast: &crate::BroadcastId, now: DateTime<Utc>, until: DateTime<Utc>, limit: u32) -> Result<Vec<crate::ports::RecipientClaim>>;
        fn settle_recipient(claim: &crate::ports::RecipientClaim, outcome: &crate::ports::RecipientOutcome) -> Result<()>;
        fn recipients(tenant: &TenantId, broadcast: &crate::BroadcastId, after: Option<&ContactId>, limit: u32) -> Result<Vec<crate::model::Recipient>>;
        fn recipient_counts(tenant: &TenantId, broadcast: &crate::BroadcastId) -> Result<crate::model::RecipientCounts>;
        fn segment_contacts(tenant: &TenantId, segment: &crate::model::Segment, after: Option<&ContactId>, limit: u32) -> Result<Vec<Contact>>;
    }

    impl ReadMarkers {
        fn mark_read(tenant: &TenantId, agent: &AgentId, conversation: &ConversationId, seen: u32) -> Result<u32>;
        fn read_markers(tenant: &TenantId, agent: &AgentId, conversations: &[ConversationId]) -> Result<HashMap<ConversationId, u32>>;
    }

    impl Access {
        fn set_password_hash(tenant: &TenantId, agent: &AgentId, phc: Option<&str>) -> Result<()>;
        fn password_hash(tenant: &TenantId, agent: &AgentId) -> Result<Option<Secret>>;
        fn create_session(session: &SessionRecord) -> Result<()>;
        fn session(token_hash: &TokenHash) -> Result<Option<SessionRecord>>;
        fn touch_session(tenant: &TenantId, token_hash: &TokenHash, at: DateTime<Utc>) -> Result<()>;
        fn revoke_session(tenant: &TenantId, token_hash: &TokenHash) -> Result<bool>;
        fn revoke_agent_sessions(tenant: &TenantId, agent: &AgentId, except: Option<&TokenHash>) -> Result<u64>;
        fn sessions(tenant: &TenantId, agent: Option<&AgentId>) -> Result<Vec<SessionRecord>>;
        fn purge_sessions(before: DateTime<Utc>) -> Result<u64>;
        fn create_api_key(key: &ApiKeyRecord) -> Result<()>;
        fn api_key(id: &ApiKeyId) -> Result<Option<ApiKeyRecord>>;
        fn api_keys(tenant: &TenantId) -> Result<Vec<ApiKeyRecord>>;
        fn revoke_api_key(tenant: &TenantId, id: &ApiKeyId, at: DateTime<Utc>) -> Result<ApiKeyRecord>;
        fn touch_api_key(tenant: &TenantId, id: &ApiKeyId, at: DateTime<Utc>) -> Result<()>;
    }
}
