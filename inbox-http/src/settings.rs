//! How the server meets the network: what it trusts of a proxy in front,
//! its timeouts and body limit, how long sessions last, and how hard it is
//! to guess a password. [`Settings::default`] suits a server on the open
//! internet; tests shorten what they need.

use chrono::TimeDelta;
use governor::Quota;
use std::num::NonZeroU32;
use std::time::Duration;

/// The server's network and sign-in settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server sits behind a reverse proxy that sets `X-Forwarded-For`
    /// (the client's address: its last entry, the one the proxy added) and
    /// `X-Forwarded-Proto`. Off by default: without a proxy those headers
    /// are whatever the client says, so the socket's peer is the client.
    pub behind_proxy: bool,
    /// Mark cookies `Secure` on every answer (the server is reached over
    /// TLS). Behind a proxy, `X-Forwarded-Proto: https` does the same per
    /// request.
    pub secure_cookies: bool,
    /// How long a client may take to send a request's headers, and how long
    /// an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// How long a request may take, reading its body included (408 after
    /// that). Live event streams are not cut: their answer starts at once.
    pub request_timeout: Duration,
    /// The largest request body, on every route (413 beyond).
    pub body_limit: usize,
    /// How long a session lasts from sign-in.
    pub session_ttl: TimeDelta,
    /// How often a quiet live event stream checks that its session is still
    /// valid (a stream also ends at once when its session is signed out,
    /// and at its first event after the session expired).
    pub live_check: Duration,
    /// Password guessing.
    pub sign_in: SignInLimits,
    /// The platform operator's API, when the deployment has one (see
    /// [`AppStateBuilder::operator`](crate::AppStateBuilder::operator)).
    pub operator: Option<OperatorAccess>,
    /// What the media proxy (`GET /api/media/{message_id}`) fetches,
    /// keeps and serves.
    pub media: crate::media::MediaLimits,
    /// The keys tenants' connector credentials are sealed with, when there
    /// is no operator (the operator's keys serve otherwise).
    pub secrets: Option<crate::secrets::SecretBox>,
    /// The tenants' CRM and shop connectors, when run (see
    /// [`AppStateBuilder::connectors`](crate::AppStateBuilder::connectors)).
    pub connectors: Option<inbox_connectors::ConnectorOptions>,
}

/// The platform operator's token and the keys numbers' secrets are sealed
/// with.
#[derive(Debug, Clone)]
pub struct OperatorAccess {
    /// The operator's token (kept as its digest).
    pub token: crate::api::platform::OperatorToken,
    /// The sealing keys.
    pub secrets: crate::secrets::SecretBox,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            behind_proxy: false,
            secure_cookies: false,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            body_limit: 1 << 20,
            session_ttl: TimeDelta::hours(12),
            live_check: Duration::from_secs(15),
            sign_in: SignInLimits::default(),
            operator: None,
            media: crate::media::MediaLimits::default(),
            secrets: None,
            connectors: None,
        }
    }
}

/// Limits on sign-in: password hashing is slow and memory-hungry on
/// purpose (Argon2id, 19 MiB per check), so the number of checks at once
/// is bounded, and guessing is rate limited and locked out.
#[derive(Debug, Clone)]
pub struct SignInLimits {
    /// Password checks running at once (default: the number of cores).
    /// Peak memory of sign-in is about this times 19 MiB.
    pub concurrent_hashes: usize,
    /// Sign-ins waiting for a check beyond those; more are refused with 429
    /// `sign_in_busy`.
    pub waiting: usize,
    /// Attempts per account (an unknown agent name counts as one shared
    /// account).
    pub per_account: Quota,
    /// Attempts per client address (IPv6: per /64).
    pub per_address: Quota,
    /// Lockout of an account after consecutive failures.
    pub account_lockout: Lockout,
    /// Lockout of a client address after consecutive failures (higher: an
    /// office behind one address has many agents).
    pub address_lockout: Lockout,
    /// The most client addresses whose failures are remembered; past it the
    /// ones quiet longest are forgotten.
    pub tracked_addresses: usize,
}

impl Default for SignInLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            concurrent_hashes: cores,
            waiting: 32,
            per_account: quota(10, 5),
            per_address: quota(30, 10),
            account_lockout: Lockout {
                after_failures: 5,
                first: Duration::from_secs(30),
                longest: Duration::from_secs(15 * 60),
                forget_after: Duration::from_secs(60 * 60),
            },
            address_lockout: Lockout {
                after_failures: 20,
                first: Duration::from_secs(30),
                longest: Duration::from_secs(15 * 60),
                forget_after: Duration::from_secs(60 * 60),
            },
            tracked_addresses: 100_000,
        }
    }
}

/// `per_minute` attempts a minute, `burst` of them at once (both at least
/// one).
pub fn quota(per_minute: u32, burst: u32) -> Quota {
    let one = NonZeroU32::MIN;
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(one))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(one))
}

/// A lockout that grows: after `after_failures` consecutive failures the
/// key is locked for `first`, and each further failure doubles it, up to
/// `longest`. A success, or `forget_after` without failures, starts over.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    /// Failures allowed before the first lockout.
    pub after_failures: u32,
    /// The first lockout.
    pub first: Duration,
    /// The longest lockout.
    pub longest: Duration,
    /// Quiet time after which failures are forgotten.
    pub forget_after: Duration,
}

impl Lockout {
    /// How long `failures` consecutive failures lock the key (zero while
    /// under the threshold).
    pub fn after(&self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.after_failures) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(over).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.longest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_double_up_to_the_longest() {
        let l = SignInLimits::default().account_lockout;
        let secs: Vec<u64> = (3..12).map(|n| l.after(n).as_secs()).collect();
        assert_eq!(secs, [0, 0, 30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(l.after(u32::MAX), l.longest);
    }
}
