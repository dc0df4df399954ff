//! Mapping Graph API errors to the core's transport errors.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

use inbox_core::ports::TransportError;

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    message: Option<String>,
    #[serde(default, deserialize_with = "lenient_code")]
    code: Option<i64>,
    error_subcode: Option<i64>,
    is_transient: Option<bool>,
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

/// A code as Meta sends it (a number), or as a proxy may pass it on (a
/// string of digits); anything else is no code.
fn lenient_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// What a Graph API error code means for the request that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A throughput or rate limit: retried with backoff, or after
    /// `Retry-After`.
    RateLimited,
    /// The 24-hour customer window is closed: never retried.
    WindowClosed,
    /// The token, or the permissions granted to it: never retried.
    Unauthorized,
    /// Meta says temporary (outage, overload, maintenance): retried with
    /// backoff.
    Transient,
    /// This request was refused and sending it again will not help, or
    /// should not happen without a person deciding: never retried.
    Rejected,
}

use Class::{RateLimited, Rejected, Transient, Unauthorized, WindowClosed};

/// Meta's error codes, from the WhatsApp Cloud API "Error codes" reference
/// (plus the Graph API's generic codes the Cloud API answers with), as
/// inclusive ranges, with the class [`classify`] gives them. A code not
/// listed here is classified by the HTTP status.
const CODES: &[(i64, i64, Class)] = &[
    // Authorization: the token or its permissions, never the message.
    (0, 0, Unauthorized),     // AuthException: token expired or invalidated
    (3, 3, Unauthorized),     // API method: capability or permission missing (HTTP 500)
    (10, 10, Unauthorized),   // permission denied (not granted or removed)
    (102, 102, Unauthorized), // Graph API session invalid
    (104, 104, Unauthorized), // no access token (Graph API, HTTP 401)
    (190, 190, Unauthorized), // access token expired
    (200, 299, Unauthorized), // API permission missing
    (131005, 131005, Unauthorized), // access denied (permission not granted or removed)
    // Throttling.
    (4, 4, RateLimited),           // the app's API call rate limit
    (17, 17, RateLimited),         // Graph API user request limit (HTTP 429)
    (32, 32, RateLimited),         // Graph API page request limit
    (613, 613, RateLimited),       // Graph API call rate limit
    (80007, 80007, RateLimited),   // the WhatsApp Business Account's rate limit
    (130429, 130429, RateLimited), // Cloud API throughput reached
    (131048, 131048, RateLimited), // spam rate limit: the number's quality-based limit
    (131056, 131056, RateLimited), // pair rate limit: too many to the same customer
    (133016, 133016, RateLimited), // (de)registration attempts rate limit
    // Limited until an enforcement period ends (days, not seconds): a
    // resend would fail the same way.
    (131064, 131064, Rejected), // message limit for template classification violations
    // Integrity: the account is restricted; retrying does not help.
    (368, 368, Rejected),       // temporarily blocked for policy violations
    (130497, 130497, Rejected), // the business may not message users in this country
    (131031, 131031, Rejected), // account locked (policy, or a request's data not verified)
    // Others.
    // 1 is "invalid request or possible server error": unclear; retried
    // with backoff as Meta suggests checking for an outage first (an
    // invalid request fails again and ends after max_attempts).
    (1, 1, Transient),
    (2, 2, Transient),              // service down or overloaded (HTTP 503)
    (33, 33, Rejected),             // the business phone number was deleted
    (100, 100, Rejected),           // invalid parameter
    (130472, 130472, Rejected),     // customer part of a marketing experiment
    (131000, 131000, Transient),    // something went wrong, message not sent: try again
    (131008, 131009, Rejected),     // required parameter missing; parameter value invalid
    (131016, 131016, Transient),    // a service temporarily unavailable
    (131021, 131021, Rejected),     // recipient is the sender
    (131026, 131026, Rejected),     // undeliverable (not on WhatsApp, old app, terms not accepted)
    (131037, 131037, Rejected),     // the number's display name is not approved
    (131042, 131042, Rejected),     // payment method problem
    (131045, 131045, Rejected),     // certificate: the number must be registered (HTTP 500)
    (131047, 131047, WindowClosed), // more than 24 hours since the customer wrote
    // Meta chose not to deliver (per-user marketing limit, ecosystem
    // health): Meta says wait at least 24 hours; left to a person.
    (131049, 131049, Rejected),
    (131050, 131050, Rejected),  // the customer stopped marketing messages
    (131051, 131051, Rejected),  // unsupported message type
    (131052, 131052, Rejected),  // media download error (the customer's media)
    (131053, 131053, Rejected),  // media upload error (unsupported or unreachable media)
    (131055, 131055, Rejected),  // method not allowed (marketing templates only)
    (131057, 131057, Transient), // account in maintenance mode (HTTP 500)
    (131062, 131062, Rejected),  // business-scoped user id not allowed for this message
    (2494191, 2494191, Rejected), // thread control: take not permitted (not the escalation partner)
    (131063, 131063, Rejected),  // marketing templates disabled on the Cloud API
    // Templates and flows.
    (132000, 132000, Rejected), // parameter count mismatch
    (132001, 132001, Rejected), // template missing in that language, or not approved
    (132005, 132005, Rejected), // hydrated text too long
    (132007, 132007, Rejected), // character policy violated
    (132012, 132012, Rejected), // parameter format mismatch
    (132015, 132016, Rejected), // template paused; template disabled
    (132018, 132018, Rejected), // template parameter validation
    (132068, 132068, Rejected), // flow blocked
    // Flow throttled: 10 messages in the last hour; Meta says fix the flow.
    (132069, 132069, Rejected),
    // Registration (not answers to this client's calls).
    (133000, 133000, Rejected),  // incomplete deregistration (HTTP 500)
    (133004, 133004, Transient), // server temporarily unavailable (HTTP 503)
    (133005, 133006, Rejected),  // two-step PIN mismatch; number needs verifying
    (133008, 133010, Rejected),  // too many PIN guesses; guessed too fast; not registered
    (133015, 133015, Transient), // number being deleted: wait 5 minutes
    // Payments, marketing messages API, generic.
    (134011, 134011, Rejected),  // payments terms of service not accepted
    (134100, 134100, Rejected),  // marketing messages only on this API
    (134101, 134101, Transient), // template still syncing (up to 10 minutes)
    (134102, 134102, Rejected),  // template unavailable for this API
    (135000, 135000, Rejected),  // generic user error in the request's parameters
    // Template creation and analytics, migration, sync, onboarding (not
    // answers to this client's calls).
    (200005, 200007, Rejected), // template analytics unavailable or not enabled
    (1752041, 1752041, Rejected), // onboarding invitation already sent
    (2388012, 2388012, Rejected), // number already in the account
    (2388019, 2388019, Rejected), // too many templates
    (2388040, 2388040, Rejected), // a template field too long
    (2388047, 2388047, Rejected), // template header format
    (2388072, 2388073, Rejected), // template body format; footer format
    (2388091, 2388093, Rejected), // number not being migrated
    (2388103, 2388103, Rejected), // migration refused (several reasons)
    (2388293, 2388293, Rejected), // too many template variables for its length
    (2388299, 2388299, Rejected), // template variable at the start or end
    (2494100, 2494100, Transient), // phone number in maintenance mode: a few minutes
    (2593079, 2593079, Rejected), // account already flagged for migration
    (2593085, 2593085, Rejected), // account not eligible for ownership transfer
    (2593107, 2593108, Rejected), // sync requested twice; sync window over
];

