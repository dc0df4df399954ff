//! Request bodies for `POST /{version}/{phone_number_id}/messages` and
//! `…/thread_control`.

use serde_json::{json, Map, Value};

use inbox_core::model::{ContactCard, Content, MediaKind};
use inbox_core::ports::{OutboundRequest, ThreadAction, ThreadControlRequest, TransportError};

fn rejected(message: impl Into<String>) -> TransportError {
    TransportError::Rejected {
        code: None,
        message: message.into(),
    }
}

fn card(c: &ContactCard) -> Value {
    if c.raw.is_object() {
        return c.raw.clone();
    }
    json!({
        "name": { "formatted_name": c.name, "first_name": c.name },
        "phones": c.phones.iter().map(|p| json!({ "phone": p })).collect::<Vec<_>>(),
        "emails": c.emails.iter().map(|e| json!({ "email": e })).collect::<Vec<_>>(),
    })
}

/// A JSON object of the fields that have a value, in their order.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let present = fields
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)));
    Value::Object(present.collect())
}

/// An optional text as a JSON string.
fn text(v: &Option<String>) -> Option<Value> {
    v.as_ref().map(|s| json!(s))
}

fn interactive_frame(
    kind: &str,
    header: &Option<String>,
    body: &str,
    footer: &Option<String>,
    action: Value,
) -> Value {
    object([
        ("type", Some(json!(kind))),
        (
            "header",
            header
                .as_ref()
                .map(|h| json!({ "type": "text", "text": h })),
        ),
        ("body", Some(json!({ "text": body }))),
        ("footer", footer.as_ref().map(|f| json!({ "text": f }))),
        ("action", Some(action)),
    ])
}

/// The JSON body that sends `request`'s content (our message id travels as
/// `biz_opaque_callback_data`).
///
/// ```
/// use inbox_core::model::{Channel, ContactIdentity, Content};
/// use inbox_core::ports::OutboundRequest;
/// use inbox_core::{ChannelId, MessageId, TenantId};
/// let req = OutboundRequest {
///     tenant: TenantId::new("t").unwrap(),
///     channel: Channel::new(TenantId::new("t").unwrap(), ChannelId::new("c").unwrap(), "106", "+1"),
///     to: ContactIdentity::wa("16505551234"),
///     message_id: MessageId::new("msg-1").unwrap(),
///     content: Content::text("Hello"),
///     reply_to: Some("wamid.prev".into()),
/// };
/// let body = inbox_whatsapp::message_body(&req).unwrap();
/// assert_eq!(body["text"]["body"], "Hello");
/// assert_eq!(body["context"]["message_id"], "wamid.prev");
/// assert_eq!(body["biz_opaque_callback_data"], "msg-1");
/// ```
pub fn message_body(request: &OutboundRequest) -> Result<Value, TransportError> {
    let mut body = Map::new();
    body.insert("messaging_product".into(), json!("whatsapp"));
    body.insert("recipient_type".into(), json!("individual"));
    match (&request.to.wa_id, &request.to.user_id) {
        (Some(wa), _) => {
            body.insert("to".into(), json!(wa));
        }
        (None, Some(user)) => {
            body.insert("recipient".into(), json!(user));
        }
        (None, None) => return Err(rejected("the contact has neither a wa_id nor a user_id")),
    }
    let (kind, payload) = match &request.content {
        Content::Text { body, preview_url } => {
            ("text", json!({ "body": body, "preview_url": preview_url }))
        }
        Content::Media {
            kind,
            media,
            caption,
        } => {
            let mut m = Map::new();
            match (&media.id, &media.link) {
                (Some(id), _) => m.insert("id".into(), json!(id)),
                (None, Some(link)) => m.insert("link".into(), json!(link)),
                (None, None) => return Err(rejected("media needs an id or a link")),
            };
            let captioned = matches!(
                kind,
                MediaKind::Image | MediaKind::Video | MediaKind::Document
            );
            if let (true, Some(c)) = (captioned, caption) {
                m.insert("caption".into(), json!(c));
            }
            if let (MediaKind::Document, Some(f)) = (kind, &media.filename) {
                m.insert("filename".into(), json!(f));
            }
            (kind.wa_type(), Value::Object(m))
        }
        Content::Location {
            latitude,
            longitude,
            name,
            address,
        } => (
            "location",
            object([
                ("latitude", Some(json!(latitude))),
                ("longitude", Some(json!(longitude))),
                ("name", text(name)),
                ("address", text(address)),
            ]),
        ),
        Content::Contacts { cards } => ("contacts", Value::Array(cards.iter().map(card).collect())),
        Content::Reaction { target, emoji } => (
            "reaction",
            // An empty emoji removes an earlier reaction.
            json!({ "message_id": target, "emoji": emoji.clone().unwrap_or_default() }),
        ),
        Content::Template {
            name,
            language,
            components,
        } => {
            let empty = components.is_null() || components.as_array().is_some_and(Vec::is_empty);
            let template = object([
                ("name", Some(json!(name))),
                ("language", Some(json!({ "code": language }))),
                ("components", (!empty).then(|| components.clone())),
            ]);
            ("template", template)
        }
        Content::Buttons {
            header,
            body,
            footer,
            buttons,
        } => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
                .collect();
            (
                "interactive",
                interactive_frame(
                    "button",
                    header,
                    body,
                    footer,
                    json!({ "buttons": buttons }),
                ),
            )
        }
        Content::List {
            header,
            body,
            footer,
            button,
            sections,
        } => {
            let sections: Vec<Value> = sections
                .iter()
                .map(|s| {
                    let rows: Vec<Value> = s
                        .rows
                        .iter()
                        .map(|(id, title, description)| {
                            object([
                                ("id", Some(json!(id))),
                                ("title", Some(json!(title))),
                                ("description", text(description)),
                            ])
                        })
                        .collect();
                    json!({ "title": s.title, "rows": rows })
                })
                .collect();
            (
                "interactive",
                interactive_frame(
                    "list",
                    header,
                    body,
                    footer,
                    json!({ "button": button, "sections": sections }),
                ),
            )
        }
        other => {
            return Err(rejected(format!(
                "{} cannot be sent to a customer",
                other.kind()
            )))
        }
    };
    body.insert("type".into(), json!(kind));
    body.insert(kind.into(), payload);
    if let Some(reply_to) = &request.reply_to {
        body.insert("context".into(), json!({ "message_id": reply_to }));
    }
    body.insert(
        "biz_opaque_callback_data".into(),
        json!(request.message_id.as_str()),
    );
    Ok(Value::Object(body))
}

