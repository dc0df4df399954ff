//! A tenant's connectors, built from its settings and credentials, as the
//! inbox's customer context: every enabled connector asked at once, each
//! answer cached for a short while, and a view never kept waiting longer
//! than its deadline by a slow or failing provider.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

use inbox_core::model::Contact;
use inbox_core::ports::{Clock, ContextCard, ContextError, CustomerContext, Store};
use inbox_core::settings::ConnectorsSection;
use inbox_core::{ContactId, Secret, TenantId};

use crate::cache::Cache;
use crate::hubspot::HubSpot;
use crate::secrets::credentials;
use crate::shopify::Shopify;
use crate::zoho::{Zoho, ZohoCredentials};
use crate::{
    Api, CallPolicy, Connector, ConnectorError, ConnectorKind, ConnectorSecrets, Customer,
    Endpoints,
};

/// How the connectors of every tenant are run.
#[derive(Debug, Clone)]
pub struct ConnectorOptions {
    /// Where the providers are.
    pub endpoints: Endpoints,
    /// Timeouts, retries and pacing of each call.
    pub policy: CallPolicy,
    /// How long an answer is shown without asking again.
    pub fresh_for: Duration,
    /// How long a failure is shown without asking again (a provider that
    /// is down is not asked on every view).
    pub failure_kept_for: Duration,
    /// The longest a view waits for a provider: past it the view shows the
    /// last answer (or says the provider is slow) and the answer, when it
    /// comes, is kept for the next view.
    pub view_deadline: Duration,
    /// How long a tenant's settings and credentials are used before they
    /// are read again (changes made through [`Connectors::forget`] apply at
    /// once; another instance's within this).
    pub settings_kept_for: Duration,
}

impl Default for ConnectorOptions {
    fn default() -> Self {
        Self {
            endpoints: Endpoints::default(),
            policy: CallPolicy::default(),
            fresh_for: Duration::from_secs(60),
            failure_kept_for: Duration::from_secs(15),
            view_deadline: Duration::from_secs(2),
            settings_kept_for: Duration::from_secs(5),
        }
    }
}

type CardsKey = (TenantId, ConnectorKind, ContactId);
type Answer = Result<Vec<ContextCard>, ConnectorError>;

/// A built connector and what it was built from.
struct Built {
    checked_at: DateTime<Utc>,
    from: Option<(serde_json::Value, BTreeMap<&'static str, Secret>)>,
    connector: Result<Option<Arc<dyn Connector>>, ConnectorError>,
}

struct Inner {
    store: Arc<dyn Store>,
    secrets: Arc<dyn ConnectorSecrets>,
    clock: Arc<dyn Clock>,
    options: ConnectorOptions,
    client: reqwest::Client,
    built: Mutex<HashMap<(TenantId, ConnectorKind), Built>>,
    cards: Cache<CardsKey, Answer>,
    inflight: Mutex<HashMap<CardsKey, watch::Receiver<bool>>>,
}

/// Every tenant's connectors: the [`CustomerContext`] to give the inbox
/// (`inbox.set_customer_context(Arc::new(connectors))`), and the way to
/// reach one tenant's connector (to check it, or to log on the CRM).
/// Cheap to clone.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<dyn inbox_core::ports::Store>, clock: std::sync::Arc<dyn inbox_core::ports::Clock>, inbox: inbox_core::Inbox) {
/// use std::sync::Arc;
/// use inbox_connectors::{ConnectorOptions, Connectors, StaticConnectorSecrets};
/// let secrets = Arc::new(StaticConnectorSecrets::new());
/// let connectors = Connectors::new(store, secrets, clock, ConnectorOptions::default());
/// inbox.set_customer_context(Arc::new(connectors.clone()));
/// # }
/// ```
#[derive(Clone)]
pub struct Connectors {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Connectors {
    /// Connectors reading tenants' settings from `store` and their
    /// credentials from `secrets`, timed by `clock`.
    pub fn new(
        store: Arc<dyn Store>,
        secrets: Arc<dyn ConnectorSecrets>,
        clock: Arc<dyn Clock>,
        options: ConnectorOptions,
    ) -> Self {
        let ttl = TimeDelta::from_std(options.fresh_for).unwrap_or(TimeDelta::seconds(60));
        Self {
            inner: Arc::new(Inner {
                store,
                secrets,
                clock,
                client: reqwest::Client::new(),
                built: Mutex::new(HashMap::new()),
                cards: Cache::new(ttl),
                inflight: Mutex::new(HashMap::new()),
                options,
            }),
        }
    }

