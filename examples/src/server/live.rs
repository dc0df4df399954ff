//! Live updates to browsers: the event bus as server-sent events, filtered
//! to what the signed-in agent may see.

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;

use inbox_core::permissions;
use inbox_core::ports::BusItem;

use super::api::Session;
use super::error::ApiResult;
use super::AppState;

/// `GET /api/events`: `text/event-stream` of the tenant's events the agent
/// may see. Each SSE event is named after the domain event (`claimed`,
/// `message_received` ...), carries its `seq` as id and the event as JSON
/// data. `lagged` means events were dropped: reload what is on screen.
#[utoipa::path(get, path = "/api/events", tag = "live", responses(
    (status = 200, content_type = "text/event-stream", description = "Server-sent events: `event:` the domain event's name, `id:` its seq, `data:` the `inbox_core::Event` as JSON; `lagged` when events were dropped", body = String),
    (status = 401, body = super::error::ApiError)))]
pub async fn events(
    State(s): State<AppState>,
    Session(actor): Session,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let store = s.inbox.ports().store.clone();
    let agent = store.agent(&actor.tenant, &actor.agent).await?;
    let bus = s.inbox.ports().bus.subscribe(&actor.tenant);
    let stream = bus.filter_map(move |item| {
        let store = store.clone();
        let agent = agent.clone();
        async move {
            let event = match item {
                BusItem::Lagged(n) => {
                    return Some(Ok(SseEvent::default().event("lagged").data(n.to_string())))
                }
                BusItem::Event(e) => e,
            };
            if let Some(id) = &event.conversation {
                // What the agent may not see does not reach their browser.
                let c = store.conversation(&event.tenant, id).await.ok()?;
                if !permissions::can_view(&agent, &c) {
                    return None;
                }
            }
            let data = serde_json::to_string(&event).ok()?;
            Some(Ok(SseEvent::default()
                .event(event.kind.name())
                .id(event.seq.to_string())
                .data(data)))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
