//! One GraphQL call to a shop's Admin API: `POST
//! {base}/admin/api/{version}/graphql.json` with the custom app's token in
//! `X-Shopify-Access-Token` and `{query, variables}` as JSON
//! (<https://shopify.dev/docs/api/admin-graphql#endpoints-and-queries>).
//!
//! Shopify says most failures in a 200: `errors` with a `code` in their
//! `extensions`. A `THROTTLED` answer is waited out as its cost says
//! (<https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits>):
//! the bucket refills `restoreRate` points a second and the query needs
//! `requestedQueryCost`, so the wait is `(requested - available) /
//! restoreRate` seconds, through [`Api::wait`] (longer than the policy's
//! `max_wait`: [`ConnectorError::RateLimited`] at once). HTTP statuses
//! (<https://shopify.dev/docs/api/usage/response-codes>) are the [`Api`]'s,
//! with 402 (frozen), 404 (no such shop) and 423 (locked) said plainly.

use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

use inbox_core::Secret;

use super::auth::Tokens;
use super::wire::{Cost, Envelope, GqlError};
use crate::{Api, ConnectorError, ConnectorKind};

const SHOPIFY: ConnectorKind = ConnectorKind::Shopify;

/// The longest throttle wait believed (a bucket refills in seconds; more
/// is a broken answer, still said as a rate limit).
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

/// A caller of one shop's Admin GraphQL API.
#[derive(Debug)]
pub(super) struct Graphql {
    api: Api,
    endpoint: Option<Url>,
    tokens: Tokens,
}

/// What an answer says.
#[derive(Debug)]
enum Verdict {
    Data(serde_json::Value),
    Throttled(Option<Duration>),
    Failed(ConnectorError),
}

impl Graphql {
    /// A caller of the shop at `base` (`https://acme.myshopify.com/`).
    pub(super) fn new(api: Api, base: &Url, api_version: &str, tokens: Tokens) -> Self {
        let endpoint = base
            .join(&format!("admin/api/{api_version}/graphql.json"))
            .ok();
        Self {
            api,
            endpoint,
            tokens,
        }
    }

    /// Runs `document` with `variables` and reads its `data` as `T`,
    /// waiting out throttling up to the policy's tries.
    pub(super) async fn query<T: DeserializeOwned>(
        &self,
        what: &'static str,
        document: &'static str,
        variables: serde_json::Value,
    ) -> Result<T, ConnectorError> {
        let body = serde_json::json!({ "query": document, "variables": variables });
        let mut tries = 0;
        loop {
            tries += 1;
            let envelope = self.post(what, &body).await?;
            let wait = match verdict(envelope, what) {
                Verdict::Data(data) => return decode(data, what),
                Verdict::Failed(e) => return Err(e),
                Verdict::Throttled(wait) => wait,
            };
            let err = ConnectorError::RateLimited {
                connector: SHOPIFY,
                retry_after: wait,
            };
            if tries >= self.api.policy().attempts {
                return Err(err);
            }
            let wait = wait.unwrap_or_else(|| self.api.policy().backoff(tries));
            self.api.wait(wait, err).await?;
        }
    }

    /// Posts the query with the access token; a granted token the shop
    /// refuses (expired early, revoked) is renewed once.
    async fn post(
        &self,
        what: &'static str,
        body: &serde_json::Value,
    ) -> Result<Envelope, ConnectorError> {
        let token = self.tokens.get().await?;
        match self.post_with(what, body, &token).await {
            Err(ConnectorError::Auth { status: 401, .. }) if self.tokens.renewable() => {
                let renewed = self.tokens.renew(&token).await?;
                self.post_with(what, body, &renewed).await
            }
            other => other,
        }
    }

    async fn post_with(
        &self,
        what: &'static str,
        body: &serde_json::Value,
        token: &Secret,
    ) -> Result<Envelope, ConnectorError> {
        let endpoint = self
            .endpoint
            .clone()
            .ok_or_else(|| not_set_up("the shop's API address is not valid"))?;
        let token = header(token)?;
        self.api
            .json(what, |client| {
                client
                    .post(endpoint.clone())
                    .header("X-Shopify-Access-Token", token.clone())
                    .json(body)
            })
            .await
            .map_err(explain_status)
    }
}