    /// The tenant's connector of this kind, built from its settings and
    /// credentials (`None`: not in its settings, or disabled).
    pub async fn connector(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
    ) -> Result<Option<Arc<dyn Connector>>, ConnectorError> {
        let now = self.inner.clock.now();
        let kept = TimeDelta::from_std(self.inner.options.settings_kept_for).unwrap_or_default();
        let key = (tenant.clone(), kind);
        if let Some(b) = self.lock_built().get(&key) {
            if now - b.checked_at < kept && b.checked_at <= now {
                return b.connector.clone();
            }
        }
        let section = self.section(tenant).await?;
        let from = self.source(tenant, kind, &section).await;
        let mut built = self.lock_built();
        if let Some(b) = built.get_mut(&key) {
            if b.from == from.as_ref().ok().cloned().flatten() && b.connector.is_ok() {
                b.checked_at = now;
                return b.connector.clone();
            }
        }
        let connector = match &from {
            Ok(Some((_, creds))) => self.build(kind, &section, creds).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e.clone()),
        };
        let from = from.ok().flatten();
        built.insert(
            key,
            Built {
                checked_at: now,
                from,
                connector: connector.clone(),
            },
        );
        connector
    }

    /// Calls the provider once with the tenant's credentials: what the
    /// admin's "check" button says.
    pub async fn check(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
    ) -> Result<(), ConnectorError> {
        match self.connector(tenant, kind).await? {
            Some(c) => c.check().await,
            None => Err(ConnectorError::NotConfigured {
                connector: kind,
                what: format!(
                    "no {} section in the settings, or it is disabled",
                    kind.id()
                ),
            }),
        }
    }

    /// Forgets what was built and cached for a tenant: call after its
    /// settings or credentials changed.
    pub fn forget(&self, tenant: &TenantId) {
        self.lock_built().retain(|(t, _), _| t != tenant);
        self.inner.cards.forget(|(t, _, _)| t == tenant);
    }

