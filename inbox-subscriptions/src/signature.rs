//! The `X-Inbox-Signature` header: HMAC-SHA256 over the timestamp and the
//! body, so a receiver can check who sent a delivery and refuse old ones
//! replayed by someone else.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::SubscriptionError;
use inbox_core::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The header deliveries are signed with.
pub const SIGNATURE_HEADER: &str = "x-inbox-signature";

fn mac(secret: &Secret, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret.expose().as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `at`: `t=<unix seconds>,v1=<hex>`,
/// where the MAC covers `"<t>.<body>"`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use inbox_core::Secret;
/// use inbox_subscriptions::{sign, verify};
/// let secret = Secret::new("whsec_test");
/// let at = Utc.timestamp_opt(1_767_000_000, 0).unwrap();
/// let header = sign(&secret, at, b"{\"seq\":1}");
/// assert!(header.starts_with("t=1767000000,v1="));
/// assert!(verify(&secret, &header, b"{\"seq\":1}", at, 300).is_ok());
/// assert!(verify(&secret, &header, b"{\"seq\":2}", at, 300).is_err());
/// ```
pub fn sign(secret: &Secret, at: DateTime<Utc>, body: &[u8]) -> String {
    let t = at.timestamp();
    let tag = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

/// Checks a delivery's signature header, in constant time, and that it was
/// signed at most `tolerance_secs` before (or after) `now`.
pub fn verify(
    secret: &Secret,
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<(), SubscriptionError> {
    let bad = |why: &str| SubscriptionError::BadSignature(why.to_string());
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| bad("no timestamp"))?;
    let v1 = v1.ok_or_else(|| bad("no v1 signature"))?;
    if (now.timestamp() - t).abs() > tolerance_secs {
        return Err(bad("timestamp outside the tolerance"));
    }
    let mut tag = [0u8; 32];
    hex::decode_to_slice(v1, &mut tag).map_err(|_| bad("signature is not 64 hex digits"))?;
    mac(secret, t, body)
        .verify_slice(&tag)
        .map_err(|_| bad("signature does not match"))
}
