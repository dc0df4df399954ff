use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;

use crate::ports::{OutboundRequest, SendReceipt, ThreadControlRequest, Transport, TransportError};

/// A message a [`RecordingTransport`] accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// The request as the core made it.
    pub request: OutboundRequest,
    /// The provider id it was given.
    pub external_id: String,
}

/// A [`Transport`] that records what it is asked to send and answers with
/// ids `wamid.test.1`, `wamid.test.2` ...; failures can be scripted.
///
/// ```
/// use inbox_core::testing::RecordingTransport;
/// use inbox_core::ports::TransportError;
/// let t = RecordingTransport::new();
/// t.fail_next(TransportError::Transient { code: Some(2), message: "try again".into() });
/// assert!(t.sent().is_empty());
/// ```
#[derive(Default)]
pub struct RecordingTransport {
    state: Mutex<State>,
    prefix: String,
    hook: Mutex<Option<SendHook>>,
}

/// Called with the attempt's number (from 1) as each send is attempted.
type SendHook = Box<dyn Fn(u64) + Send + Sync>;

impl std::fmt::Debug for RecordingTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingTransport")
            .field("state", &*self.lock())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    sent: Vec<SentMessage>,
    attempts: u64,
    failures: VecDeque<TransportError>,
    thread_calls: Vec<ThreadControlRequest>,
    thread_failures: VecDeque<TransportError>,
}

impl RecordingTransport {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A recorder whose ids are `wamid.<prefix>.1`, ... (several recorders
    /// standing in for one provider must not hand out the same ids).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            ..Self::default()
        }
    }

    /// The next send fails with `error` (queued: call several times for
    /// several failures).
    pub fn fail_next(&self, error: TransportError) {
        self.lock().failures.push_back(error);
    }

    /// Runs `hook` with the attempt's number (from 1) as each send is
    /// attempted, before it is answered: fault-injection tests use it to
    /// take the store down while a message is with the provider.
    pub fn on_send(&self, hook: impl Fn(u64) + Send + Sync + 'static) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(hook));
    }

    /// Makes the next thread control call fail with `error` (once).
    pub fn fail_next_thread_call(&self, error: TransportError) {
        self.lock().thread_failures.push_back(error);
    }

    /// The thread control calls made (and not failed), in order.
    pub fn thread_calls(&self) -> Vec<ThreadControlRequest> {
        self.lock().thread_calls.clone()
    }

    /// Everything accepted so far, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    /// How many sends were attempted (accepted or failed).
    pub fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Transport for RecordingTransport {
    async fn send(&self, request: &OutboundRequest) -> Result<SendReceipt, TransportError> {
        let mut s = self.lock();
        s.attempts += 1;
        if let Some(hook) = &*self.hook.lock().unwrap_or_else(|e| e.into_inner()) {
            hook(s.attempts);
        }
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        let prefix = if self.prefix.is_empty() {
            "test"
        } else {
            &self.prefix
        };
        let external_id = format!("wamid.{prefix}.{}", s.sent.len() + 1);
        s.sent.push(SentMessage {
            request: request.clone(),
            external_id: external_id.clone(),
        });
        Ok(SendReceipt { external_id })
    }

    async fn thread_control(&self, request: &ThreadControlRequest) -> Result<(), TransportError> {
        let mut s = self.lock();
        if let Some(e) = s.thread_failures.pop_front() {
            return Err(e);
        }
        s.thread_calls.push(request.clone());
        Ok(())
    }
}
