//! Zoho's OAuth: a Self Client's refresh token traded for an access token
//! at the data centre's accounts server, kept until shortly before it
//! expires (by the inbox's clock) and shared by concurrent calls.
//!
//! The request is the one Zoho documents for refreshing, with the
//! parameters in a form body (never in the URL, which could be logged):
//! <https://www.zoho.com/crm/developer/docs/api/v7/refresh.html>, and
//! "for security reasons, pass the parameters in the body of your request"
//! (<https://www.zoho.com/assist/api/generate-access-token.html>); Zoho's
//! own SDK posts them as a form (zohocrm-python-sdk-8.0, `oauth_token.py`).
//! The answer is `{"access_token", "expires_in", "api_domain",
//! "token_type"}`, or a 200 with `{"error": "invalid_code"}` (or
//! `invalid_client`) when the grant is refused. `api_domain` is not
//! followed: the API's address is the process's (`Endpoints`, by the
//! tenant's data centre), never one an answer names.

use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use tokio::sync::Mutex;
use url::Url;

use inbox_core::ports::Clock;
use inbox_core::Secret;

use crate::{Api, ConnectorError, ConnectorKind};

use super::ZohoCredentials;

/// How long before its expiry an access token is renewed.
const MARGIN: TimeDelta = TimeDelta::seconds(60);

/// An access token and when it stops being used.
struct Token {
    value: Secret,
    renew_at: DateTime<Utc>,
}

/// The tenant's access token, renewed when needed, one refresh at a time.
pub(crate) struct Tokens {
    credentials: ZohoCredentials,
    api: Api,
    token_url: Url,
    clock: Arc<dyn Clock>,
    current: Mutex<Option<Token>>,
}

impl Tokens {
    pub(crate) fn new(
        credentials: ZohoCredentials,
        api: Api,
        accounts: &Url,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let token_url =
            accounts
                .join("oauth/v2/token")
                .map_err(|e| ConnectorError::NotConfigured {
                    connector: ConnectorKind::Zoho,
                    what: format!("the accounts server's address is not valid: {e}"),
                })?;
        Ok(Self {
            credentials,
            api,
            token_url,
            clock,
            current: Mutex::new(None),
        })
    }

    /// A valid access token: the one kept, or a new one. Callers waiting
    /// while another refreshes get the token that refresh brought.
    pub(crate) async fn get(&self) -> Result<Secret, ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            if self.clock.now() < token.renew_at {
                return Ok(token.value.clone());
            }
        }
        self.refresh(&mut current).await
    }

    /// A token other than `refused` (which the API answered 401 to): the
    /// one another call already renewed, or a new one.
    pub(crate) async fn renew(&self, refused: &Secret) -> Result<Secret, ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            if token.value != *refused && self.clock.now() < token.renew_at {
                return Ok(token.value.clone());
            }
        }
        self.refresh(&mut current).await
    }

    async fn refresh(&self, current: &mut Option<Token>) -> Result<Secret, ConnectorError> {
        *current = None;
        let asked_at = self.clock.now();
        let (value, lasts) = self.ask().await?;
        let renew_at = asked_at + lasts - MARGIN.min(lasts / 2);
        *current = Some(Token {
            value: value.clone(),
            renew_at,
        });
        Ok(value)
    }

    /// One refresh request, read.
    async fn ask(&self) -> Result<(Secret, TimeDelta), ConnectorError> {
        let c = &self.credentials;
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", c.client_id.expose()),
            ("client_secret", c.client_secret.expose()),
            ("refresh_token", c.refresh_token.expose()),
        ];
        let answer = self
            .api
            .send("the access token refresh", |client| {
                client.post(self.token_url.clone()).form(&form)
            })
            .await
            .map_err(refused_as_auth)?;
        read_token(&answer.body)
    }
}

/// A 4xx from the accounts server other than a rate limit says the
/// credentials are not accepted.
fn refused_as_auth(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Rejected {
            connector, status, ..
        } => ConnectorError::Auth { connector, status },
        other => other,
    }
}

/// The access token and how long it lasts from Zoho's answer. Errors name
/// what was wrong, never a value from the answer (it may hold a token).
pub(crate) fn read_token(body: &[u8]) -> Result<(Secret, TimeDelta), ConnectorError> {
    let bad = |reason: &str| ConnectorError::BadResponse {
        connector: ConnectorKind::Zoho,
        what: "the access token refresh",
        reason: reason.into(),
    };
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| bad("the answer is not JSON"))?;
    if json.get("error").is_some() {
        // `invalid_code`, `invalid_client`: Zoho answers these with a 200.
        return Err(ConnectorError::Auth {
            connector: ConnectorKind::Zoho,
            status: 0,
        });
    }
    let token = json
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("no access_token"))?;
    Ok((Secret::new(token), lifetime(&json)))
}

/// `expires_in` in seconds (an hour when absent or unreadable); answers
/// that also carry `expires_in_sec` give `expires_in` in milliseconds
/// (as Zoho's SDK reads them).
fn lifetime(json: &serde_json::Value) -> TimeDelta {
    let number = |key: &str| {
        json.get(key).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
    };
    let seconds = number("expires_in_sec")
        .or_else(|| number("expires_in"))
        .filter(|s| *s > 0)
        .unwrap_or(3600)
        .min(86_400);
    TimeDelta::seconds(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_and_refusals_are_auth() {
        let (t, d) = read_token(br#"{"access_token":"1000.x","expires_in":3600,"api_domain":"https://www.zohoapis.eu","token_type":"Bearer"}"#).unwrap();
        assert_eq!((t.expose(), d), ("1000.x", TimeDelta::hours(1)));
        let (_, d) =
            read_token(br#"{"access_token":"a","expires_in_sec":600,"expires_in":600000}"#)
                .unwrap();
        assert_eq!(d, TimeDelta::minutes(10));
        assert!(matches!(
            read_token(br#"{"error":"invalid_code"}"#),
            Err(ConnectorError::Auth { status: 0, .. })
        ));
        let e = read_token(br#"{"access_token":42}"#).unwrap_err();
        assert!(matches!(e, ConnectorError::BadResponse { .. }), "{e}");
        assert!(read_token(b"<html>").is_err());
    }
}
