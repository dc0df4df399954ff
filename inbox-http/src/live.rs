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

use inbox_core::ports::BusItem;
use inbox_core::Actor;

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
    };
    let events = s.inbox.subscribe(&actor).await?;
    let live = session.clone();
    let stream = events
        // The first event for the agent after the session ended ends the
        // stream unsent.
        .then(move |item| {
            let live = live.clone();
            async move { live.valid_lately().await.then_some(item) }
        })
        .take_while(|item| future::ready(item.is_some()))
        .filter_map(future::ready)
        .filter_map(|item| {
            future::ready(match item {
                BusItem::Lagged(n) => {
                    Some(Ok(SseEvent::default().event("lagged").data(n.to_string())))
                }
                BusItem::Event(event) => serde_json::to_string(&event).ok().map(|data| {
                    Ok(SseEvent::default()
                        .event(event.kind.name())
                        .id(event.seq.to_string())
                        .data(data))
                }),
            })
        })
        .take_until(session.over(ended, s.settings.live_check));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
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

    /// [`SessionWatch::valid`], asked at most every [`RECHECK`].
    async fn valid_lately(&self) -> bool {
        let at = *self.checked.lock().unwrap_or_else(|e| e.into_inner());
        let since = self.state.now() - at;
        (since >= chrono::TimeDelta::zero() && since < RECHECK) || self.valid().await
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
