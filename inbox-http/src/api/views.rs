//! Inbox views, search, a conversation (and marking it read), a contact.

use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use inbox_core::model::ConversationStatus;
use inbox_core::query::{Cursor, SortOrder};
use inbox_core::search::SearchMatch;
use inbox_core::{
    Actor, ChannelId, ContactDetail, ContactId, ConversationDetail, ConversationId, TeamId, View,
    ViewQuery,
};

use super::session::{Caller, On};
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::AppState;

/// Inbox view parameters.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `mine`, `unassigned`, `team` (with `team`) or `all` (default).
    pub view: Option<String>,
    /// The team of `view=team`.
    pub team: Option<String>,
    /// Comma-separated statuses (default: the active ones).
    pub status: Option<String>,
    /// Only this number.
    pub channel: Option<String>,
    /// Only this tag.
    pub tag: Option<String>,
    /// `latest_activity` (default), `oldest_activity`, `waiting_longest`,
    /// `priority`, `newest`.
    pub sort: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Page size (default 50).
    pub limit: Option<u32>,
}

fn enum_param<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| ApiError::bad_request(format!("{field}: unknown value {v:?}")))
}

impl ListParams {
    fn query(&self) -> ApiResult<ViewQuery> {
        let view = match self.view.as_deref().unwrap_or("all") {
            "mine" => View::Mine,
            "unassigned" => View::Unassigned,
            "all" => View::All,
            "team" => View::Team(TeamId::new(
                self.team
                    .as_deref()
                    .ok_or_else(|| ApiError::bad_request("view=team needs team"))?,
            )?),
            other => return Err(ApiError::bad_request(format!("view: unknown {other:?}"))),
        };
        let mut q = ViewQuery::new(view);
        if let Some(st) = &self.status {
            q.statuses = st
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|x| enum_param::<ConversationStatus>("status", x))
                .collect::<ApiResult<_>>()?;
        }
        if let Some(c) = &self.channel {
            q.channel = Some(ChannelId::new(c)?);
        }
        if let Some(t) = &self.tag {
            q.tag = Some(t.clone());
        }
        if let Some(sort) = &self.sort {
            q.sort = enum_param::<SortOrder>("sort", sort)?;
        }
        if let Some(after) = &self.after {
            q.after = Some(enum_param::<Cursor>("after", after)?);
        }
        if let Some(l) = self.limit {
            q.limit = l;
        }
        Ok(q)
    }
}

/// A page of conversations with their contacts and the signed-in agent's
/// unread counts (so a list can show names and badges without a request
/// per row).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationPage {
    /// The conversations.
    pub items: Vec<inbox_core::model::Conversation>,
    /// Where the next page starts (pass as `after`).
    pub next: Option<Cursor>,
    /// Their contacts, by id.
    pub contacts: HashMap<ContactId, inbox_core::model::Contact>,
    /// For a search: the message that matched, by conversation.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub matched: HashMap<ConversationId, inbox_core::model::Message>,
    /// How many messages of each conversation the signed-in agent has not
    /// read (the conversation's messages, replies and notes since the agent
    /// last marked it read with `POST /api/conversations/{id}/read`; their
    /// own never count), by conversation: only those with unread messages
    /// (a conversation left out has none).
    pub unread: HashMap<ConversationId, u32>,
    /// For a search: what to highlight, by conversation: each field that
    /// matched (`message`, `contact_name`, `number`, `user_id`, `tag`,
    /// `attribute` with its `key`) and its words as written there.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub highlights: HashMap<ConversationId, Vec<SearchMatch>>,
}

/// Contacts and unread counts for a page of conversations.
async fn with_contacts(
    s: &AppState,
    a: &Actor,
    page: inbox_core::Page<inbox_core::model::Conversation>,
) -> ApiResult<Json<ConversationPage>> {
    let ids: Vec<ContactId> = page.items.iter().map(|c| c.contact.clone()).collect();
    let contacts: HashMap<ContactId, inbox_core::model::Contact> = s
        .inbox
        .contacts(a, &ids)
        .await?
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    let mut unread = s.inbox.unread(a, &page.items).await?;
    unread.retain(|_, n| *n > 0);
    Ok(Json(ConversationPage {
        items: page.items,
        next: page.next,
        contacts,
        matched: HashMap::new(),
        unread,
        highlights: HashMap::new(),
    }))
}