    /// The cards of every enabled connector of the tenant about the
    /// contact, each connector's answer or the reason it has none.
    pub async fn context(&self, tenant: &TenantId, contact: &Contact) -> Vec<ContextCard> {
        let kinds = match self.enabled(tenant).await {
            Ok(kinds) => kinds,
            Err(e) => return vec![problem_card(e.connector(), &e, self.inner.clock.now())],
        };
        let asked = kinds
            .into_iter()
            .map(|kind| self.cards_of(tenant, kind, contact));
        futures_util::future::join_all(asked)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn enabled(&self, tenant: &TenantId) -> Result<Vec<ConnectorKind>, ConnectorError> {
        let section = self.section(tenant).await?;
        Ok(ConnectorKind::ALL
            .into_iter()
            .filter(|k| settings_of(&section, *k).is_some_and(|(_, on)| on))
            .collect())
    }

    async fn cards_of(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
        contact: &Contact,
    ) -> Vec<ContextCard> {
        let key = (tenant.clone(), kind, contact.id.clone());
        let now = self.inner.clock.now();
        let cached = self.inner.cards.get(&key);
        let answer = match &cached {
            Some(c) if self.still_good(&c.value, c.fetched_at, now) => Some(c.clone()),
            _ => self.fetch(key.clone(), Customer::of(contact)).await,
        };
        let now = self.inner.clock.now();
        match (answer, cached) {
            (Some(fresh), _) => shown(kind, fresh.value, fresh.fetched_at, None),
            // Slow: the last answer, with a word that it is being refreshed.
            (None, Some(old)) if old.value.is_ok() => {
                let slow = self.slow(kind);
                shown(kind, old.value, old.fetched_at, Some((slow, now)))
            }
            (None, _) => {
                let mut card = problem_card(kind, &self.slow(kind), now);
                card.extra.insert("pending".into(), "true".into());
                vec![card]
            }
        }
    }

    fn slow(&self, kind: ConnectorKind) -> ConnectorError {
        ConnectorError::Timeout {
            connector: kind,
            after: self.inner.options.view_deadline,
        }
    }

    fn still_good(&self, answer: &Answer, fetched_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        match answer {
            Ok(_) => self.inner.cards.fresh(fetched_at, now),
            Err(_) => {
                let kept =
                    TimeDelta::from_std(self.inner.options.failure_kept_for).unwrap_or_default();
                fetched_at <= now && now - fetched_at < kept
            }
        }
    }

    /// Asks the provider (once, however many views wait), waiting at most
    /// the view's deadline; the answer is cached whenever it comes.
    async fn fetch(
        &self,
        key: CardsKey,
        customer: Customer,
    ) -> Option<crate::cache::Cached<Answer>> {
        let mut done = {
            let mut inflight = self
                .inner
                .inflight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match inflight.get(&key) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(false);
                    inflight.insert(key.clone(), rx.clone());
                    let this = self.clone();
                    let key = key.clone();
                    tokio::spawn(async move {
                        let answer = this.ask(&key, &customer).await;
                        let at = this.inner.clock.now();
                        this.inner.cards.put(key.clone(), at, answer);
                        this.inner
                            .inflight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&key);
                        let _ = tx.send(true);
                    });
                    rx
                }
            }
        };
        let deadline = self.inner.options.view_deadline;
        let finished = tokio::time::timeout(deadline, done.wait_for(|d| *d)).await;
        match finished {
            Ok(_) => self.inner.cards.get(&key),
            Err(_) => None,
        }
    }

    async fn ask(&self, key: &CardsKey, customer: &Customer) -> Answer {
        let (tenant, kind, _) = key;
        let connector = self.connector(tenant, *kind).await?;
        match connector {
            Some(c) => c.cards(customer).await,
            None => Ok(Vec::new()),
        }
    }

    async fn section(&self, tenant: &TenantId) -> Result<ConnectorsSection, ConnectorError> {
        match self.inner.store.settings(tenant).await {
            Ok(stored) => Ok(stored.map(|s| s.document.connectors).unwrap_or_default()),
            Err(e) => Err(ConnectorError::Credentials {
                connector: ConnectorKind::HubSpot,
                reason: format!("the tenant's settings could not be read: {e}"),
            }),
        }
    }

    /// What a connector is built from: its settings (as JSON, to compare)
    /// and its credentials; `None` when not set or disabled.
    async fn source(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
        section: &ConnectorsSection,
    ) -> Result<Option<(serde_json::Value, BTreeMap<&'static str, Secret>)>, ConnectorError> {
        let Some((json, true)) = settings_of(section, kind) else {
            return Ok(None);
        };
        let creds = credentials(&*self.inner.secrets, tenant, kind).await?;
        Ok(Some((json, creds)))
    }

    fn build(
        &self,
        kind: ConnectorKind,
        section: &ConnectorsSection,
        creds: &BTreeMap<&'static str, Secret>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        let o = &self.inner.options;
        let api = Api::new(kind, self.inner.client.clone(), o.policy.clone());
        let cred = |name: &str| creds.get(name).cloned().unwrap_or_else(|| Secret::new(""));
        let missing = |what: &str| ConnectorError::NotConfigured {
            connector: kind,
            what: what.into(),
        };
        Ok(match kind {
            ConnectorKind::HubSpot => {
                let s = section
                    .hubspot
                    .clone()
                    .ok_or_else(|| missing("no settings"))?;
                Arc::new(HubSpot::new(
                    s,
                    cred("token"),
                    api,
                    o.endpoints.hubspot.clone(),
                ))
            }
            ConnectorKind::Zoho => {
                let s = section.zoho.clone().ok_or_else(|| missing("no settings"))?;
                let credentials = ZohoCredentials {
                    client_id: cred("client_id"),
                    client_secret: cred("client_secret"),
                    refresh_token: cred("refresh_token"),
                };
                let (accounts, base) = (
                    o.endpoints.zoho_accounts(s.data_center),
                    o.endpoints.zoho_api(s.data_center),
                );
                let clock = self.inner.clock.clone();
                Arc::new(Zoho::new(s, credentials, api, accounts, base, clock))
            }
            ConnectorKind::Shopify => {
                let s = section
                    .shopify
                    .clone()
                    .ok_or_else(|| missing("no settings"))?;
                let base = o
                    .endpoints
                    .shopify(&s.shop)
                    .ok_or_else(|| missing("the shop's domain is not valid"))?;
                let version = o.endpoints.shopify_api_version.clone();
                Arc::new(Shopify::new(s, cred("token"), api, base, version))
            }
        })
    }

    fn lock_built(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, ConnectorKind), Built>> {
        self.inner.built.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connector's settings as JSON and whether it is enabled.
fn settings_of(
    section: &ConnectorsSection,
    kind: ConnectorKind,
) -> Option<(serde_json::Value, bool)> {
    let (json, on) = match kind {
        ConnectorKind::HubSpot => section
            .hubspot
            .as_ref()
            .map(|s| (serde_json::to_value(s), s.enabled))?,
        ConnectorKind::Zoho => section
            .zoho
            .as_ref()
            .map(|s| (serde_json::to_value(s), s.enabled))?,
        ConnectorKind::Shopify => section
            .shopify
            .as_ref()
            .map(|s| (serde_json::to_value(s), s.enabled))?,
    };
    Some((json.unwrap_or_default(), on))
}

/// An answer as cards: each stamped with the connector and when it was
/// fetched; a failure as one card saying why; `slow` adds that the answer
/// shown is being refreshed.
fn shown(
    kind: ConnectorKind,
    answer: Answer,
    fetched_at: DateTime<Utc>,
    slow: Option<(ConnectorError, DateTime<Utc>)>,
) -> Vec<ContextCard> {
    let mut cards = match answer {
        Ok(cards) => cards,
        Err(e) => return vec![problem_card(kind, &e, fetched_at)],
    };
    for card in &mut cards {
        card.source = kind.to_string();
        card.fetched_at = Some(fetched_at);
    }
    if let Some((e, now)) = slow {
        let mut card = problem_card(kind, &e, now);
        card.extra.insert("pending".into(), "true".into());
        cards.push(card);
    }
    cards
}

/// The card that says a connector could not answer, and why.
fn problem_card(kind: ConnectorKind, e: &ConnectorError, at: DateTime<Utc>) -> ContextCard {
    ContextCard {
        source: kind.to_string(),
        title: kind.to_string(),
        problem: Some(e.to_string()),
        fetched_at: Some(at),
        ..Default::default()
    }
}

#[async_trait]
impl CustomerContext for Connectors {
    async fn cards(
        &self,
        tenant: &TenantId,
        contact: &Contact,
    ) -> Result<Vec<ContextCard>, ContextError> {
        Ok(self.context(tenant, contact).await)
    }
}
