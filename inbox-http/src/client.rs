//! Who is on the other end: the client's address and whether it reached us
//! over TLS. By default the socket's peer is the client and the connection
//! is plain HTTP; behind a proxy ([`Settings::behind_proxy`]) the proxy's
//! `X-Forwarded-For` and `X-Forwarded-Proto` say instead.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use super::settings::Settings;
use super::AppState;

/// The client of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// Its address, when known (not in tests that skip the socket).
    pub ip: Option<IpAddr>,
    /// It reached us over TLS (configured, or said by a trusted proxy).
    pub https: bool,
}

impl Client {
    /// The client of a request with these headers from `peer`.
    pub fn of(headers: &HeaderMap, peer: Option<SocketAddr>, settings: &Settings) -> Self {
        let peer = peer.map(|p| p.ip());
        if !settings.behind_proxy {
            return Self {
                ip: peer,
                https: settings.secure_cookies,
            };
        }
        let forwarded_https = last_value(headers, "x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
        Self {
            ip: last_value(headers, "x-forwarded-for")
                .and_then(parse_ip)
                .or(peer),
            https: settings.secure_cookies || forwarded_https,
        }
    }
}

/// The last entry of a comma-separated header: the one our proxy added
/// (earlier ones are whatever the client sent).
fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()
        .map(str::trim)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_ip(v: &str) -> Option<IpAddr> {
    v.parse::<IpAddr>()
        .ok()
        .or_else(|| v.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

impl FromRequestParts<AppState> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(Self::of(&parts.headers, peer, &state.settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap_or_else(|_| unreachable!()));
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_behind_a_proxy() {
        let peer: Option<SocketAddr> = "10.0.0.2:5000".parse().ok();
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.1, 203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let direct = Client::of(&h, peer, &Settings::default());
        assert_eq!(direct.ip, "10.0.0.2".parse().ok());
        assert!(!direct.https);
        let proxied = Settings {
            behind_proxy: true,
            ..Settings::default()
        };
        let c = Client::of(&h, peer, &proxied);
        assert_eq!(c.ip, "203.0.113.7".parse().ok());
        assert!(c.https);
        let odd = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(
            Client::of(&odd, peer, &proxied).ip,
            "2001:db8::1".parse().ok()
        );
        let junk = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(
            Client::of(&junk, peer, &proxied).ip,
            "10.0.0.2".parse().ok()
        );
    }
}