/// `GET /api/conversations`: a page of an inbox view.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", params(ListParams), responses((status = 200, body = ConversationPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn list(
    Caller(s, a): Caller,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<ConversationPage>> {
    let page = s.inbox.list(&a, &p.query()?).await?;
    with_contacts(&s, &a, page).await
}

/// `GET /api/counts`: how many conversations each of the signed-in
/// agent's views holds (theirs, unassigned, all, each of their teams'),
/// under the filters of [`ListParams`] (`status`, `channel`, `tag`; a
/// `view=team` adds that team). Each count stops at `cap` (1000).
#[utoipa::path(get, path = "/api/counts", tag = "conversations", params(ListParams), responses((status = 200, body = inbox_core::ViewCounts), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn counts(
    Caller(s, a): Caller,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<inbox_core::ViewCounts>> {
    Ok(Json(s.inbox.view_counts(&a, &p.query()?).await?))
}

/// Search parameters: the text (with the view's, [`ListParams`]).
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for.
    pub q: String,
}

/// `GET /api/search?q=`: conversations matching text, within what the agent
/// may see (case and accents aside; messages and notes, contact names,
/// numbers, user ids, tags and attribute values; resolved ones when
/// `status` names them), with the message that matched and what to
/// highlight.
#[utoipa::path(get, path = "/api/search", tag = "conversations", params(SearchParams, ListParams), responses((status = 200, body = ConversationPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn search(
    Caller(s, a): Caller,
    Query(p): Query<SearchParams>,
    Query(list): Query<ListParams>,
) -> ApiResult<Json<ConversationPage>> {
    let hits = s.inbox.search(&a, &p.q, &list.query()?).await?;
    let mut matched = HashMap::new();
    let mut highlights = HashMap::new();
    let mut items = Vec::with_capacity(hits.items.len());
    for h in hits.items {
        if let Some(m) = h.message {
            matched.insert(h.conversation.id.clone(), m);
        }
        if !h.matches.is_empty() {
            highlights.insert(h.conversation.id.clone(), h.matches);
        }
        items.push(h.conversation);
    }
    let page = inbox_core::Page {
        items,
        next: hits.next,
    };
    let Json(mut out) = with_contacts(&s, &a, page).await?;
    out.matched = matched;
    out.highlights = highlights;
    Ok(Json(out))
}

/// `GET /api/conversations/{id}`: the conversation with its messages,
/// notes, timeline, SLA state and customer context. Reading it does not
/// mark it read (`POST /api/conversations/{id}/read` does).
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations", params(("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "The conversation, its contact, messages and notes, timeline and customer context", body = inbox_core::ConversationDetail), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn conversation(on: On<ConversationId>) -> ApiResult<Json<ConversationDetail>> {
    Ok(Json(on.state.inbox.conversation(&on.actor, &on.id).await?))
}

/// `GET /api/contacts/{id}`: a contact and their conversations.
#[utoipa::path(get, path = "/api/contacts/{id}", tag = "contacts", params(("id" = String, Path, description = "Contact id")), responses((status = 200, description = "The contact and their conversations", body = inbox_core::ContactDetail), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn contact(on: On<ContactId>) -> ApiResult<Json<ContactDetail>> {
    Ok(Json(on.state.inbox.contact(&on.actor, &on.id).await?))
}

/// What `POST /api/conversations/{id}/read` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadView {
    /// What is left unread for the agent: 0.
    pub unread: u32,
    /// The agent's read marker: the conversation's message count they have
    /// seen (it never moves back).
    pub seen: u32,
}

/// `POST /api/conversations/{id}/read`: the signed-in agent has read the
/// conversation as it is now (call it when the conversation is shown).
/// Unread counts are the agent's own, the same on every device; markers
/// never move back, so a late or repeated request changes nothing. No
/// body, no idempotency key needed.
#[utoipa::path(post, path = "/api/conversations/{id}/read", tag = "conversations", params(("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "Marked read: `{unread: 0, seen}`", body = ReadView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn mark_read(on: On<ConversationId>) -> ApiResult<Json<ReadView>> {
    let seen = on.state.inbox.mark_read(&on.actor, &on.id).await?;
    Ok(Json(ReadView { unread: 0, seen }))
}
