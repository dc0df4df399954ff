//! `Idempotency-Key`: a key is bound to the request it first came with.
//!
//! The binding is (agent, method, path, SHA-256 of the body). The same
//! request again gets the first answer; another request under the same key
//! (another conversation, action or body) is refused with 422
//! `idempotency_key_reused` and does nothing. A concurrent request with a
//! key still being answered gets 409 `idempotency_key_in_use`.
//!
//! What survives a restart: the answers kept here are in memory (the latest
//! 10,000), but replies, resends and notes, the actions that create
//! something, also carry a key to the core, whose store keeps it with the
//! message. That core key is derived from (agent, key) alone — not from the
//! request digest — so that after a restart a different request under an
//! old key still meets the stored message: the core replays it, and the
//! server compares it with what is asked now (same conversation, same kind,
//! same content; a resend of the same message, as the timeline's
//! `message_resent` says) and answers 422 if they differ, instead of
//! silently returning the old answer or acting twice. Putting the digest in the core key would
//! make a reuse after a restart act a second time undetected. The other
//! actions (claim, assign, status ...) have no durable record; a repeat
//! after a restart meets the version check of the conversation instead.

use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use inbox_core::AgentId;

use crate::error::ApiError;

/// A request's digest: SHA-256 over its method, path and body.
pub type RequestDigest = [u8; 32];

/// The digest of a request by `agent`.
pub fn digest(agent: &AgentId, method: &str, path: &str, body: &[u8]) -> RequestDigest {
    let mut h = Sha256::new();
    for part in [
        agent.as_str().as_bytes(),
        method.as_bytes(),
        path.as_bytes(),
        body,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// The idempotency key handed to the core for a reply or a note: bound to
/// the agent (the core's keys are unique per tenant, so two agents picking
/// the same key must not meet), fixed length (the core takes 200 bytes at
/// most).
pub fn core_key(agent: &AgentId, key: &str) -> String {
    let mut h = Sha256::new();
    for part in [agent.as_str().as_bytes(), key.as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    format!("ik_{}", hex::encode(h.finalize()))
}

/// 422: the key was first used for another request.
pub fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was used for another request (another conversation, action or body); use a new key for a new request",
    )
}

type Key = (AgentId, String);

#[derive(Clone)]
enum Entry {
    Running(RequestDigest),
    Done(RequestDigest, StatusCode, String),
}

/// Without the answers: one may carry a secret shown once (a new API key).
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Running(_) => f.write_str("Running"),
            Entry::Done(_, status, _) => write!(f, "Done({status}, [answer])"),
        }
    }
}

impl Entry {
    fn digest(&self) -> &RequestDigest {
        match self {
            Entry::Running(d) | Entry::Done(d, ..) => d,
        }
    }
}

/// Entries, and their keys oldest first (for eviction).
#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<Key, Entry>,
    order: VecDeque<Key>,
}

/// Answers kept for repeated idempotency keys (the latest `capacity`).
#[derive(Debug)]
pub struct Idempotency {
    entries: Mutex<Entries>,
    capacity: usize,
}

/// What to do with a request.
pub enum Seen {
    /// A new key: act, then [`Reservation::finish`].
    New(Reservation),
    /// The same request again: its answer.
    Replay(StatusCode, String),
    /// The key belongs to another request.
    Reused,
    /// The same key is being answered right now.
    InProgress,
}

/// Without the answer (as `Entry`'s).
impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seen::New(r) => f.debug_tuple("New").field(r).finish(),
            Seen::Replay(status, _) => write!(f, "Replay({status}, [answer])"),
            Seen::Reused => f.write_str("Reused"),
            Seen::InProgress => f.write_str("InProgress"),
        }
    }
}

impl Idempotency {
    /// Keeps up to `capacity` answers.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            capacity,
        }
    }

    /// Looks a request up; a new key is reserved for it.
    pub fn begin(self: &Arc<Self>, agent: &AgentId, key: &str, digest: RequestDigest) -> Seen {
        let mut g = self.lock();
        let k = (agent.clone(), key.to_string());
        match g.by_key.get(&k) {
            Some(e) if e.digest() != &digest => return Seen::Reused,
            Some(Entry::Running(_)) => return Seen::InProgress,
            Some(Entry::Done(_, status, body)) => return Seen::Replay(*status, body.clone()),
            None => {}
        }
        g.by_key.insert(k.clone(), Entry::Running(digest));
        g.order.push_back(k.clone());
        while g.order.len() > self.capacity {
            if let Some(old) = g.order.pop_front() {
                g.by_key.remove(&old);
            }
        }
        Seen::New(Reservation {
            store: self.clone(),
            key: Some(k),
            digest,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A key reserved for a request being answered; forgotten unless finished
/// (an answer worth retrying, or a request cut short).
#[derive(Debug)]
pub struct Reservation {
    store: Arc<Idempotency>,
    key: Option<Key>,
    digest: RequestDigest,
}

impl Reservation {
    /// Keeps the answer for repeats of the request.
    pub fn finish(mut self, status: StatusCode, body: String) {
        if let Some(k) = self.key.take() {
            let mut g = self.store.lock();
            if let Some(e) = g.by_key.get_mut(&k) {
                *e = Entry::Done(self.digest, status, body);
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let mut g = self.store.lock();
            if matches!(g.by_key.get(&k), Some(Entry::Running(d)) if d == &self.digest) {
                g.by_key.remove(&k);
                g.order.retain(|x| x != &k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_bound_to_its_request() {
        let store = Arc::new(Idempotency::new(2));
        let ana = AgentId::new("ana").unwrap_or_else(|_| unreachable!());
        let a = digest(&ana, "POST", "/x", b"{}");
        let b = digest(&ana, "POST", "/y", b"{}");
        let Seen::New(r) = store.begin(&ana, "k", a) else {
            unreachable!()
        };
        assert!(matches!(store.begin(&ana, "k", a), Seen::InProgress));
        assert!(matches!(store.begin(&ana, "k", b), Seen::Reused));
        r.finish(StatusCode::OK, "1".into());
        assert!(
            matches!(store.begin(&ana, "k", a), Seen::Replay(StatusCode::OK, ref s) if s == "1")
        );
        assert!(matches!(store.begin(&ana, "k", b), Seen::Reused));
        // A reservation dropped unfinished frees the key.
        let Seen::New(r) = store.begin(&ana, "j", a) else {
            unreachable!()
        };
        drop(r);
        assert!(matches!(store.begin(&ana, "j", b), Seen::New(_)));
        assert_ne!(core_key(&ana, "k"), core_key(&ana, "j"));
        assert!(core_key(&ana, &"x".repeat(200)).len() <= 200);
    }
}
