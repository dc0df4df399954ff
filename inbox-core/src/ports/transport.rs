use async_trait::async_trait;
use std::time::Duration;

use crate::ids::{MessageId, TenantId};
use crate::model::{Channel, ContactIdentity, Content};

/// A message to deliver to a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    /// The tenant.
    pub tenant: TenantId,
    /// The number to send from.
    pub channel: Channel,
    /// The customer.
    pub to: ContactIdentity,
    /// Our id of the message. Transports send it along (WhatsApp:
    /// `biz_opaque_callback_data`) so status callbacks can be matched to the
    /// message even if the provider id was never recorded.
    pub message_id: MessageId,
    /// What to send.
    pub content: Content,
    /// The provider id of the message this one replies to.
    pub reply_to: Option<String>,
}

/// What to do with control of a customer's thread on a number several apps
/// share (WhatsApp's Conversation Routing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadAction {
    /// Take control (permitted to the escalation partner only).
    Take,
    /// Pass control to the app with this role (`ai_agent` ...).
    Pass {
        /// The role to pass it to.
        target_role: String,
    },
    /// Give control up; whoever answers next is decided by WhatsApp's
    /// routing when the customer writes again.
    Release,
}

impl ThreadAction {
    /// `take`, `pass` or `release`.
    pub fn name(&self) -> &'static str {
        match self {
            ThreadAction::Take => "take",
            ThreadAction::Pass { .. } => "pass",
            ThreadAction::Release => "release",
        }
    }
}

/// A thread control call: `action` on `customer`'s thread with `channel`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadControlRequest {
    /// The tenant.
    pub tenant: TenantId,
    /// The number.
    pub channel: Channel,
    /// The customer whose thread it is.
    pub customer: ContactIdentity,
    /// What to do.
    pub action: ThreadAction,
    /// What to send along (WhatsApp: at most 2,000 characters).
    pub metadata: Option<String>,
}

/// The most characters of metadata a thread control call carries
/// (WhatsApp's limit); longer metadata is cut.
pub const MAX_THREAD_METADATA_CHARS: usize = 2000;

/// What the provider returned for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The provider's message id (wamid).
    pub external_id: String,
}

/// Why a send failed, classified so the core can decide what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Too many messages; retry after the given time (WhatsApp 130429,
    /// 131056, 4/80007).
    #[error("rate limited{}; retry after {}", code_text(.code), retry_text(.retry_after))]
    RateLimited {
        /// Provider code.
        code: Option<i64>,
        /// When to retry, if the provider said.
        retry_after: Option<Duration>,
    },
    /// The 24-hour window is closed (WhatsApp 131047): never retry, send a
    /// template instead.
    #[error("the customer window is closed{}; send a template", code_text(.code))]
    WindowClosed {
        /// Provider code.
        code: Option<i64>,
    },
    /// Permanently rejected (invalid recipient, template error ...): never
    /// retry.
    #[error("rejected{}: {message}", code_text(.code))]
    Rejected {
        /// Provider code.
        code: Option<i64>,
        /// The provider's description.
        message: String,
    },
    /// The credentials were refused (WhatsApp 190, 0, 10).
    #[error("unauthorized{}: {message}", code_text(.code))]
    Unauthorized {
        /// Provider code.
        code: Option<i64>,
        /// The provider's description (never the token).
        message: String,
    },
    /// A temporary failure the provider reported, or a request that never
    /// reached it (5xx, a refused connection, codes 1, 2, 131000): retry
    /// with backoff.
    #[error("transient failure{}: {message}", code_text(.code))]
    Transient {
        /// Provider code.
        code: Option<i64>,
        /// What happened.
        message: String,
    },
    /// The request may have reached the provider, but its outcome is
    /// unknown: a timeout after the request was written, the connection
    /// lost while waiting for the answer, a success answer without a
    /// message id. Never resent by the dispatcher (that could deliver the
    /// message twice): the message is marked in doubt and reconciled by a
    /// status callback carrying our id, or sent again by a person.
    #[error("outcome unknown{}: {message}", code_text(.code))]
    InDoubt {
        /// Provider code, if an answer carried one.
        code: Option<i64>,
        /// What happened.
        message: String,
    },
}

/// ` (code 131047)`, or nothing without a code.
fn code_text(code: &Option<i64>) -> String {
    code.map(|c| format!(" (code {c})")).unwrap_or_default()
}

/// `12 s`, or `a backoff` without a time.
fn retry_text(after: &Option<Duration>) -> String {
    match after {
        Some(d) => format!("{} s", d.as_secs()),
        None => "a backoff".into(),
    }
}

impl TransportError {
    /// Whether sending again later may succeed and cannot deliver the
    /// message twice. [`TransportError::InDoubt`] is not retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::RateLimited { .. } | TransportError::Transient { .. }
        )
    }

    /// The provider's code, if any.
    pub fn code(&self) -> Option<i64> {
        match self {
            TransportError::RateLimited { code, .. }
            | TransportError::WindowClosed { code }
            | TransportError::Rejected { code, .. }
            | TransportError::Unauthorized { code, .. }
            | TransportError::Transient { code, .. }
            | TransportError::InDoubt { code, .. } => *code,
        }
    }
}

/// Delivers outbound messages to customers (the WhatsApp Cloud API in
/// production, a recorder in tests).
///
/// # Contract
///
/// - `send` either returns the provider's id of the accepted message, or a
///   classified [`TransportError`]; it never panics on any input.
/// - A failure after which the provider may have accepted the message
///   (a timeout once the request was written, a connection lost before
///   the answer, a success answer without an id) is
///   [`TransportError::InDoubt`], never [`TransportError::Transient`]: the
///   dispatcher resends transient failures, and must not resend these.
/// - Within one call an implementation may retry only requests the provider
///   refused (rate limits, server errors) or never received (refused
///   connections). It must not resend a request whose outcome is unknown (a
///   timeout after the request was sent) unless the embedder opted in: that
///   can deliver the message twice. Longer-term retries are the dispatcher's
///   (it persists the schedule and the attempt count).
/// - The request's `message_id` travels with the message where the provider
///   supports it, so status callbacks can be reconciled.
/// - Internal notes never reach a transport: the core never hands one over.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends one message.
    async fn send(&self, request: &OutboundRequest) -> Result<SendReceipt, TransportError>;

    /// Takes, passes or releases control of a customer's thread. Like a
    /// send: a request the provider refused or never received may be
    /// retried within the call, one whose outcome is unknown is not (it
    /// is [`TransportError::InDoubt`]). A transport without thread control
    /// (the default) refuses with [`TransportError::Rejected`] and says so.
    async fn thread_control(&self, request: &ThreadControlRequest) -> Result<(), TransportError> {
        Err(TransportError::Rejected {
            code: None,
            message: format!(
                "this transport cannot {} threads (no thread control)",
                request.action.name()
            ),
        })
    }
}