/// The class of a documented code.
fn class_of(code: i64) -> Option<Class> {
    CODES
        .iter()
        .find(|(from, to, _)| (*from..=*to).contains(&code))
        .map(|(_, _, class)| *class)
}

/// The class of an HTTP status, for answers without a documented code.
fn class_of_status(status: u16) -> Class {
    match status {
        429 => RateLimited,
        401 | 403 => Unauthorized,
        500..=599 => Transient,
        _ => Rejected,
    }
}

/// Classifies a failed Graph API answer: by Meta's error code when Meta
/// documents it, else by Meta's `is_transient` flag, else by the HTTP
/// status. Meta asks for error handling built on codes, and uses one HTTP
/// status for codes of different meanings (131045 "register the number" is
/// an HTTP 500; 3, a missing permission, too).
///
/// Documented codes (the table `CODES` in `src/client/classify.rs`, one
/// line per code of Meta's WhatsApp Cloud API "Error codes" reference):
///
/// - **rate limited**, retried with backoff or after `Retry-After`: 4, 17,
///   32, 613, 80007, 130429, 131048 (spam rate limit), 131056 (pair rate
///   limit), 133016;
/// - **window closed**, never retried: 131047;
/// - **unauthorized**, never retried: 0, 3, 10, 102, 104, 190, 200–299,
///   131005;
/// - **transient**, retried with backoff: 1, 2, 131000, 131016, 131057
///   (account in maintenance), 133004, 133015, 134101, 2494100;
/// - **rejected**, never retried: every other documented code, among them
///   368, 130497 and 131031 (the account restricted or locked), 131049
///   (Meta chose not to deliver; it says wait a day), 131064 (limited for
///   an enforcement period), 132069 (flow throttled for the hour), the
///   invalid-request, recipient, template, flow and registration codes.
///
/// Anything else: marked `is_transient` → transient; otherwise by status:
/// 429 → rate limited (with `retry_after`), 401 and 403 → unauthorized,
/// 5xx → transient, any other → rejected.
pub fn classify(status: u16, body: &[u8], retry_after: Option<Duration>) -> TransportError {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .map(|e| e.error);
    // A subcode this table knows says more than its code (Meta sends
    // thread control's 2494191 under code 100, say).
    let code = parsed.as_ref().and_then(|e| {
        e.error_subcode
            .filter(|sub| class_of(*sub).is_some())
            .or(e.code)
    });
    let message = match &parsed {
        Some(e) => describe(e, status),
        None => format!("HTTP {status}"),
    };
    let marked_transient = parsed.as_ref().and_then(|e| e.is_transient) == Some(true);
    let class = match code.and_then(class_of) {
        Some(class) => class,
        None if marked_transient => Transient,
        None => class_of_status(status),
    };
    match class {
        RateLimited => TransportError::RateLimited { code, retry_after },
        WindowClosed => TransportError::WindowClosed { code },
        Unauthorized => TransportError::Unauthorized { code, message },
        Transient => TransportError::Transient { code, message },
        Rejected => TransportError::Rejected { code, message },
    }
}

/// Meta's message, with its details and subcode.
fn describe(e: &GraphError, status: u16) -> String {
    let mut m = e
        .message
        .clone()
        .unwrap_or_else(|| format!("HTTP {status}"));
    if let Some(d) = e.error_data.as_ref().and_then(|d| d.details.as_ref()) {
        m = format!("{m}: {d}");
    }
    if let Some(sub) = e.error_subcode {
        m = format!("{m} (subcode {sub})");
    }
    m
}

/// A `Retry-After` header: delay seconds or an HTTP date (a date in the
/// past is no wait). `None` when it is neither.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests;
