//! How the connector authenticates to the shop: a custom app's Admin API
//! access token (apps made in the Shopify admin before 2026), or a Dev
//! Dashboard app's client id and secret, exchanged for an access token
//! with the client credentials grant
//! (<https://shopify.dev/docs/apps/build/authentication-authorization/client-credentials-grant>:
//! `POST https://{shop}/admin/oauth/access_token`, a form with
//! `grant_type=client_credentials`, `client_id`, `client_secret`; the
//! answer's `access_token` lasts `expires_in` seconds, about a day).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::sync::Arc;
use url::Url;

use inbox_core::ports::Clock;
use inbox_core::Secret;

use crate::{Api, ConnectorError, ConnectorKind};

/// A token is renewed this long before it expires.
const RENEW_BEFORE: TimeDelta = TimeDelta::minutes(5);

/// What the shop's app gave to authenticate with. `Debug` shows no value.
#[derive(Debug, Clone)]
pub enum ShopifyAuth {
    /// An Admin API access token (`shpat_...`) that does not expire.
    Token(Secret),
    /// A Dev Dashboard app's client credentials: access tokens are asked
    /// for, kept until shortly before they expire, and asked for again.
    ClientCredentials {
        /// The app's client id.
        client_id: Secret,
        /// The app's client secret.
        client_secret: Secret,
    },
}

/// The grant's answer.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// The access token to send, asked for when needed.
pub(super) struct Tokens {
    auth: ShopifyAuth,
    api: Api,
    grant_url: Option<Url>,
    clock: Arc<dyn Clock>,
    current: tokio::sync::Mutex<Option<(Secret, DateTime<Utc>)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    pub(super) fn new(auth: ShopifyAuth, api: Api, base: &Url, clock: Arc<dyn Clock>) -> Self {
        Self {
            auth,
            api,
            grant_url: base.join("admin/oauth/access_token").ok(),
            clock,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Whether a refused token may be renewed (granted ones may).
    pub(super) fn renewable(&self) -> bool {
        matches!(self.auth, ShopifyAuth::ClientCredentials { .. })
    }

    /// The token to send now.
    pub(super) async fn get(&self) -> Result<Secret, ConnectorError> {
        if let ShopifyAuth::Token(token) = &self.auth {
            return Ok(token.clone());
        }
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        if let Some((token, until)) = current.as_ref() {
            if now + RENEW_BEFORE < *until {
                return Ok(token.clone());
            }
        }
        let (token, until) = self.grant().await?;
        *current = Some((token.clone(), until));
        Ok(token)
    }

    /// A new token after `refused` was refused (unless another call
    /// renewed it meanwhile).
    pub(super) async fn renew(&self, refused: &Secret) -> Result<Secret, ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some((token, _)) = current.as_ref() {
            if token.expose() != refused.expose() {
                return Ok(token.clone());
            }
        }
        let (token, until) = self.grant().await?;
        *current = Some((token.clone(), until));
        Ok(token)
    }

    async fn grant(&self) -> Result<(Secret, DateTime<Utc>), ConnectorError> {
        let ShopifyAuth::ClientCredentials {
            client_id,
            client_secret,
        } = &self.auth
        else {
            return Err(no_client());
        };
        let url = self
            .grant_url
            .clone()
            .ok_or_else(|| ConnectorError::NotConfigured {
                connector: ConnectorKind::Shopify,
                what: "the shop's address is not valid".into(),
            })?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.expose()),
            ("client_secret", client_secret.expose()),
        ];
        let granted: Granted = self
            .api
            .json("the access token grant", |c| {
                c.post(url.clone()).form(&form)
            })
            .await
            .map_err(|e| match e {
                // A refused client: say so as a credentials problem.
                ConnectorError::Rejected { status, .. } => ConnectorError::Auth {
                    connector: ConnectorKind::Shopify,
                    status,
                },
                other => other,
            })?;
        let lasts = TimeDelta::seconds(granted.expires_in.unwrap_or(86_400).clamp(60, 86_400 * 7));
        Ok((Secret::new(granted.access_token), self.clock.now() + lasts))
    }
}

/// A token auth asked for a grant: a bug, said as a configuration error.
fn no_client() -> ConnectorError {
    ConnectorError::NotConfigured {
        connector: ConnectorKind::Shopify,
        what: "no client credentials to ask a token with".into(),
    }
}
