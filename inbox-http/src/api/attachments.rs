//! Files from agents: `POST /api/conversations/{id}/attachments` uploads
//! the request's body to WhatsApp's media endpoint with the number's token,
//! then sends it to the customer as a reply (a photo, video, audio file or
//! document, with a caption where WhatsApp takes one).
//!
//! The body is the file itself (its `Content-Type` is the file's); what
//! goes with it is in the query: the conversation `version` the agent saw,
//! the `filename`, the `caption`, and optionally the `kind` (a photo may be
//! sent as a `document`, to keep its quality). Nothing is uploaded unless
//! the reply would be taken ([`Inbox::check_reply`](inbox_core::Inbox::check_reply)):
//! the window is open, the agent may reply, the caption fits. A retry under
//! the same `Idempotency-Key` gets the first answer and uploads nothing;
//! the file is kept in the media store under the new message, so the
//! conversation shows it from this server (`GET /api/media/{message_id}`).

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use inbox_core::model::{Content, Direction, MediaKind, MediaRef, Message};
use inbox_core::ports::{MediaKey, MediaObject};
use inbox_core::Reply;

use super::actions::{key_error, Act, ActHead};
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::media::{essence, MediaLimits};
use crate::AppState;

/// What goes with an agent's file (the query of
/// `POST /api/conversations/{id}/attachments`).
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttachmentQuery {
    /// Conversation version the agent saw.
    pub version: u64,
    /// The file's name, shown to the customer for documents (default
    /// `file`). Path separators and control characters are dropped.
    pub filename: Option<String>,
    /// A caption (photos, videos and documents only).
    pub caption: Option<String>,
    /// How to send it; by default from its content type (JPEG and PNG as
    /// photos, MP4 and 3GPP as videos, audio as audio, the rest as
    /// documents).
    #[param(value_type = Option<String>)]
    pub kind: Option<MediaKind>,
}

/// The content types WhatsApp takes for each kind of media an agent sends,
/// and the largest file of each kind (WhatsApp's limits).
pub const OUTBOUND_TYPES: &[(MediaKind, u64, &[&str])] = &[
    (MediaKind::Image, 5 << 20, &["image/jpeg", "image/png"]),
    (MediaKind::Video, 16 << 20, &["video/mp4", "video/3gpp"]),
    (
        MediaKind::Audio,
        16 << 20,
        &[
            "audio/aac",
            "audio/amr",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg",
        ],
    ),
    (MediaKind::Document, 100 << 20, MediaLimits::DOCUMENT_TYPES),
];

/// The file an agent sends: its bytes, type and what goes with it.
#[derive(Debug)]
pub struct Attachment {
    query: AttachmentQuery,
    content_type: String,
    bytes: Bytes,
}

/// `POST /api/conversations/{id}/attachments`: uploads the body (the file;
/// its `Content-Type` is the file's) to WhatsApp and sends it as a reply.
/// 413 `media_too_large` past WhatsApp's size for the kind or this
/// server's [`MediaLimits::max_upload_bytes`](crate::media::MediaLimits::max_upload_bytes);
/// 415 `unsupported_media_type` for a type WhatsApp does not take as that
/// kind; 409 `window_closed` and the other refusals of a reply before
/// anything is uploaded; 502 `graph_*` when Meta refuses the upload; 503
/// `media_unavailable` without a Graph API client.
#[utoipa::path(post, path = "/api/conversations/{id}/attachments", tag = "actions",
    params(("id" = String, Path, description = "Conversation id"),
        ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer (nothing uploaded again)"),
        AttachmentQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file, with its own Content-Type"),
    responses((status = 200, description = "The conversation after the reply, the message created", body = inbox_core::ActionOutcome),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, lease_held, window_closed, invalid_state, idempotency_key_in_use"),
        (status = 413, body = ApiError), (status = 415, body = ApiError), (status = 422, body = ApiError),
        (status = 502, body = ApiError), (status = 503, body = ApiError)))]
pub async fn attach(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let r = read(req, &state).await?;
    r.once(async |r| {
        let a = &r.form;
        let inbox = &r.state.inbox;
        let sent = Sent::of(a);
        if let Some(earlier) = inbox
            .earlier_reply(&r.actor, &r.id, &r.core_key())
            .await
            .map_err(key_error)?
        {
            let kind = kind_of(a)?;
            let same = |m: &Message| {
                m.direction == Direction::Outbound && m.content == sent.content(kind, media_id(m))
            };
            return r.same_request(earlier, None, same).await;
        }
        // Another tenant's conversation, one the agent may not see or may
        // not reply to now, is refused before anything about the file.
        inbox
            .check_reply(&r.actor, &r.id, a.query.version, false)
            .await?;
        let kind = kind_of(a)?;
        sent.content(kind, "pending".into()).validate_outbound()?;
        let id = upload(r, &sent.filename).await?;
        let mut reply = Reply::text("", r.core_key());
        reply.content = sent.content(kind, id);
        let outcome = inbox
            .reply(&r.actor, &r.id, a.query.version, reply)
            .await
            .map_err(key_error)?;
        keep(r, outcome.message.as_ref()).await;
        let same = |m: &Message| {
            m.direction == Direction::Outbound && m.content == sent.content(kind, media_id(m))
        };
        r.same_request(outcome, None, same).await
    })
    .await
}

