use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::sync::Arc;

use super::{RecordingBus, RecordingTransport};
use crate::error::{Error, Result};
use crate::ids::{ChannelId, ConversationId, MessageId, TeamId, TenantId};
use crate::inbound::{InboundEvent, InboundMessage, IngestOutcome};
use crate::inbox::{Actor, Inbox, InboxConfig, Ports};
use crate::model::{Agent, Channel, ContactIdentity, Content, ReplyContext, Role, Team, Tenant};
use crate::ports::{ManualClock, SequentialIds, Store, StoredSettings};
use crate::routing::Routing;
use crate::settings::TenantSettings;

/// A provisioned inbox over a store under test, with a manual clock, a
/// recording transport and a recording bus.
///
/// Tenant `acme` has two numbers (`sales`, phone number id `1001`; `support`,
/// `1002`), two teams (`sales`, `support`) and five agents: `ana` and `ben`
/// (agents in sales, capacity 3), `cy` (agent in support), `sam`
/// (supervisor) and `ada` (admin). Tenant `globex` has number `2001` and
/// agent `gus` (admin).
pub struct Fixture {
    /// The inbox under test.
    pub inbox: Inbox,
    /// The store under test.
    pub store: Arc<dyn Store>,
    /// The clock; starts at 2026-03-02 09:00 UTC (a Monday).
    pub clock: Arc<ManualClock>,
    /// The transport.
    pub transport: Arc<RecordingTransport>,
    /// The bus.
    pub bus: Arc<RecordingBus>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").finish_non_exhaustive()
    }
}

/// Shorthand for ids in tests; panics on an invalid literal.
#[allow(clippy::expect_used)]
fn id<T: TryFrom<&'static str, Error = Error>>(s: &'static str) -> T {
    T::try_from(s).expect("valid id literal")
}

impl Fixture {
    /// The start of every fixture's clock.
    pub fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Provisions the fixture on `store` with the default configuration.
    pub async fn new(store: Arc<dyn Store>) -> Result<Self> {
        Self::with_config(store, InboxConfig::default()).await
    }

    /// Provisions the fixture on `store` with `config`.
    pub async fn with_config(store: Arc<dyn Store>, config: InboxConfig) -> Result<Self> {
        let f = Self::unprovisioned(store, config, "");
        f.provision().await?;
        Ok(f)
    }

    /// Provisions the fixture on `store` and gives `acme` the settings
    /// `settings`.
    pub async fn with_settings(store: Arc<dyn Store>, settings: TenantSettings) -> Result<Self> {
        let f = Self::new(store).await?;
        f.edit_settings(|doc| *doc = settings).await?;
        Ok(f)
    }

    /// Changes `acme`'s settings as the embedder would (checked, stored as
    /// a new version, recorded in the history): `edit` changes the
    /// document stored now.
    pub async fn edit_settings(
        &self,
        edit: impl FnOnce(&mut TenantSettings),
    ) -> Result<StoredSettings> {
        let tenant = self.acme();
        let (version, mut doc) = match self.store.settings(&tenant).await? {
            Some(s) => (s.version, s.document),
            None => (0, TenantSettings::default()),
        };
        edit(&mut doc);
        self.inbox.import_settings(&tenant, version, doc).await
    }

    /// Gives `acme` the routing and automation rules of `routing`, the
    /// rest of its settings unchanged.
    pub async fn set_routing(&self, routing: &Routing) -> Result<StoredSettings> {
        self.edit_settings(|doc| doc.routing = routing.spec().clone())
            .await
    }

    /// A fixture over an already provisioned store (a second application
    /// instance): ids get `prefix` so they never collide with the first.
    pub fn instance(store: Arc<dyn Store>, config: InboxConfig, prefix: &'static str) -> Self {
        Self::unprovisioned(store, config, prefix)
    }

    fn unprovisioned(store: Arc<dyn Store>, config: InboxConfig, prefix: &'static str) -> Self {
        let clock = Arc::new(ManualClock::new(Self::start()));
        let transport = Arc::new(if prefix.is_empty() {
            RecordingTransport::new()
        } else {
            RecordingTransport::with_prefix(prefix)
        });
        let bus = Arc::new(RecordingBus::new());
        let ids: Arc<dyn crate::ports::IdGenerator> = if prefix.is_empty() {
            Arc::new(SequentialIds::default())
        } else {
            Arc::new(Prefixed(prefix, SequentialIds::default()))
        };
        let inbox = Inbox::new(
            Ports {
                store: store.clone(),
                transport: transport.clone(),
                bus: bus.clone(),
                clock: clock.clone(),
                ids,
            },
            config,
        );
        Self {
            inbox,
            store,
            clock,
            transport,
            bus,
        }
    }

