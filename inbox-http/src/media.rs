//! The media proxy: the files of media messages (images, stickers, voice
//! notes, videos, documents) served to agents in place, from this server.
//!
//! Meta's download links expire within minutes, its media ids after about
//! 30 days, and they need the number's access token, which a browser must
//! never get. So `GET /api/media/{message_id}` fetches the file from the
//! Graph API with the number's token (through [`AppState::graph`]), keeps
//! it in the media store ([`AppState::media`], a
//! [`MediaStore`](inbox_core::ports::MediaStore)) and serves it; later requests are served from the
//! store. [`prefetch`] keeps the file of a new message shortly after it
//! arrives, before Meta's link expires; a prefetch that failed is tried
//! again when an agent opens the file.
//!
//! What is served is bounded by [`MediaLimits`] (sizes per kind, the
//! content types served as they are) and answered with headers that keep a
//! file from acting as a page of this origin: `X-Content-Type-Options:
//! nosniff`, `Content-Disposition` (inline only for images, audio and
//! video of an allowed type), and `Content-Security-Policy: sandbox` for
//! everything else.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use inbox_core::model::{Content, MediaKind, MediaRef, Message};
use inbox_core::ports::{MediaKey, MediaObject};
use inbox_core::{Actor, MessageId, TenantId};

use crate::api::On;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// What the media proxy fetches, keeps and serves.
#[derive(Debug, Clone)]
pub struct MediaLimits {
    /// The largest image, sticker, audio or video file, in bytes (default
    /// 16 MiB: WhatsApp's limit for audio and video; images are 5 MB,
    /// stickers 500 KB).
    pub max_media_bytes: u64,
    /// The largest document, in bytes (default 100 MiB, WhatsApp's limit).
    pub max_document_bytes: u64,
    /// The content types served as they are (lower case, without
    /// parameters); anything else is served as `application/octet-stream`,
    /// to download. Default: [`MediaLimits::PLAYABLE_TYPES`] and
    /// [`MediaLimits::DOCUMENT_TYPES`].
    pub allowed_types: Vec<String>,
    /// How long a browser may keep a file (`Cache-Control: private`).
    pub max_age: Duration,
    /// The largest file an agent may send
    /// (`POST /api/conversations/{id}/attachments`), in bytes, whatever
    /// WhatsApp takes for its kind (default 16 MiB). The request body
    /// limit of that route.
    pub max_upload_bytes: u64,
}

impl MediaLimits {
    /// The image, sticker, audio and video types served as they are by
    /// default: WhatsApp's. Never SVG (it runs scripts).
    pub const PLAYABLE_TYPES: &'static [&'static str] = &[
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "audio/ogg",
        "audio/opus",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
        "video/mp4",
        "video/3gpp",
    ];

    /// The document types WhatsApp takes and the inbox serves as they are
    /// by default: PDF, Office documents and plain text. Never HTML (it
    /// runs scripts).
    pub const DOCUMENT_TYPES: &'static [&'static str] = &[
        "application/pdf",
        "text/plain",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ];

    /// The largest file of `kind`.
    pub fn max_bytes(&self, kind: MediaKind) -> u64 {
        match kind {
            MediaKind::Document => self.max_document_bytes,
            _ => self.max_media_bytes,
        }
    }

    /// Whether `content_type` (any case, parameters ignored) is served as
    /// it is.
    pub fn allows(&self, content_type: &str) -> bool {
        let essence = essence(content_type);
        self.allowed_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&essence))
    }
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_media_bytes: 16 << 20,
            max_document_bytes: 100 << 20,
            allowed_types: Self::PLAYABLE_TYPES
                .iter()
                .chain(Self::DOCUMENT_TYPES)
                .map(|t| t.to_string())
                .collect(),
            max_age: Duration::from_secs(24 * 60 * 60),
            max_upload_bytes: 16 << 20,
        }
    }
}

/// A content type without parameters, lower case (`audio/ogg; codecs=opus`
/// is `audio/ogg`).
pub(crate) fn essence(content_type: &str) -> String {
    let end = content_type.find(';').unwrap_or(content_type.len());
    content_type[..end].trim().to_ascii_lowercase()
}