/// The token as a header value, marked sensitive (kept out of logs).
fn header(token: &Secret) -> Result<HeaderValue, ConnectorError> {
    let mut value = HeaderValue::from_str(token.expose().trim())
        .map_err(|_| not_set_up("the access token has characters a header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

fn not_set_up(what: &str) -> ConnectorError {
    ConnectorError::NotConfigured {
        connector: SHOPIFY,
        what: what.into(),
    }
}

/// The statuses Shopify documents for a shop that cannot answer, said as
/// what to do.
fn explain_status(e: ConnectorError) -> ConnectorError {
    let ConnectorError::Rejected {
        connector,
        what,
        status,
        message,
    } = e
    else {
        return e;
    };
    let message = match status {
        402 => "the shop is frozen (an unpaid bill): its owner must settle it in the Shopify admin"
            .into(),
        404 => "there is no shop at this address: check connectors.shopify.shop".into(),
        423 => "Shopify has locked the shop: its owner must contact Shopify support".into(),
        _ => message,
    };
    ConnectorError::Rejected {
        connector,
        what,
        status,
        message,
    }
}

/// Reads an answer: its data, or that it was throttled (and for how long
/// to wait), or why it failed.
fn verdict(envelope: Envelope, what: &'static str) -> Verdict {
    let errors = errors_of(envelope.errors);
    if errors.is_empty() {
        return match envelope.data {
            Some(data) if !data.is_null() => Verdict::Data(data),
            _ => Verdict::Failed(bad(what, "no data and no errors".into())),
        };
    }
    let code = |e: &GqlError| {
        e.extensions
            .as_ref()
            .and_then(|x| x.code.clone())
            .unwrap_or_default()
    };
    if errors
        .iter()
        .any(|e| code(e) == "THROTTLED" || e.message.eq_ignore_ascii_case("throttled"))
    {
        let cost = envelope.extensions.and_then(|x| x.cost);
        return Verdict::Throttled(throttle_wait(cost.as_ref()));
    }
    if let Some(denied) = errors.iter().find(|e| code(e) == "ACCESS_DENIED") {
        return Verdict::Failed(access_denied(denied));
    }
    let first = &errors[0];
    let said = format!("{}: {}", code(first), short(&first.message));
    Verdict::Failed(match code(first).as_str() {
        "INTERNAL_SERVER_ERROR" => ConnectorError::Unavailable {
            connector: SHOPIFY,
            reason: format!("it failed answering {what} ({said})"),
        },
        _ => bad(what, said),
    })
}

/// `errors` as documented (a list), or a bare message.
fn errors_of(errors: Option<serde_json::Value>) -> Vec<GqlError> {
    match errors {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(list)) if list.is_empty() => Vec::new(),
        Some(value) => {
            serde_json::from_value::<Vec<GqlError>>(value.clone()).unwrap_or_else(|_| {
                vec![GqlError {
                    message: match value {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    },
                    extensions: None,
                }]
            })
        }
    }
}

/// How long a throttled query waits: what it needs beyond what is left,
/// at the rate the bucket refills (`None`: the answer did not say).
pub(super) fn throttle_wait(cost: Option<&Cost>) -> Option<Duration> {
    let cost = cost?;
    let status = cost.throttle_status.as_ref()?;
    let requested = cost.requested_query_cost?;
    if !(status.restore_rate.is_finite() && status.restore_rate > 0.0) {
        return None;
    }
    let seconds = ((requested - status.currently_available) / status.restore_rate).max(0.0);
    seconds
        .is_finite()
        .then(|| Duration::from_secs_f64(seconds).min(LONGEST_WAIT))
}

/// A missing scope (or protected customer data not granted), named.
fn access_denied(e: &GqlError) -> ConnectorError {
    let scope = e
        .extensions
        .as_ref()
        .and_then(|x| x.required_access.as_deref())
        .and_then(between_backticks)
        .or_else(|| between_backticks(&e.message));
    let what = match scope {
        Some(scope) => format!(
            "the app lacks the {scope} access scope ({}): grant it in the app's Admin API scopes",
            short(&e.message)
        ),
        None => format!(
            "Shopify denied access ({}): check the app's scopes and its protected customer data access",
            short(&e.message)
        ),
    };
    not_set_up(&what)
}

/// The first `quoted` word of a text (`` `read_orders` access scope ``).
fn between_backticks(text: &str) -> Option<String> {
    let (_, rest) = text.split_once('`')?;
    let (inner, _) = rest.split_once('`')?;
    let ok = !inner.is_empty()
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| inner.to_string())
}

/// A provider's text, at most 200 characters.
fn short(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn bad(what: &'static str, reason: String) -> ConnectorError {
    ConnectorError::BadResponse {
        connector: SHOPIFY,
        what,
        reason,
    }
}

fn decode<T: DeserializeOwned>(
    data: serde_json::Value,
    what: &'static str,
) -> Result<T, ConnectorError> {
    serde_json::from_value(data).map_err(|e| bad(what, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::wire::ThrottleStatus;

    fn cost(requested: f64, available: f64, rate: f64) -> Cost {
        Cost {
            requested_query_cost: Some(requested),
            throttle_status: Some(ThrottleStatus {
                currently_available: available,
                restore_rate: rate,
            }),
        }
    }

    #[test]
    fn the_wait_is_the_missing_points_at_the_restore_rate() {
        let wait = |c: Cost| throttle_wait(Some(&c));
        assert_eq!(
            wait(cost(752.0, 666.0, 50.0)),
            Some(Duration::from_millis(1720))
        );
        assert_eq!(wait(cost(100.0, 150.0, 50.0)), Some(Duration::ZERO));
        assert_eq!(wait(cost(100.0, 0.0, 0.0)), None);
        assert_eq!(wait(cost(1e12, 0.0, 1.0)), Some(LONGEST_WAIT));
        assert_eq!(throttle_wait(None), None);
    }

    #[test]
    fn access_denied_names_the_scope() {
        let e: GqlError = serde_json::from_value(serde_json::json!({
            "message": "Access denied for orders field. Required access: `read_orders` access scope.",
            "extensions": {"code": "ACCESS_DENIED", "requiredAccess": "`read_orders` access scope."}
        }))
        .unwrap();
        assert!(access_denied(&e)
            .to_string()
            .contains("lacks the read_orders access scope"));
        assert_eq!(between_backticks("no scope here"), None);
    }
}
