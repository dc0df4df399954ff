//! Who a request comes from: the pluggable [`Identity`] that turns a
//! request into an [`Actor`] (tenant and agent; the agent's role is the
//! inbox's to check) or a [`Refusal`].
//!
//! The built-in one is password sign-in with sessions
//! ([`Auth`](crate::auth::Auth)). An embedder plugs in their own — their
//! sessions, JWT or OIDC bearer tokens, a client certificate's subject
//! that their TLS terminator passes in a header — with
//! [`AppStateBuilder::identity`](crate::AppStateBuilder::identity), and may
//! keep the built-in one beside theirs with [`AnyOf`].
//!
//! ```
//! use async_trait::async_trait;
//! use axum::http::request::Parts;
//! use inbox_core::{Actor, AgentId, TenantId};
//! use inbox_http::identity::{Identity, Refusal};
//!
//! /// Trusts the `X-Agent` header a gateway in front sets after its own
//! /// sign-in (`tenant/agent`).
//! struct Gateway;
//!
//! #[async_trait]
//! impl Identity for Gateway {
//!     async fn identify(&self, request: &Parts) -> Result<Actor, Refusal> {
//!         let value = request.headers.get("x-agent").ok_or(Refusal::Unauthenticated)?;
//!         let (tenant, agent) = value
//!             .to_str()
//!             .ok()
//!             .and_then(|v| v.split_once('/'))
//!             .ok_or(Refusal::Unauthenticated)?;
//!         let tenant = TenantId::new(tenant).map_err(|_| Refusal::Unauthenticated)?;
//!         let agent = AgentId::new(agent).map_err(|_| Refusal::Unauthenticated)?;
//!         Ok(Actor::new(tenant, agent))
//!     }
//! }
//! ```

use async_trait::async_trait;
use axum::http::request::Parts;
use std::sync::Arc;

use inbox_core::Actor;

use crate::error::ApiError;

/// Why a request has no actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials, or none this identity accepts (unknown, expired,
    /// revoked): 401 `unauthenticated`. Another identity may still accept
    /// the request ([`AnyOf`]).
    Unauthenticated,
    /// Credentials this identity knows but refuses (a suspended tenant, a
    /// client certificate not allowed here): 403 `forbidden`, with the
    /// reason. Final: [`AnyOf`] asks no further.
    Forbidden(String),
    /// The identity could not tell (its store is unreachable): 503
    /// `unavailable`, retryable. A live stream stays open through it.
    Unavailable(String),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unauthenticated => ApiError::unauthenticated(),
            Refusal::Forbidden(reason) => {
                ApiError::new(axum::http::StatusCode::FORBIDDEN, "forbidden", reason)
            }
            Refusal::Unavailable(what) => ApiError::internal(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &what,
            ),
        }
    }
}

/// Turns a request into the actor it comes from.
///
/// # Contract
///
/// - `identify` reads only the request's parts (headers, URI, extensions
///   such as connection info) and whatever store it was built with; it
///   never consumes the body.
/// - It is asked on every request and again, now and then, for each live
///   event stream (a stream ends when its request no longer identifies
///   the same actor): keep it cheap, cache if needed.
/// - An actor's tenant must be the one the credentials belong to; the
///   inbox checks everything else (the agent exists and is active, their
///   role allows the action) on each action.
#[async_trait]
pub trait Identity: Send + Sync {
    /// The actor the request comes from, or why there is none.
    async fn identify(&self, request: &Parts) -> Result<Actor, Refusal>;
}

/// Several identities, asked in order: the first that accepts a request
/// answers it; a [`Refusal::Forbidden`] ends the search; when none
/// accepts, the request is unauthenticated (or unavailable, when one of
/// them could not tell).
#[derive(Clone, Default)]
pub struct AnyOf(pub Vec<Arc<dyn Identity>>);

#[async_trait]
impl Identity for AnyOf {
    async fn identify(&self, request: &Parts) -> Result<Actor, Refusal> {
        let mut answer = Refusal::Unauthenticated;
        for identity in &self.0 {
            match identity.identify(request).await {
                Err(Refusal::Unauthenticated) => continue,
                Err(r @ Refusal::Unavailable(_)) => answer = r,
                other => return other,
            }
        }
        Err(answer)
    }
}

impl std::fmt::Debug for AnyOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyOf({} identities)", self.0.len())
    }
}
