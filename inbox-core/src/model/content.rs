use serde::{Deserialize, Serialize};

/// The kind of a media attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A video.
    Video,
    /// An audio file.
    Audio,
    /// A voice note (audio recorded in WhatsApp).
    Voice,
    /// A document (PDF, spreadsheet ...).
    Document,
    /// A sticker.
    Sticker,
}

impl MediaKind {
    /// WhatsApp's name for the kind (`voice` is sent as `audio`).
    pub fn wa_type(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio | MediaKind::Voice => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// Where a media file lives: a provider media id, or a public link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaRef {
    /// The provider's media id.
    pub id: Option<String>,
    /// A public URL (for sending by link).
    pub link: Option<String>,
    /// MIME type, if known.
    pub mime_type: Option<String>,
    /// SHA-256 of the file as reported by the provider.
    pub sha256: Option<String>,
    /// File name (documents).
    pub filename: Option<String>,
}

/// A contact card shared in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactCard {
    /// Formatted name.
    pub name: String,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Everything else the provider sent, kept as-is.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub raw: serde_json::Value,
}

/// A customer's answer to an interactive message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InteractiveReply {
    /// A reply button was tapped.
    ButtonReply {
        /// The button's id.
        id: String,
        /// The button's title.
        title: String,
    },
    /// A list row was chosen.
    ListReply {
        /// The row's id.
        id: String,
        /// The row's title.
        title: String,
        /// The row's description.
        description: Option<String>,
    },
    /// A WhatsApp Flow was completed.
    FlowReply {
        /// The flow's name.
        name: Option<String>,
        /// The flow's text body.
        body: Option<String>,
        /// The flow's response, as the JSON text WhatsApp sent.
        response_json: String,
    },
    /// The customer answered the business's request to call them
    /// (`call_permission_reply`), or WhatsApp granted it when they called
    /// back after a missed business call (`automatic`).
    CallPermission {
        /// They agreed to be called.
        accepted: bool,
        /// For good, not only for a while.
        #[serde(default)]
        permanent: bool,
        /// Until when the business may call, if they agreed for a while.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        /// WhatsApp answered for them (a call back), not a tap.
        #[serde(default)]
        automatic: bool,
    },
    /// An interactive reply type the decoder does not know.
    Other {
        /// WhatsApp's type name.
        raw_type: String,
    },
}

/// A line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderItem {
    /// Product retailer id.
    pub product_retailer_id: String,
    /// Quantity.
    pub quantity: u32,
    /// Unit price.
    pub item_price: f64,
    /// ISO 4217 currency.
    pub currency: String,
}

/// How a call went (WhatsApp's `calls` webhooks).
///
/// ```
/// use inbox_core::model::CallOutcome;
/// assert!(CallOutcome::Missed.wants_call_back());
/// assert!(!CallOutcome::Answered.wants_call_back());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// It is ringing or connecting.
    Ringing,
    /// It was answered and has ended.
    Answered,
    /// The customer called and nobody answered: they wait for a call
    /// back, like a message waits for an answer.
    Missed,
    /// The business called and the customer did not answer or declined.
    NotAnswered,
    /// It failed.
    Failed,
    /// Another event WhatsApp reported, by its name.
    Other(String),
}

impl CallOutcome {
    /// Whether the customer is left waiting for the business (a missed
    /// call).
    pub fn wants_call_back(&self) -> bool {
        *self == CallOutcome::Missed
    }
}

/// A system notification from WhatsApp about the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SystemChange {
    /// The customer changed their number.
    NumberChanged {
        /// The new wa_id, if given.
        new_wa_id: Option<String>,
    },
    /// The customer's identity (security code) changed.
    IdentityChanged,
    /// The customer's business-scoped user id changed.
    UserIdChanged {
        /// The new BSUID, if given.
        new_user_id: Option<String>,
    },
    /// Another system notification.
    Other {
        /// WhatsApp's type name.
        raw_type: String,
    },
}

/// A reply button of an outbound interactive message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboundButton {
    /// The id returned when tapped.
    pub id: String,
    /// The title shown (max 20 characters on WhatsApp).
    pub title: String,
}

/// A section of an outbound list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboundSection {
    /// Section title.
    pub title: String,
    /// Rows: (id, title, description).
    pub rows: Vec<(String, String, Option<String>)>,
}

