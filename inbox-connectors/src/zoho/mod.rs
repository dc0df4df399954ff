//! Zoho CRM (REST API v7): the lead or contact found by phone (then
//! e-mail) in the modules the tenant chose, with its status or its open
//! deals' stages, owner and company; conversations written as notes on it.
//!
//! Every call carries `Authorization: Zoho-oauthtoken <access token>`
//! (<https://www.zoho.com/crm/developer/docs/api/v7/search-records.html>,
//! "Header"); the access token comes from the Self Client's refresh token
//! (`auth.rs`). A 401 (Zoho's `INVALID_TOKEN`: a token revoked or expired
//! early) makes one refresh and one retry; the [`Api`] does not hand over
//! a 401's body, so any 401 does (a missing scope costs one refresh more).
//!
//! Rate limits: Zoho answers `429` with `{"code": "TOO_MANY_REQUESTS"}`
//! past its concurrency limits (help.zoho.com, "Kaizen #203 - Handling
//! API Limits and Error Responses"); the org's API credits are a 24-hour
//! allowance (<https://www.zoho.com/crm/developer/docs/api/v7/api-limits.html>).
//! The [`Api`] retries a 429 with its bounded backoff, honouring
//! `Retry-After` when present: Zoho documents no other wait header, and no
//! separate code for spent credits could be found, so a 429 for spent
//! credits is retried like the others (a few tries, then `RateLimited`).

mod auth;
mod cards;
mod log;
mod search;
mod wire;

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use url::Url;

use inbox_core::ports::Clock;
use inbox_core::ports::ContextCard;
use inbox_core::settings::ZohoSettings;
use inbox_core::Secret;

use crate::{Answer, Api, Connector, ConnectorError, ConnectorKind, Customer, LogEntry, Logged};

use auth::Tokens;

/// The API version the connector speaks (its paths are `/crm/v7/…`).
const VERSION: &str = "v7";

/// A Zoho Self Client's OAuth credentials (`Debug` shows none of them).
#[derive(Debug, Clone)]
pub struct ZohoCredentials {
    /// The client id.
    pub client_id: Secret,
    /// The client secret.
    pub client_secret: Secret,
    /// The refresh token (made for the scopes in `docs/zoho.md`).
    pub refresh_token: Secret,
}

/// The Zoho connector of one tenant.
pub struct Zoho {
    settings: ZohoSettings,
    api: Api,
    base: Url,
    tokens: Result<Tokens, ConnectorError>,
}

/// Zoho's [`Classify`](crate::Classify): a 401 whose `code` is
/// `OAUTH_SCOPE_MISMATCH` is a scope the refresh token was not made for (a
/// new token is made in the API console, not by renewing this one);
/// other answers go by their status.
///
/// ```
/// use inbox_connectors::zoho::classify;
/// use reqwest::header::HeaderMap;
/// let body = br#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#;
/// assert!(classify(401, &HeaderMap::new(), body).unwrap().to_string().contains("scope"));
/// assert!(classify(401, &HeaderMap::new(), br#"{"code":"INVALID_TOKEN"}"#).is_none());
/// ```
pub fn classify(
    status: u16,
    _: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Option<ConnectorError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    (status == 401 && v.get("code").and_then(|c| c.as_str()) == Some("OAUTH_SCOPE_MISMATCH")).then(
        || ConnectorError::NotConfigured {
            connector: ConnectorKind::Zoho,
            what: "the refresh token lacks a scope this needs (OAUTH_SCOPE_MISMATCH): \
                   make a new one with the scopes in docs/zoho.md"
                .into(),
        },
    )
}

impl std::fmt::Debug for Zoho {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zoho")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Zoho {
    /// The connector with the tenant's settings and OAuth client, a
    /// caller, the accounts server and the CRM API's address, and the clock
    /// access tokens expire by.
    pub fn new(
        settings: ZohoSettings,
        credentials: ZohoCredentials,
        api: Api,
        accounts: Url,
        base: Url,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let tokens = Tokens::new(credentials, api.clone(), &accounts, clock);
        Self {
            settings,
            api: api.with_classifier(classify),
            base,
            tokens,
        }
    }

    fn tokens(&self) -> Result<&Tokens, ConnectorError> {
        self.tokens.as_ref().map_err(Clone::clone)
    }

    /// `{base}/crm/v7/{path}`.
    fn api_url(&self, path: &str) -> Result<Url, ConnectorError> {
        self.base
            .join(&format!("crm/{VERSION}/{path}"))
            .map_err(|e| ConnectorError::NotConfigured {
                connector: ConnectorKind::Zoho,
                what: format!("the API's address is not valid: {e}"),
            })
    }

    /// A record's id, checked to be Zoho's (digits) before it goes in a
    /// path.
    fn record_id<'r>(&self, record: &'r wire::Record) -> Result<&'r str, ConnectorError> {
        let id = record.id.as_str();
        if !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(id)
        } else {
            Err(ConnectorError::BadResponse {
                connector: ConnectorKind::Zoho,
                what: "the record search",
                reason: "a record's id is not a Zoho id".into(),
            })
        }
    }

    /// Sends the request `make` builds with the access token; after a 401
    /// the token is renewed once and the request sent once more.
    async fn call(
        &self,
        what: &'static str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ConnectorError> {
        self.call_with(&self.api, what, make).await
    }

    /// [`Zoho::call`] through `api` (the connector's, or its
    /// [`Api::creating`] for a request that writes a record).
    async fn call_with(
        &self,
        api: &Api,
        what: &'static str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ConnectorError> {
        let tokens = self.tokens()?;
        let token = tokens.get().await?;
        match self.send_with(api, what, &make, &token).await {
            Err(ConnectorError::Auth { status: 401, .. }) => {
                let renewed = tokens.renew(&token).await?;
                self.send_with(api, what, &make, &renewed).await
            }
            other => other,
        }
    }

    async fn send_with(
        &self,
        api: &Api,
        what: &'static str,
        make: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        token: &Secret,
    ) -> Result<Answer, ConnectorError> {
        let header = format!("Zoho-oauthtoken {}", token.expose());
        api.send(what, |c| make(c).header(AUTHORIZATION, header.as_str()))
            .await
    }

    /// An answer's JSON; an empty body (Zoho's 204) is `T::default()`.
    fn read<T: DeserializeOwned + Default>(
        &self,
        answer: &Answer,
        what: &'static str,
    ) -> Result<T, ConnectorError> {
        if answer.status == 204 || answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        answer.json(ConnectorKind::Zoho, what)
    }
}

#[async_trait]
impl Connector for Zoho {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Zoho
    }

    async fn cards(&self, customer: &Customer) -> Result<Vec<ContextCard>, ConnectorError> {
        if !customer.is_findable() {
            return Ok(vec![cards::not_found(customer)]);
        }
        Ok(match self.find(customer).await? {
            Some(found) => vec![self.card(&found).await],
            None => vec![cards::not_found(customer)],
        })
    }

    async fn log(&self, entry: &LogEntry) -> Result<Logged, ConnectorError> {
        self.write_note(entry).await
    }

    /// `GET /crm/v7/users?type=CurrentUser`
    /// (<https://www.zoho.com/crm/developer/docs/api/v7/get-users.html>).
    async fn check(&self) -> Result<(), ConnectorError> {
        let url = self.api_url("users")?;
        self.call("the current user", |c| {
            c.get(url.clone()).query(&[("type", "CurrentUser")])
        })
        .await
        .map(drop)
    }
}
