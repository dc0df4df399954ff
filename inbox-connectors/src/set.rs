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
use crate::shopify::{Shopify, ShopifyAuth};
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
    sections: Mutex<HashMap<TenantId, (DateTime<Utc>, ConnectorsSection)>>,
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
                sections: Mutex::new(HashMap::new()),
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
        let section = self
            .section(tenant)
            .await
            .map_err(|reason| ConnectorError::Unavailable {
                connector: kind,
                reason,
            })?;
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
        self.lock_sections().remove(tenant);
        self.inner.cards.forget(|(t, _, _)| t == tenant);
    }

    /// The cards of every enabled connector of the tenant about the
    /// contact, each connector's answer or the reason it has none.
    pub async fn context(&self, tenant: &TenantId, contact: &Contact) -> Vec<ContextCard> {
        let kinds = match self.enabled(tenant).await {
            Ok(kinds) => kinds,
            Err(reason) => {
                return vec![ContextCard {
                    source: "Connectors".into(),
                    title: "Connectors".into(),
                    problem: Some(reason),
                    fetched_at: Some(self.inner.clock.now()),
                    ..Default::default()
                }]
            }
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

    async fn enabled(&self, tenant: &TenantId) -> Result<Vec<ConnectorKind>, String> {
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
            (Some(fresh), _) => shown(kind, fresh.value, fresh.fetched_at),
            // Slow: the last answer, with a word that it is being refreshed.
            (None, Some(old)) if old.value.is_ok() => {
                let mut cards = shown(kind, old.value, old.fetched_at);
                cards.push(pending_card(kind, now, "is slow to refresh"));
                cards
            }
            (None, _) => vec![pending_card(kind, now, "is slow to answer")],
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

    /// The tenant's `connectors` section, read again after
    /// `settings_kept_for` (or [`Connectors::forget`]).
    async fn section(&self, tenant: &TenantId) -> Result<ConnectorsSection, String> {
        let now = self.inner.clock.now();
        let kept = TimeDelta::from_std(self.inner.options.settings_kept_for).unwrap_or_default();
        if let Some((at, section)) = self.lock_sections().get(tenant) {
            if *at <= now && now - *at < kept {
                return Ok(section.clone());
            }
        }
        let stored = self
            .inner
            .store
            .settings(tenant)
            .await
            .map_err(|e| format!("the inbox could not read the tenant's settings: {e}"))?;
        let section = stored.map(|s| s.document.connectors).unwrap_or_default();
        self.lock_sections()
            .insert(tenant.clone(), (now, section.clone()));
        Ok(section)
    }

    fn lock_sections(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<TenantId, (DateTime<Utc>, ConnectorsSection)>> {
        self.inner
            .sections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
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
                let auth = match creds.get("token") {
                    Some(token) => ShopifyAuth::Token(token.clone()),
                    None => ShopifyAuth::ClientCredentials {
                        client_id: cred("client_id"),
                        client_secret: cred("client_secret"),
                    },
                };
                let clock = self.inner.clock.clone();
                Arc::new(Shopify::with_auth(s, auth, api, base, version, clock))
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
/// fetched; a failure as one card saying why.
fn shown(kind: ConnectorKind, answer: Answer, fetched_at: DateTime<Utc>) -> Vec<ContextCard> {
    let mut cards = match answer {
        Ok(cards) => cards,
        Err(e) => return vec![problem_card(kind, &e, fetched_at)],
    };
    for card in &mut cards {
        card.source = kind.to_string();
        card.fetched_at = Some(fetched_at);
    }
    cards
}

/// The card that says a provider has not answered yet: its answer is
/// kept when it comes, so the front end asks again shortly
/// (`extra.pending`).
fn pending_card(kind: ConnectorKind, at: DateTime<Utc>, what: &str) -> ContextCard {
    let mut card = ContextCard {
        source: kind.to_string(),
        title: kind.to_string(),
        problem: Some(format!(
            "{kind} {what}; its answer shows here when it arrives"
        )),
        fetched_at: Some(at),
        ..Default::default()
    };
    card.extra.insert("pending".into(), "true".into());
    card
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