    async fn provision(&self) -> Result<()> {
        let acme: TenantId = id("acme");
        let globex: TenantId = id("globex");
        let i = &self.inbox;
        i.provision_tenant(&Tenant::new(acme.clone(), "Acme"))
            .await?;
        i.provision_tenant(&Tenant::new(globex.clone(), "Globex"))
            .await?;
        for (ch, pnid) in [("sales", "1001"), ("support", "1002")] {
            i.provision_channel(&Channel::new(
                acme.clone(),
                id(ch),
                pnid,
                format!("+34 600 {pnid}"),
            ))
            .await?;
        }
        i.provision_channel(&Channel::new(
            globex.clone(),
            id("main"),
            "2001",
            "+1 555 2001",
        ))
        .await?;
        for team in ["sales", "support"] {
            i.provision_team(&Team::new(acme.clone(), id(team), team))
                .await?;
        }
        let sales: TeamId = id("sales");
        let support: TeamId = id("support");
        let agents = [
            Agent::new(acme.clone(), id("ana"), "Ana", Role::Agent)
                .in_team(sales.clone())
                .with_capacity(3),
            Agent::new(acme.clone(), id("ben"), "Ben", Role::Agent)
                .in_team(sales.clone())
                .with_capacity(3),
            Agent::new(acme.clone(), id("cy"), "Cy", Role::Agent).in_team(support.clone()),
            Agent::new(acme.clone(), id("sam"), "Sam", Role::Supervisor)
                .in_team(sales)
                .in_team(support),
            Agent::new(acme.clone(), id("ada"), "Ada", Role::Admin),
            Agent::new(globex, id("gus"), "Gus", Role::Admin),
        ];
        for a in &agents {
            i.provision_agent(a).await?;
        }
        Ok(())
    }

    /// An acting agent of `acme` (or `globex` for `gus`).
    pub fn actor(&self, agent: &'static str) -> Actor {
        let tenant = if agent == "gus" { "globex" } else { "acme" };
        Actor::new(id(tenant), id(agent))
    }

    /// The tenant `acme`.
    pub fn acme(&self) -> TenantId {
        id("acme")
    }

    /// A channel id literal.
    pub fn channel(&self, name: &'static str) -> ChannelId {
        id(name)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// A customer text message to phone number id `pnid` from `wa_id`, sent
    /// now.
    pub fn text(&self, pnid: &str, external_id: &str, wa_id: &str, body: &str) -> InboundEvent {
        InboundEvent::Message(self.inbound(pnid, external_id, wa_id, Content::text(body)))
    }

    /// A customer message with any content.
    pub fn inbound(
        &self,
        pnid: &str,
        external_id: &str,
        wa_id: &str,
        content: Content,
    ) -> InboundMessage {
        InboundMessage {
            phone_number_id: pnid.to_string(),
            external_id: external_id.to_string(),
            from: ContactIdentity::wa(wa_id),
            profile_name: Some(format!("Customer {wa_id}")),
            username: None,
            timestamp: crate::ports::Clock::now(self.clock.as_ref()),
            content,
            context: ReplyContext::default(),
        }
    }

    /// Ingests a text message and returns the conversation and message it
    /// was stored in.
    pub async fn customer_says(
        &self,
        pnid: &str,
        external_id: &str,
        wa_id: &str,
        body: &str,
    ) -> Result<(ConversationId, MessageId)> {
        match self
            .inbox
            .ingest(self.text(pnid, external_id, wa_id, body))
            .await?
        {
            IngestOutcome::Stored {
                message,
                conversation,
                ..
            } => Ok((conversation, message.id)),
            other => Err(Error::InvalidState(format!(
                "expected the message to be stored, got {other:?}"
            ))),
        }
    }

    /// `actor` claims a conversation and replies to it; returns the
    /// version after the reply.
    pub async fn claim_and_reply(
        &self,
        actor: &Actor,
        conversation: &ConversationId,
        text: &str,
        key: &str,
    ) -> Result<u64> {
        let v = self.version(conversation).await?;
        let v = self
            .inbox
            .claim(actor, conversation, v)
            .await?
            .conversation
            .version;
        Ok(self
            .inbox
            .reply(actor, conversation, v, crate::inbox::Reply::text(text, key))
            .await?
            .conversation
            .version)
    }

    /// Settings with one wall-clock SLA policy, `std`: first response
    /// within `secs`, warned at 80%.
    pub fn first_response_sla(secs: i64) -> TenantSettings {
        let mut settings = TenantSettings::default();
        settings.sla.policies = vec![crate::sla::SlaPolicy {
            id: "std".into(),
            applies: Default::default(),
            first_response_secs: Some(secs),
            next_response_secs: None,
            resolution_secs: None,
            business_hours: false,
            warn_at_percent: 80,
            on_breach: vec![],
        }];
        settings
    }

    /// The stored version of a conversation.
    pub async fn version(&self, conversation: &ConversationId) -> Result<u64> {
        Ok(self
            .store
            .conversation(&self.acme(), conversation)
            .await?
            .version)
    }
}

struct Prefixed(&'static str, SequentialIds);

impl crate::ports::IdGenerator for Prefixed {
    fn next_id(&self, kind: &'static str) -> String {
        format!("{}-{}", self.0, self.1.next_id(kind))
    }
}
