//! Live updates to browsers: the event bus as server-sent events, filtered
//! to what the signed-in agent may see, for as long as the session lasts.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{future, Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use inbox_core::ports::{BusItem, Clock};

use super::api::Session;
use super::auth::{self, Auth};
use super::error::{ApiError, ApiResult};
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
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let token = auth::token(&headers).ok_or_else(ApiError::unauthenticated)?;
    let ended = s
        .auth
        .ended(&token, s.now())
        .ok_or_else(ApiError::unauthenticated)?;
    let session = SessionWatch {
        auth: s.auth.clone(),
        clock: s.inbox.ports().clock.clone(),
        token,
    };
    let events = s.inbox.subscribe(&actor).await?;
    let live = session.clone();
    let stream = events
        // The first event for the agent after the session expired ends
        // the stream unsent.
        .take_while(move |_| future::ready(live.valid()))
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

/// The session a stream belongs to.
#[derive(Clone)]
struct SessionWatch {
    auth: Arc<Auth>,
    clock: Arc<dyn Clock>,
    token: String,
}

impl SessionWatch {
    fn valid(&self) -> bool {
        self.auth.actor(&self.token, self.clock.now()).is_some()
    }

    /// Resolves when the session ends: signed out (at once), or expired
    /// (seen at the next check, every `every`).
    async fn over(self, mut ended: watch::Receiver<()>, every: Duration) {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        loop {
            tokio::select! {
                changed = ended.changed() => if changed.is_err() { return },
                _ = tick.tick() => if !self.valid() { return },
            }
        }
    }
}