/// What a message says. Covers every kind WhatsApp sends or accepts; a kind the
/// decoder does not know is kept as [`Content::Unsupported`] with its raw type,
/// never dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// Plain text.
    Text {
        /// The text.
        body: String,
        /// Whether WhatsApp should render a link preview (outbound).
        #[serde(default)]
        preview_url: bool,
    },
    /// An image, video, audio, voice note, document or sticker.
    Media {
        /// Which kind.
        kind: MediaKind,
        /// Where it is.
        media: MediaRef,
        /// Caption.
        caption: Option<String>,
    },
    /// A location pin.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Address.
        address: Option<String>,
    },
    /// Shared contact cards.
    Contacts {
        /// The cards.
        cards: Vec<ContactCard>,
    },
    /// The customer answered an interactive message.
    Interactive {
        /// The answer.
        reply: InteractiveReply,
    },
    /// The customer tapped a quick-reply button of a template.
    Button {
        /// The button's payload.
        payload: Option<String>,
        /// The button's text.
        text: String,
    },
    /// A reaction to a message; `emoji: None` means the reaction was removed.
    Reaction {
        /// External id of the message reacted to.
        target: String,
        /// The emoji, or `None` when removed.
        emoji: Option<String>,
    },
    /// A template message (the only kind allowed outside the 24-hour window).
    Template {
        /// Template name.
        name: String,
        /// Language code, e.g. `en_US`.
        language: String,
        /// Components with parameters, in the Graph API's JSON shape.
        #[serde(default)]
        components: serde_json::Value,
    },
    /// Outbound interactive reply buttons.
    Buttons {
        /// Header text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        /// Body text.
        body: String,
        /// Footer text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<String>,
        /// Up to three buttons.
        buttons: Vec<OutboundButton>,
    },
    /// Outbound interactive list.
    List {
        /// Header text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        /// Body text.
        body: String,
        /// Footer text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<String>,
        /// The label of the button that opens the list.
        button: String,
        /// Sections.
        sections: Vec<OutboundSection>,
    },
    /// An order from a catalog.
    Order {
        /// Catalog id.
        catalog_id: Option<String>,
        /// Text sent with the order.
        text: Option<String>,
        /// Items.
        items: Vec<OrderItem>,
    },
    /// The customer edited an earlier message.
    Edit {
        /// External id of the edited message.
        target: String,
        /// The new content.
        #[cfg_attr(feature = "openapi", schema(no_recursion))]
        content: Box<Content>,
    },
    /// The customer deleted an earlier message.
    Revoke {
        /// External id of the deleted message.
        target: String,
    },
    /// A system notification (number or identity change).
    System {
        /// What changed.
        change: SystemChange,
        /// WhatsApp's human-readable text.
        body: Option<String>,
    },
    /// The customer opened the chat for the first time (request_welcome).
    RequestWelcome,
    /// A WhatsApp call between the customer and the business, as its
    /// webhooks report it (inbound only: a record, never sent).
    Call {
        /// WhatsApp's call id (`wacid.…`).
        call_id: String,
        /// Whether the customer called (else the business did).
        from_customer: bool,
        /// How it went.
        outcome: CallOutcome,
        /// How long it lasted, in seconds, once an answered call ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_secs: Option<u64>,
    },
    /// A kind the decoder does not know; kept with its raw type.
    Unsupported {
        /// WhatsApp's type name.
        raw_type: String,
    },
}

impl Content {
    /// Plain text content.
    ///
    /// ```
    /// use inbox_core::model::Content;
    /// assert_eq!(Content::text("hi").kind(), "text");
    /// ```
    pub fn text(body: impl Into<String>) -> Self {
        Content::Text {
            body: body.into(),
            preview_url: false,
        }
    }

