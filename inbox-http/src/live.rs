//! Live updates to browsers: the event bus as server-sent events, filtered
//! to what the signed-in agent may see, for as long as the session lasts.

use axum::extract::State;
use axum::http::request::Parts;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{future, Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use inbox_core::event::{Event, Scope};
use inbox_core::ports::BusItem;
use inbox_core::{Actor, TenantId};

use super::api::Session;
use super::auth;
use super::error::ApiResult;
use super::identity::Refusal;
use super::AppState;

/// `GET /api/events`: `text/event-stream` of the tenant's events the agent
/// may see ([`Inbox::subscribe`](inbox_core::Inbox::subscribe): decided
/// from each event's scope, with no store read per event). Each SSE event
/// is named after the domain event (`claimed`, `message_received` ...),
/// carries its `seq` as id and the event as JSON data. `lagged` means
/// events were dropped (the bus fell behind, or the store could not say
/// whether the agent may see one): reload what is on screen. The stream
/// ends when the session is signed out or expires.
#[utoipa::path(get, path = "/api/events", tag = "live", responses(
    (status = 200, content_type = "text/event-stream", description = "Server-sent events: `event:` the domain event's name, `id:` its seq, `data:` the `inbox_core::Event` as JSON; `lagged` when events were dropped (reload what is shown). Ends with the session.", body = String),
    (status = 401, body = super::error::ApiError)))]