/// `GET /api/media/{message_id}`: the file of a media message, for an
/// agent who may see its conversation (another tenant's message, one the
/// agent may not see, or an unknown id: 404 `not_found`; a message without
/// a file: 404 `not_media`). Served from the media store when kept, else
/// fetched from Meta with the number's token and kept. 413
/// `media_too_large` past [`MediaLimits`]' size (nothing kept); 502
/// `graph_*` when Meta refuses or fails; 503 `media_unavailable` when this
/// deployment has no Graph client and the file is not kept.
#[utoipa::path(get, path = "/api/media/{message_id}", tag = "conversations",
    params(("message_id" = String, Path, description = "The message whose file to serve")),
    responses(
        (status = 200, description = "The file, with its content type (or application/octet-stream to download)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 413, body = ApiError),
        (status = 502, body = ApiError), (status = 503, body = ApiError)))]
pub async fn media(On { state, actor, id }: On<MessageId>) -> ApiResult<Response> {
    let message = visible_message(&state, &actor, &id).await?;
    let (kind, media) = file_of(&message)?;
    let object = match kept(&state, &actor.tenant, &id).await {
        Some(object) => object,
        None => fetch_and_keep(&state, &message, kind, media).await?,
    };
    Ok(serve(&state.settings.media, &id, kind, media, object))
}

/// The message if the agent may see its conversation; 404 otherwise (as if
/// it did not exist: the core answers 403 for a conversation the agent may
/// not see, which would tell that the message exists).
async fn visible_message(state: &AppState, actor: &Actor, id: &MessageId) -> ApiResult<Message> {
    let message = state.inbox.ports().store.message(&actor.tenant, id).await?;
    match state
        .inbox
        .conversation_state(actor, &message.conversation)
        .await
    {
        Ok(_) => Ok(message),
        Err(inbox_core::Error::Forbidden { .. }) => Err(not_found(id)),
        Err(e) => Err(e.into()),
    }
}

fn not_found(id: &MessageId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("message {id:?} not found"),
    )
}

/// The kind and reference of a message's file; 404 `not_media` when it has
/// none to fetch.
fn file_of(message: &Message) -> ApiResult<(MediaKind, &MediaRef)> {
    match &message.content {
        Content::Media { kind, media, .. } if media.id.is_some() => Ok((*kind, media)),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_media",
            format!(
                "message {:?} has no media file to serve",
                message.id.as_str()
            ),
        )),
    }
}

/// The file as kept, if it is (a store that fails is logged and passed
/// over: Meta is asked instead).
async fn kept(state: &AppState, tenant: &TenantId, id: &MessageId) -> Option<MediaObject> {
    let store = state.media.as_ref()?;
    match store.media(tenant, &MediaKey::for_message(id)).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(message = %id, error = %e, "media store read failed; asking Meta");
            None
        }
    }
}

/// Fetches a message's file from Meta with its number's token, within the
/// size limit, and keeps it (a store that fails is logged: the file is
/// still served).
async fn fetch_and_keep(
    state: &AppState,
    message: &Message,
    kind: MediaKind,
    media: &MediaRef,
) -> ApiResult<MediaObject> {
    let Some(graph) = &state.graph else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "media_unavailable",
            "this file is not kept and this deployment has no WhatsApp Graph API client to fetch it with",
        ));
    };
    let media_id = media.id.as_deref().unwrap_or_default();
    let store = &state.inbox.ports().store;
    let channel = store.channel(&message.tenant, &message.channel).await?;
    let number = Some(channel.phone_number_id.as_str());
    let limit = state.settings.media.max_bytes(kind);
    let info = graph
        .media_info(number, media_id)
        .await
        .map_err(|e| ApiError::from_graph(e, "giving the file"))?;
    if let Some(size) = info.file_size.filter(|s| *s > limit) {
        return Err(too_large(size, limit));
    }
    let file = graph
        .download_media_at(number, info)
        .await
        .map_err(|e| ApiError::from_graph(e, "giving the file"))?;
    let size = file.bytes.len() as u64;
    if size > limit {
        return Err(too_large(size, limit));
    }
    let content_type = (file.info.mime_type.as_deref())
        .or(media.mime_type.as_deref())
        .filter(|t| inbox_core::ports::check_content_type(t).is_ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let object = MediaObject {
        bytes: file.bytes.to_vec(),
        content_type,
    };
    if let Some(kept) = &state.media {
        let key = MediaKey::for_message(&message.id);
        if let Err(e) = kept.put_media(&message.tenant, &key, object.clone()).await {
            tracing::warn!(message = %message.id, error = %e, "media store write failed; served unkept");
        }
    }
    Ok(object)
}

