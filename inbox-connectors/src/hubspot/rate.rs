//! HubSpot's rate limits, read from a 429's headers.
//!
//! HubSpot answers a rate limit with 429 and a JSON body naming the policy
//! (`"errorType": "RATE_LIMIT"`, `"policyName": "SECONDLY"`, `"DAILY"` …),
//! and, on most endpoints, headers: `X-HubSpot-RateLimit-Interval-Milliseconds`
//! (the rolling window), `-Max`, `-Remaining`, and for private apps
//! `X-HubSpot-RateLimit-Daily` and `-Daily-Remaining`. The search endpoints
//! have their own per-second limit and send none of these headers.
//! <https://developers.hubspot.com/docs/api/usage-details>

use reqwest::header::HeaderMap;
use std::time::Duration;

use crate::retry_after;

/// What a 429 says when the day's quota is spent: HubSpot resets it at
/// midnight in the account's time zone, which the connector does not know,
/// so it asks again no sooner than this (longer than any [`CallPolicy`]
/// allows, so the call fails at once with `RateLimited`).
///
/// [`CallPolicy`]: crate::CallPolicy
pub const DAILY_LIMIT_WAIT: Duration = Duration::from_secs(3600);

/// The longest window believed from the interval header (HubSpot's is ten
/// seconds): a larger or absurd value is capped here.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// HubSpot's [`WaitHint`](crate::WaitHint): how long to wait after a 429.
///
/// - the daily quota spent (`X-HubSpot-RateLimit-Daily-Remaining: 0`):
///   [`DAILY_LIMIT_WAIT`], which no policy waits for;
/// - else `Retry-After` when HubSpot sends it;
/// - else the rolling window (`X-HubSpot-RateLimit-Interval-Milliseconds`);
/// - else nothing (the search endpoints): the policy's backoff.
///
/// ```
/// use inbox_connectors::hubspot::{wait_hint, DAILY_LIMIT_WAIT};
/// use reqwest::header::HeaderMap;
/// use std::time::Duration;
/// let mut h = HeaderMap::new();
/// assert_eq!(wait_hint(&h), None);
/// h.insert("x-hubspot-ratelimit-interval-milliseconds", "10000".parse().unwrap());
/// assert_eq!(wait_hint(&h), Some(Duration::from_secs(10)));
/// h.insert("retry-after", "2".parse().unwrap());
/// assert_eq!(wait_hint(&h), Some(Duration::from_secs(2)));
/// h.insert("x-hubspot-ratelimit-daily-remaining", "0".parse().unwrap());
/// assert_eq!(wait_hint(&h), Some(DAILY_LIMIT_WAIT));
/// ```
pub fn wait_hint(headers: &HeaderMap) -> Option<Duration> {
    if number(headers, "x-hubspot-ratelimit-daily-remaining") == Some(0) {
        return Some(DAILY_LIMIT_WAIT);
    }
    retry_after(headers).or_else(|| {
        number(headers, "x-hubspot-ratelimit-interval-milliseconds")
            .map(|ms| Duration::from_millis(ms).min(MAX_INTERVAL))
    })
}

/// A header's value as a whole number.
fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// HubSpot's [`Classify`](crate::Classify): what its error bodies say
/// beyond the status.
///
/// - 403 with `"category": "MISSING_SCOPES"`: the private app lacks a
///   scope (named when HubSpot names it), a setting to fix, not a bad
///   token;
/// - 429 with `"policyName": "DAILY"`: the day's quota is spent, not worth
///   retrying today.
///
/// ```
/// use inbox_connectors::hubspot::classify;
/// use reqwest::header::HeaderMap;
/// let body = br#"{"status":"error","category":"MISSING_SCOPES","errors":[{"context":{"requiredGranularScopes":["crm.objects.deals.read"]}}]}"#;
/// let e = classify(403, &HeaderMap::new(), body).unwrap();
/// assert!(e.to_string().contains("crm.objects.deals.read"), "{e}");
/// assert!(classify(403, &HeaderMap::new(), b"{}").is_none());
/// ```
pub fn classify(status: u16, _: &HeaderMap, body: &[u8]) -> Option<crate::ConnectorError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let connector = crate::ConnectorKind::HubSpot;
    match (status, v.get("category").and_then(|c| c.as_str())) {
        (403, Some("MISSING_SCOPES")) => {
            let scopes: Vec<&str> = v["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| {
                    let context = &e["context"];
                    ["requiredGranularScopes", "requiredScopes"]
                        .into_iter()
                        .filter_map(move |k| context[k].as_array())
                        .flatten()
                })
                .filter_map(|s| s.as_str())
                .collect();
            let named = if scopes.is_empty() {
                "a scope this needs".to_string()
            } else {
                format!("the scope {}", scopes.join(", "))
            };
            Some(crate::ConnectorError::NotConfigured {
                connector,
                what: format!("the private app lacks {named}; add it in HubSpot"),
            })
        }
        (429, _) if v.get("policyName").and_then(|p| p.as_str()) == Some("DAILY") => {
            Some(crate::ConnectorError::RateLimited {
                connector,
                retry_after: Some(DAILY_LIMIT_WAIT),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_headers_are_ignored_and_windows_capped() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            "soon".parse().unwrap(),
        );
        h.insert("x-hubspot-ratelimit-daily-remaining", "-1".parse().unwrap());
        assert_eq!(wait_hint(&h), None);
        h.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            "99999999".parse().unwrap(),
        );
        assert_eq!(wait_hint(&h), Some(MAX_INTERVAL));
        h.insert("x-hubspot-ratelimit-daily-remaining", "12".parse().unwrap());
        assert_eq!(wait_hint(&h), Some(MAX_INTERVAL));
    }
}