pub async fn events(
    State(s): State<AppState>,
    Session(actor): Session,
    request: Parts,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    // A built-in session's sign-out ends the stream at once; any other
    // end is seen at the next check.
    let ended = auth::token(&request.headers).map(|t| s.auth.ended(&t));
    let session = SessionWatch {
        state: s.clone(),
        request: Arc::new(request),
        actor: actor.clone(),
        checked: Arc::new(std::sync::Mutex::new(s.now())),
        refreshing: Arc::default(),
    };
    let events = s.inbox.subscribe(&actor).await?;
    let live = session.clone();
    let encoded = s.live.clone();
    let stream = events
        // The first event for the agent after the session ended ends the
        // stream unsent.
        .then(move |item| {
            let live = live.clone();
            async move { live.valid_lately().await.then_some(item) }
        })
        .take_while(|item| future::ready(item.is_some()))
        .filter_map(future::ready)
        .filter_map(move |item| {
            future::ready(match item {
                BusItem::Lagged(n) => {
                    Some(Ok(SseEvent::default().event("lagged").data(n.to_string())))
                }
                BusItem::Event(event) => encoded.json(&event).map(|data| {
                    Ok(SseEvent::default()
                        .event(event.kind.name())
                        .id(event.seq.to_string())
                        .data(&*data))
                }),
            })
        })
        .take_until(session.over(ended, s.settings.live_check));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The JSON of the latest stored events as the live streams send them,
/// made once per event rather than once per stream that sends it (every
/// agent of a team, of the tenant for a tenant-wide event). Keyed by
/// tenant and sequence number; an entry is used only for an event with
/// the same scope (a subscription may have filled in one the event
/// lacked). Live-only events (sequence 0) are encoded each time.
#[derive(Debug, Default)]
pub struct EncodedEvents {
    recent: std::sync::Mutex<Recent>,
}

/// [`EncodedEvents`]' entries, the oldest forgotten first.
#[derive(Debug, Default)]
struct Recent {
    by_event: std::collections::HashMap<(TenantId, u64), (Option<Scope>, Arc<str>)>,
    order: std::collections::VecDeque<(TenantId, u64)>,
}

/// How many events' JSON [`EncodedEvents`] keeps.
const ENCODED: usize = 1024;

impl EncodedEvents {
    /// `event` as JSON, encoded once for every stream that sends it.
    pub fn json(&self, event: &Event) -> Option<Arc<str>> {
        if event.seq == 0 {
            return serde_json::to_string(event).ok().map(Arc::from);
        }
        let key = (event.tenant.clone(), event.seq);
        {
            let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((scope, json)) = recent.by_event.get(&key) {
                if *scope == event.scope {
                    return Some(json.clone());
                }
            }
        }
        let json: Arc<str> = Arc::from(serde_json::to_string(event).ok()?);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if !recent.by_event.contains_key(&key) {
            if recent.order.len() >= ENCODED {
                if let Some(old) = recent.order.pop_front() {
                    recent.by_event.remove(&old);
                }
            }
            recent.order.push_back(key.clone());
        }
        recent
            .by_event
            .insert(key, (event.scope.clone(), json.clone()));
        Some(json)
    }
}

/// The session a stream belongs to: the request that opened it, asked
/// again of the identity (and the tenant gate) now and then.
#[derive(Clone)]
struct SessionWatch {
    state: AppState,
    request: Arc<Parts>,
    actor: Actor,
    /// When (by the inbox's clock) the session was last found valid.
    checked: Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>,
    /// Whether a check started by [`SessionWatch::valid_lately`] runs.
    refreshing: Arc<std::sync::atomic::AtomicBool>,
}

/// How long a stream's session counts as checked (events in between are
/// sent without asking the store again).
const RECHECK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

impl SessionWatch {
    /// Whether the request still identifies the same actor of a tenant not
    /// suspended (a store that cannot say keeps the stream: an outage is
    /// not a sign-out).
    async fn valid(&self) -> bool {
        let same = match self.state.identity.identify(&self.request).await {
            Ok(a) => a == self.actor,
            Err(Refusal::Unavailable(_)) => true,
            Err(_) => false,
        };
        let admitted = match self
            .state
            .tenants
            .admit(&self.state, &self.actor.tenant)
            .await
        {
            Ok(()) => true,
            Err(e) => e.status != axum::http::StatusCode::FORBIDDEN,
        };
        let ok = same && admitted;
        if ok {
            *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = self.state.now();
        }
        ok
    }

    /// [`SessionWatch::valid`], asked at most every [`RECHECK`]. Past half
    /// of it, an event starts the check beside it (its answer counts for
    /// the events after), so that events flowing to a stream never wait
    /// for one: the agents of a team get the same events at once, and
    /// would all check their sessions in the same moment, each event
    /// waiting for the slowest. A check that finds the session over makes
    /// the next event check again, before it is sent.
    async fn valid_lately(&self) -> bool {
        use std::sync::atomic::Ordering;
        let at = *self.checked.lock().unwrap_or_else(|e| e.into_inner());
        let since = self.state.now() - at;
        if since < chrono::TimeDelta::zero() || since >= RECHECK {
            return self.valid().await;
        }
        if since >= RECHECK / 2 && !self.refreshing.swap(true, Ordering::AcqRel) {
            let watch = self.clone();
            tokio::spawn(async move {
                if !watch.valid().await {
                    *watch.checked.lock().unwrap_or_else(|e| e.into_inner()) =
                        chrono::DateTime::<chrono::Utc>::MIN_UTC;
                }
                watch.refreshing.store(false, Ordering::Release);
            });
        }
        true
    }

    /// Resolves when the session ends: signed out here (at once, when
    /// `ended` is given), or no longer identified (seen at the next check,
    /// every `every`: expired, revoked, signed out elsewhere).
    async fn over(self, ended: Option<watch::Receiver<()>>, every: Duration) {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        let (mut ended, watched) = match ended {
            Some(rx) => (rx, true),
            None => (watch::channel(()).1, false),
        };
        loop {
            tokio::select! {
                changed = ended.changed(), if watched => if changed.is_err() { return },
                _ = tick.tick() => if !self.valid().await { return },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use inbox_core::event::{EventActor, EventKind};
    use inbox_core::{ChannelId, ConversationId, MessageId};

    fn event(seq: u64, channel: &str) -> Event {
        let mut e = Event::new(
            TenantId::new("acme").unwrap(),
            chrono::DateTime::UNIX_EPOCH,
            EventActor::System,
            EventKind::MessageReceived {
                message: MessageId::new("m1").unwrap(),
                content: "text".into(),
            },
        )
        .on(&ConversationId::new("c1").unwrap(), 3);
        e.seq = seq;
        e.scope = Some(Scope {
            channel: ChannelId::new(channel).unwrap(),
            team: None,
            owner: None,
        });
        e
    }

    /// A stored event is encoded once for every stream; an event with
    /// another scope, or a live-only one, is encoded anew; the JSON is the
    /// event's own.
    #[test]
    fn each_stored_event_is_encoded_once() {
        let cache = EncodedEvents::default();
        let (a, b) = (event(7, "sales"), event(7, "sales"));
        let first = cache.json(&a).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.json(&b).unwrap()));
        assert_eq!(&*first, serde_json::to_string(&a).unwrap());
        let other = event(7, "support");
        let json = cache.json(&other).unwrap();
        assert!(!Arc::ptr_eq(&first, &json));
        assert_eq!(&*json, serde_json::to_string(&other).unwrap());
        let live = event(0, "sales");
        let once = cache.json(&live).unwrap();
        assert!(!Arc::ptr_eq(&once, &cache.json(&live).unwrap()));
        for seq in 100..100 + ENCODED as u64 + 10 {
            cache.json(&event(seq, "sales")).unwrap();
        }
        let recent = cache.recent.lock().unwrap();
        assert_eq!(recent.by_event.len(), ENCODED);
        assert_eq!(recent.order.len(), ENCODED);
    }
}