fn too_large(size: u64, limit: u64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media_too_large",
        format!("the file is {size} bytes, more than the {limit} this server serves"),
    );
    e.details = Some(serde_json::json!({ "size": size, "limit": limit }));
    e
}

/// The answer: the file with headers that keep it from acting as a page of
/// this origin.
fn serve(
    limits: &MediaLimits,
    id: &MessageId,
    kind: MediaKind,
    media: &MediaRef,
    object: MediaObject,
) -> Response {
    let allowed = limits.allows(&object.content_type);
    let content_type = if allowed {
        essence(&object.content_type)
    } else {
        "application/octet-stream".into()
    };
    let playable = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| content_type.starts_with(p));
    let inline = allowed && playable;
    let disposition = if inline {
        "inline".to_string()
    } else {
        attachment(media.filename.as_deref(), kind, id)
    };
    let mut res = (StatusCode::OK, object.bytes).into_response();
    let h = res.headers_mut();
    let value = |s: &str| {
        HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("application/octet-stream"))
    };
    h.insert(header::CONTENT_TYPE, value(&content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    } else {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={}", limits.max_age.as_secs()))
    {
        h.insert(header::CACHE_CONTROL, v);
    }
    if !inline {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        );
    }
    res
}

/// `attachment` with the file's name: an ASCII `filename` (anything but
/// letters, digits, space, `.`, `-`, `_`, `(`, `)` made `_`) and the name
/// itself in `filename*` (RFC 5987), both without paths, quotes or control
/// characters; a message without a name gets `{kind}-{message id}`.
fn attachment(filename: Option<&str>, kind: MediaKind, id: &MessageId) -> String {
    let name: String = filename
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .take(120)
        .collect();
    let name = name.trim().trim_start_matches('.').trim();
    let name = if name.is_empty() {
        format!("{}-{}", kind.wa_type(), MediaKey::for_message(id))
    } else {
        name.to_string()
    };
    let ascii: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | ' ' | '.' | '-' | '_' | '(' | ')' => c,
            _ => '_',
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Keeps the file of message `id` of `tenant` if it has one not kept yet:
/// for new messages, soon after they arrive and before Meta's download
/// link expires (the example server runs it on each `message_received`
/// event). `Ok(true)` when it fetched and kept the file now; `Ok(false)`
/// when there was nothing to do (no media store, no file, already kept).
/// A failure is for the caller to log: the file is fetched again when an
/// agent opens it.
pub async fn prefetch(state: &AppState, tenant: &TenantId, id: &MessageId) -> ApiResult<bool> {
    if state.media.is_none() {
        return Ok(false);
    }
    let message = state.inbox.ports().store.message(tenant, id).await?;
    let Ok((kind, media)) = file_of(&message) else {
        return Ok(false);
    };
    if kept(state, tenant, id).await.is_some() {
        return Ok(false);
    }
    fetch_and_keep(state, &message, kind, media).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn types_are_allowed_by_their_essence() {
        let limits = MediaLimits::default();
        assert!(limits.allows("audio/ogg; codecs=opus"));
        assert!(limits.allows("IMAGE/PNG"));
        assert!(!limits.allows("image/svg+xml"));
        assert!(!limits.allows("text/html"));
        assert_eq!(limits.max_bytes(MediaKind::Document), 100 << 20);
        assert_eq!(limits.max_bytes(MediaKind::Voice), 16 << 20);
    }

    #[test]
    fn attachment_names_carry_no_path_quote_or_control() {
        let id = MessageId::new("m1").unwrap();
        let d = attachment(Some("../../etc/pa\"ss\r\nwd.pdf"), MediaKind::Document, &id);
        assert_eq!(
            d,
            "attachment; filename=\"etcpasswd.pdf\"; filename*=UTF-8''etcpasswd.pdf"
        );
        let d = attachment(Some("facture é.pdf"), MediaKind::Document, &id);
        assert_eq!(
            d,
            "attachment; filename=\"facture _.pdf\"; filename*=UTF-8''facture%20%C3%A9.pdf"
        );
        let d = attachment(None, MediaKind::Voice, &id);
        assert!(d.contains("filename=\"audio-m1\""), "{d}");
        assert!(HeaderValue::from_str(&d).is_ok());
    }
}
