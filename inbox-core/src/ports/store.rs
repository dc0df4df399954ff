//! The whole store: every port of durable state, as one trait object.

use std::sync::Arc;

use super::{
    Access, ChannelSecrets, Contacts, Conversations, DeadLetters, Directory, Messages, Outreach,
    ReadMarkers, Reports, Scheduling, Settings,
};

/// Declares [`Store`] as the ports it lists together, and implements it for
/// every type that implements them all: one list of ports serves the trait
/// and its blanket impl, so the two cannot drift apart.
macro_rules! store_of_ports {
    ($(#[$doc:meta])* $($port:ident),+ $(,)?) => {
        $(#[$doc])*
        pub trait Store: $($port +)+ Send + Sync {}

        impl<T> Store for T where T: $($port +)+ Send + Sync + ?Sized {}
    };
}

store_of_ports! {
    /// Durable state of the inbox: everything the core keeps, by concern.
    ///
    /// `Store` has no methods of its own: it is every port of durable state
    /// together, so that the core holds one `Arc<dyn Store>` and a backend is
    /// one type. Any type that implements all of them is a `Store`.
    ///
    /// | port | what it keeps |
    /// | --- | --- |
    /// | [`Directory`] | tenants, channels, agents, teams |
    /// | [`Contacts`] | contacts, and merging two into one |
    /// | [`Conversations`] | conversations, the atomic commit, the event log |
    /// | [`Messages`] | messages, and their delivery status, doubt and resends |
    /// | [`Scheduling`] | timers, reply leases, the outbox |
    /// | [`Reports`] | search, reports, the live snapshot, loads, routing state |
    /// | [`DeadLetters`] | inbound items the inbox refused |
    /// | [`Settings`] | each tenant's settings document and its history |
    /// | [`Access`] | password hashes, signed-in sessions, API keys |
    /// | [`ChannelSecrets`] | the sealed secrets of each tenant's numbers |
    /// | [`ReadMarkers`] | how far each agent has read each conversation |
    /// | [`Outreach`] | broadcasts, their recipients, segments of contacts |
    ///
    /// Through `dyn Store` every port's methods are callable as they are; on a
    /// concrete store, bring the ports called into scope
    /// (`use inbox_core::ports::{Conversations, Directory, ...}`).
    ///
    /// # Contract
    ///
    /// Each port's documentation says what an implementation must guarantee;
    /// the conformance suite (`inbox_core::testing`, feature `testing`) checks
    /// each point, port by port. Across all of them:
    ///
    /// **Tenancy.** Every read and write is scoped by tenant. An id of another
    /// tenant is [`Error::NotFound`](crate::Error::NotFound), never data. The
    /// only cross-tenant lookups are
    /// [`Directory::channel_by_phone_number_id`], which is how an inbound
    /// webhook finds its tenant, the scheduling queues (due timers, the
    /// outbox), which workers drain for every tenant, and the lookups of a
    /// session or an API key by what is presented ([`Access::session`],
    /// [`Access::api_key`]), which is how a request finds its tenant.
    ///
    /// **One store.** The ports share one state: a commit
    /// ([`Conversations::commit`]) is seen at once by every port (its
    /// messages by [`Messages`], its timers and outbox entries by
    /// [`Scheduling`], its conversations by [`Reports`]).
    ///
    /// **Errors.** Backend failures map to
    /// [`Error::Unavailable`](crate::Error::Unavailable) (retryable, nothing
    /// written) or [`Error::Backend`](crate::Error::Backend); an implementation
    /// keeps its own error as the source and never puts secrets in messages.
    Directory,
    Contacts,
    Conversations,
    Messages,
    Scheduling,
    Reports,
    DeadLetters,
    Settings,
    Access,
    ChannelSecrets,
    ReadMarkers,
    Outreach,
}

/// Turns a store into `Arc<dyn Store>`, for code that is generic over the
/// store but needs the shared object (the conformance suite runs the same
/// tests on a concrete store and on `dyn Store`).
pub trait AsDynStore {
    /// The store as a shared trait object.
    fn as_dyn(self: Arc<Self>) -> Arc<dyn Store>;
}

impl<S: Store + 'static> AsDynStore for S {
    fn as_dyn(self: Arc<Self>) -> Arc<dyn Store> {
        self
    }
}

impl AsDynStore for dyn Store {
    fn as_dyn(self: Arc<Self>) -> Arc<dyn Store> {
        self
    }
}

/// Every port is usable as a trait object on its own, too.
#[allow(dead_code)]
fn assert_object_safe(
    _: &dyn Store,
    _: (
        &dyn Directory,
        &dyn Contacts,
        &dyn Conversations,
        &dyn Messages,
    ),
    _: (&dyn Scheduling, &dyn Reports, &dyn DeadLetters),
    _: (&dyn Settings, &dyn Access),
    _: (&dyn ChannelSecrets, &dyn ReadMarkers),
    _: &dyn super::Transport,
    _: &dyn super::EventBus,
) {
}