/// The body that marks a received message as read, optionally showing the
/// typing indicator to the customer.
///
/// ```
/// let b = inbox_whatsapp::mark_read_body("wamid.1", true);
/// assert_eq!(b["status"], "read");
/// assert_eq!(b["typing_indicator"]["type"], "text");
/// ```
pub fn mark_read_body(message_id: &str, typing_indicator: bool) -> Value {
    let mut b = json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id,
    });
    if typing_indicator {
        b["typing_indicator"] = json!({ "type": "text" });
    }
    b
}

/// The body of a thread control call (`POST /{phone_number_id}/thread_control`):
/// the customer by phone number (`to`) or BSUID (`recipient`), the action,
/// its metadata and, for a pass, the role to pass to.
///
/// ```
/// use inbox_core::model::{Channel, ContactIdentity};
/// use inbox_core::ports::{ThreadAction, ThreadControlRequest};
/// use inbox_core::{ChannelId, TenantId};
/// let request = ThreadControlRequest {
///     tenant: TenantId::new("acme").unwrap(),
///     channel: Channel::new(TenantId::new("acme").unwrap(), ChannelId::new("sales").unwrap(), "1001", "34600100100"),
///     customer: ContactIdentity::user("ES.marta"),
///     action: ThreadAction::Pass { target_role: "ai_agent".into() },
///     metadata: Some("resolved".into()),
/// };
/// let b = inbox_whatsapp::thread_control_body(&request).unwrap();
/// assert_eq!(b["recipient"], "ES.marta");
/// assert_eq!(b["action"], "pass");
/// assert_eq!(b["control_pass"]["target_role"], "ai_agent");
/// ```
pub fn thread_control_body(request: &ThreadControlRequest) -> Result<Value, TransportError> {
    let mut body = Map::new();
    body.insert("messaging_product".into(), json!("whatsapp"));
    match (&request.customer.wa_id, &request.customer.user_id) {
        (Some(wa), _) => body.insert("to".into(), json!(wa)),
        (None, Some(user)) => body.insert("recipient".into(), json!(user)),
        (None, None) => return Err(rejected("the contact has neither a wa_id nor a user_id")),
    };
    body.insert("action".into(), json!(request.action.name()));
    if let Some(m) = request.metadata.as_ref().filter(|m| !m.is_empty()) {
        body.insert("metadata".into(), json!(m));
    }
    if let ThreadAction::Pass { target_role } = &request.action {
        body.insert("control_pass".into(), json!({ "target_role": target_role }));
    }
    Ok(Value::Object(body))
}