    /// A short name of the content kind (`"text"`, `"image"`, `"reaction"` ...).
    pub fn kind(&self) -> &str {
        match self {
            Content::Text { .. } => "text",
            Content::Media { kind, .. } => match kind {
                MediaKind::Image => "image",
                MediaKind::Video => "video",
                MediaKind::Audio => "audio",
                MediaKind::Voice => "voice",
                MediaKind::Document => "document",
                MediaKind::Sticker => "sticker",
            },
            Content::Location { .. } => "location",
            Content::Contacts { .. } => "contacts",
            Content::Interactive { .. } => "interactive",
            Content::Button { .. } => "button",
            Content::Reaction { .. } => "reaction",
            Content::Template { .. } => "template",
            Content::Buttons { .. } => "buttons",
            Content::List { .. } => "list",
            Content::Order { .. } => "order",
            Content::Edit { .. } => "edit",
            Content::Revoke { .. } => "revoke",
            Content::System { .. } => "system",
            Content::RequestWelcome => "request_welcome",
            Content::Call { .. } => "call",
            Content::Unsupported { raw_type } => raw_type,
        }
    }

    /// The text a person would read, if any (body, caption, button title ...).
    pub fn text_body(&self) -> Option<&str> {
        match self {
            Content::Text { body, .. } => Some(body),
            Content::Media { caption, .. } => caption.as_deref(),
            Content::Location { name, .. } => name.as_deref(),
            Content::Interactive { reply } => match reply {
                InteractiveReply::ButtonReply { title, .. }
                | InteractiveReply::ListReply { title, .. } => Some(title),
                InteractiveReply::FlowReply { body, .. } => body.as_deref(),
                InteractiveReply::CallPermission { .. } | InteractiveReply::Other { .. } => None,
            },
            Content::Button { text, .. } => Some(text),
            Content::Buttons { body, .. } | Content::List { body, .. } => Some(body),
            Content::Order { text, .. } => text.as_deref(),
            Content::Edit { content, .. } => content.text_body(),
            Content::System { body, .. } => body.as_deref(),
            Content::Reaction { emoji, .. } => emoji.as_deref(),
            _ => None,
        }
    }

    /// Whether this is a template (allowed outside the 24-hour window).
    pub fn is_template(&self) -> bool {
        matches!(self, Content::Template { .. })
    }

    /// Whether an agent can send this content to a customer. Inbound-only
    /// kinds (interactive replies, orders, edits, system notices ...) cannot
    /// be sent.
    pub fn is_sendable(&self) -> bool {
        matches!(
            self,
            Content::Text { .. }
                | Content::Media { .. }
                | Content::Location { .. }
                | Content::Contacts { .. }
                | Content::Reaction { .. }
                | Content::Template { .. }
                | Content::Buttons { .. }
                | Content::List { .. }
        )
    }

    /// Checks outbound content against what WhatsApp refuses, before it is
    /// stored or queued: the kind must be sendable; texts within Meta's
    /// limits (text body 4,096 characters, caption 1,024, interactive body
    /// 1,024, header and footer 60, button title 20, list button 20,
    /// section and row title 24, row description 72 ...; see
    /// [`limits`](super::limits)), not empty where required and free of
    /// control characters; 1 to 3 reply buttons with distinct titles and
    /// ids; 1 to 10 sections and 1 to 10 rows in all, row ids distinct;
    /// media with an id or a link; coordinates in range; a reaction of one
    /// emoji; template text parameters without line breaks.
    ///
    /// The error is [`crate::Error::InvalidContent`], naming the field as a
    /// path in the Cloud API's message object, the limit and the actual
    /// size. A template's parameters are checked against its definition,
    /// when one is known, by [`TemplateDefinition::check`](super::TemplateDefinition::check).
    ///
    /// ```
    /// use inbox_core::model::Content;
    /// use inbox_core::{ContentProblem, Error};
    /// assert!(Content::text("x".repeat(4096)).validate_outbound().is_ok());
    /// let Err(Error::InvalidContent(v)) = Content::text("x".repeat(4097)).validate_outbound()
    /// else { panic!() };
    /// assert_eq!(v.field, "text.body");
    /// assert_eq!(v.problem, ContentProblem::TooLong { limit: 4096, actual: 4097 });
    /// ```
    pub fn validate_outbound(&self) -> Result<(), crate::Error> {
        super::limits::check_outbound(self)
    }
}

/// Context of an inbound message: what it replies to, whether it was
/// forwarded, and the ad it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ReplyContext {
    /// External id of the message this one quotes.
    pub reply_to: Option<String>,
    /// Forwarded once.
    pub forwarded: bool,
    /// Forwarded many times.
    pub frequently_forwarded: bool,
    /// Click-to-WhatsApp ad referral (source URL, headline ...), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<serde_json::Value>,
}