/// What the message of an attachment says about its file.
struct Sent<'a> {
    attachment: &'a Attachment,
    filename: String,
    sha256: String,
}

impl<'a> Sent<'a> {
    fn of(attachment: &'a Attachment) -> Self {
        Self {
            attachment,
            filename: clean_filename(attachment.query.filename.as_deref()),
            sha256: hex::encode(Sha256::digest(&attachment.bytes)),
        }
    }

    /// The message's content, the file sent as `kind` with WhatsApp's
    /// media id `id`.
    fn content(&self, kind: MediaKind, id: String) -> Content {
        let a = self.attachment;
        Content::Media {
            kind,
            media: MediaRef {
                id: Some(id),
                link: None,
                mime_type: Some(a.content_type.clone()),
                sha256: Some(self.sha256.clone()),
                filename: (kind == MediaKind::Document).then(|| self.filename.clone()),
            },
            caption: a.query.caption.clone().filter(|c| !c.trim().is_empty()),
        }
    }
}

/// The action request: its head, the query, and the body read within the
/// upload limit.
async fn read(req: Request, state: &AppState) -> ApiResult<Act<Attachment>> {
    let (head, req) = ActHead::read(req, state).await?;
    let (mut parts, body) = req.into_parts();
    let Query(query) = Query::<AttachmentQuery>::from_request_parts(&mut parts, state).await?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
        .unwrap_or_default();
    let limit = state.settings.media.max_upload_bytes;
    let bytes = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|_| too_large(limit))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the file is empty"));
    }
    let attachment = Attachment {
        query,
        content_type,
        bytes,
    };
    let body = attachment.bytes.clone();
    head.with(attachment, &body)
}

/// The kind to send the file as: the one asked for if WhatsApp takes the
/// file's type as that kind, else the kind its type belongs to; within
/// WhatsApp's size for the kind.
fn kind_of(a: &Attachment) -> ApiResult<MediaKind> {
    if a.content_type.is_empty() {
        return Err(unsupported(
            "the request has no Content-Type: give the file's",
        ));
    }
    let takes = |(kind, _, types): &(MediaKind, u64, &[&str])| {
        a.query.kind.is_none_or(|k| k == *kind) && types.contains(&a.content_type.as_str())
    };
    let Some(&(kind, max, _)) = OUTBOUND_TYPES.iter().find(|t| takes(t)) else {
        let accepted: Vec<&str> = OUTBOUND_TYPES
            .iter()
            .filter(|(k, _, _)| a.query.kind.is_none_or(|asked| asked == *k))
            .flat_map(|(_, _, types)| types.iter().copied())
            .collect();
        return Err(unsupported(format!(
            "WhatsApp does not take {} {}; it takes {}",
            a.content_type,
            a.query
                .kind
                .map(|k| format!("as {}", k.wa_type()))
                .unwrap_or_default(),
            accepted.join(", ")
        )));
    };
    let size = a.bytes.len() as u64;
    if size > max {
        return Err(too_large(max));
    }
    Ok(kind)
}

/// Uploads the file with the conversation's number's token; its media id.
async fn upload(r: &Act<Attachment>, filename: &str) -> ApiResult<String> {
    let Some(graph) = &r.state.graph else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "media_unavailable",
            "this deployment has no WhatsApp Graph API client to upload files with",
        ));
    };
    let store = &r.state.inbox.ports().store;
    let conversation = r.state.inbox.conversation_state(&r.actor, &r.id).await?;
    let channel = store
        .channel(&r.actor.tenant, &conversation.channel)
        .await?;
    let a = &r.form;
    graph
        .upload_media(
            &channel.phone_number_id,
            a.bytes.clone(),
            &a.content_type,
            filename,
        )
        .await
        .map_err(|e| ApiError::from_graph(e, "taking the file"))
}

/// Keeps the file under the message sent, so the conversation shows it
/// from this server (a store that fails is logged: the file was sent).
async fn keep(r: &Act<Attachment>, message: Option<&Message>) {
    let (Some(store), Some(message)) = (&r.state.media, message) else {
        return;
    };
    let object = MediaObject {
        bytes: r.form.bytes.to_vec(),
        content_type: r.form.content_type.clone(),
    };
    let key = MediaKey::for_message(&message.id);
    if let Err(e) = store.put_media(&message.tenant, &key, object).await {
        tracing::warn!(message = %message.id, error = %e, "media store write failed; the file was sent");
    }
}

/// The media id of a media message (empty for any other).
fn media_id(m: &Message) -> String {
    match &m.content {
        Content::Media { media, .. } => media.id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A file name a customer's phone shows safely: without path separators or
/// control characters, at most 240 characters; `file` when nothing is
/// left.
fn clean_filename(name: Option<&str>) -> String {
    let cleaned: String = name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(240)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned.to_string()
    }
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
}

fn too_large(limit: u64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media_too_large",
        format!("the file is larger than the {limit} bytes WhatsApp or this server takes"),
    );
    e.details = Some(serde_json::json!({ "limit": limit }));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "etcpasswd");
        assert_eq!(clean_filename(Some("factura\n2026.pdf")), "factura2026.pdf");
        assert_eq!(clean_filename(Some("  ")), "file");
        assert_eq!(clean_filename(None), "file");
        assert_eq!(clean_filename(Some(&"a".repeat(500))).len(), 240);
    }
}
