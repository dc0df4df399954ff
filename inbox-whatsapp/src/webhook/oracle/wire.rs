//! The old decoder's serde shapes (see `super::decode`), verbatim.
//! Serde shapes of Meta's webhook JSON. Every field is optional and unknown
//! fields are ignored: Meta adds fields without notice.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Deserialize)]
pub(crate) struct Envelope<'a> {
    pub object: Option<String>,
    #[serde(borrow)]
    pub entry: Option<Vec<Entry<'a>>>,
}

#[derive(Deserialize)]
pub(crate) struct Entry<'a> {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    /// When Meta sent the entry (account-level fields carry it).
    #[serde(default)]
    pub time: Option<serde_json::Value>,
    #[serde(default, borrow)]
    pub changes: Vec<Change<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct Change<'a> {
    pub field: Option<String>,
    #[serde(borrow)]
    pub value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct MessagesValue<'a> {
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<WireContact>,
    #[serde(default, borrow)]
    pub messages: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    pub statuses: Vec<&'a RawValue>,
    /// What the business sent from another app (`smb_message_echoes`,
    /// and inside `standby`).
    #[serde(default, borrow)]
    pub message_echoes: Vec<&'a RawValue>,
    /// The passive copies (`standby`): an object of the arrays above.
    #[serde(default, borrow)]
    pub standby: Option<&'a RawValue>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// The raw parts of a `messages` value an item is kept with.
#[derive(Deserialize, Default)]
pub(crate) struct RawParts<'a> {
    #[serde(borrow)]
    pub metadata: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub contacts: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    #[serde(default, deserialize_with = "string_or_number")]
    pub phone_number_id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireContact {
    pub profile: Option<Profile>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    /// The parent BSUID (`CC.ENT.…`) of linked portfolios.
    pub parent_user_id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Profile {
    pub name: Option<String>,
    /// The customer's WhatsApp username (2026), if they set one.
    pub username: Option<String>,
}

#[derive(Deserialize, Clone)]
pub(crate) struct WireError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    pub error_data: Option<ErrorData>,
}

#[derive(Deserialize, Clone)]
pub(crate) struct ErrorData {
    pub details: Option<String>,
}

/// The parts of a message every type shares.
#[derive(Deserialize)]
pub(crate) struct MessageHead {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub from: Option<String>,
    pub from_user_id: Option<String>,
    /// The customer an echo went to (`smb_message_echoes`, `standby`).
    #[serde(default, deserialize_with = "string_or_number")]
    pub to: Option<String>,
    /// Their BSUID.
    pub to_user_id: Option<String>,
    /// Their parent BSUID.
    pub to_parent_user_id: Option<String>,
    /// Their BSUID as a send request names it (`standby` echoes).
    pub recipient: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub timestamp: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub context: Option<WireContext>,
    pub referral: Option<Value>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

#[derive(Deserialize)]
pub(crate) struct WireContext {
    pub id: Option<String>,
    #[serde(default)]
    pub forwarded: bool,
    #[serde(default)]
    pub frequently_forwarded: bool,
    pub referred_product: Option<Value>,
}

/// The type-specific body of a message; parsed separately so that a
/// malformed body degrades to "unsupported" instead of losing the message.
#[derive(Deserialize, Default)]
pub(crate) struct MessageBody {
    pub text: Option<WireText>,
    pub image: Option<WireMedia>,
    pub video: Option<WireMedia>,
    pub audio: Option<WireMedia>,
    pub document: Option<WireMedia>,
    pub sticker: Option<WireMedia>,
    pub location: Option<WireLocation>,
    pub contacts: Option<Vec<Value>>,
    pub interactive: Option<WireInteractive>,
    pub button: Option<WireButton>,
    pub reaction: Option<WireReaction>,
    pub order: Option<WireOrder>,
    pub system: Option<WireSystem>,
    pub edit: Option<WireEdit>,
    pub revoke: Option<WireRevoke>,
}

#[derive(Deserialize)]
pub(crate) struct WireText {
    pub body: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireMedia {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    pub link: Option<String>,
    pub url: Option<String>,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
    #[serde(default)]
    pub voice: bool,
}

#[derive(Deserialize)]
pub(crate) struct WireLocation {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireInteractive {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub button_reply: Option<WireReplyRow>,
    pub list_reply: Option<WireReplyRow>,
    pub nfm_reply: Option<WireNfm>,
    pub call_permission_reply: Option<WireCallPermission>,
}

#[derive(Deserialize)]
pub(crate) struct WireCallPermission {
    pub response: Option<String>,
    pub is_permanent: Option<bool>,
    pub expiration_timestamp: Option<serde_json::Value>,
    pub response_source: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireReplyRow {
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireNfm {
    pub name: Option<String>,
    pub body: Option<String>,
    pub response_json: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireButton {
    pub payload: Option<String>,
    pub text: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireReaction {
    pub message_id: Option<String>,
    pub emoji: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireOrder {
    #[serde(default, deserialize_with = "string_or_number")]
    pub catalog_id: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub product_items: Vec<WireOrderItem>,
}

#[derive(Deserialize)]
pub(crate) struct WireOrderItem {
    #[serde(default, deserialize_with = "string_or_number")]
    pub product_retailer_id: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub quantity: Option<f64>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub item_price: Option<f64>,
    pub currency: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireSystem {
    pub body: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub wa_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub new_wa_id: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireEdit {
    pub original_message_id: Option<String>,
    pub message: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
pub(crate) struct WireRevoke {
    pub original_message_id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireStatus {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    pub status: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub recipient_id: Option<String>,
    pub recipient_user_id: Option<String>,
    pub recipient_type: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub recipient_participant_id: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    pub conversation: Option<WireConversation>,
    pub pricing: Option<WirePricing>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

#[derive(Deserialize)]
pub(crate) struct WireConversation {
    pub id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub expiration_timestamp: Option<String>,
    pub origin: Option<WireOrigin>,
}

#[derive(Deserialize)]
pub(crate) struct WireOrigin {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WirePricing {
    pub billable: Option<bool>,
    pub pricing_model: Option<String>,
    pub category: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// Accepts a string or a number (Meta sends ids and timestamps as either),
/// without building an intermediate `Value`.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_option(V)
}

/// Accepts a number or a numeric string.
fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match string_or_number(d)? {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected a number, found {s:?}"))),
    }
}
