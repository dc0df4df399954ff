//! Serde shapes of Meta's webhook JSON. Every field is optional and unknown
//! fields are ignored: Meta adds fields without notice.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

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

/// The envelope read in one pass: [`Envelope`], except that a change's
/// value of a field whose items it holds (`messages`,
/// `smb_message_echoes`), when the field comes before it, is read there
/// and then as `P` ([`ValueParts`], or [`TypedValue`]) rather than kept as
/// received and read again. Where it fails the envelope is read another
/// way.
#[derive(Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
pub(crate) struct OnePassEnvelope<'a, P> {
    #[serde(borrow)]
    pub object: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub entry: Option<Vec<OnePassEntry<'a, P>>>,
}

/// [`Entry`] of a [`OnePassEnvelope`].
#[derive(Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
pub(crate) struct OnePassEntry<'a, P> {
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub time: Option<serde_json::Value>,
    #[serde(default, borrow)]
    pub changes: Vec<OnePassChange<'a, P>>,
}

/// [`Change`] of a [`OnePassEnvelope`].
pub(crate) struct OnePassChange<'a, P> {
    pub field: Option<Cow<'a, str>>,
    pub value: Option<ChangeValue<'a, P>>,
}

/// A change's value: as received, or read.
pub(crate) enum ChangeValue<'a, P> {
    /// As received.
    Raw(&'a RawValue),
    /// The value of a field that holds items, read.
    Parts(P),
}

impl<'de: 'a, 'a, P: Deserialize<'de>> Deserialize<'de> for OnePassChange<'a, P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, P>(std::marker::PhantomData<(&'a (), P)>);
        impl<'de: 'a, 'a, P: Deserialize<'de>> de::Visitor<'de> for V<'a, P> {
            type Value = OnePassChange<'a, P>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a change")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut field: Option<Option<Cow<'a, str>>> = None;
                let mut value: Option<Option<ChangeValue<'a, P>>> = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "field" if field.is_none() => {
                            field = Some(
                                map.next_value::<Option<BorrowedOrOwned<'a>>>()?
                                    .map(|f| f.0),
                            )
                        }
                        "value" if value.is_none() => {
                            let holds_items = matches!(
                                field.as_ref().and_then(Option::as_deref),
                                Some("messages" | "smb_message_echoes")
                            );
                            value = Some(if holds_items {
                                map.next_value::<Option<P>>()?.map(ChangeValue::Parts)
                            } else {
                                map.next_value::<Option<&'a RawValue>>()?
                                    .map(ChangeValue::Raw)
                            });
                        }
                        "field" | "value" => return Err(de::Error::custom("duplicate field")),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(OnePassChange {
                    field: field.flatten(),
                    value: value.flatten(),
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
pub(crate) struct MessagesValue<'a> {
    pub metadata: Option<Metadata>,
    #[serde(default, borrow)]
    pub contacts: Vec<WireContact<'a>>,
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

/// A `messages` value read in one pass: its metadata and contacts as
/// received (each then read on its own, small), the items as received.
/// Where it fails, or a part does not read, the value is read as
/// [`MessagesValue`] and [`RawParts`] read it.
#[derive(Deserialize)]
pub(crate) struct ValueParts<'a> {
    #[serde(borrow)]
    pub metadata: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub contacts: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    pub messages: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    pub statuses: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    pub message_echoes: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    pub standby: Option<&'a RawValue>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// A `messages` value read whole in one pass, its items as they decode
/// ([`MessageItem`], [`WireStatus`]). Where it fails (an item not of that
/// shape, a key repeated), the value is read as [`ValueParts`] reads it.
#[derive(Deserialize)]
pub(crate) struct TypedValue<'a> {
    pub metadata: Option<Metadata>,
    #[serde(default, borrow)]
    pub contacts: Vec<WireContact<'a>>,
    #[serde(default, borrow, deserialize_with = "items")]
    pub messages: Vec<MessageItem<'a>>,
    #[serde(default, deserialize_with = "items")]
    pub statuses: Vec<WireStatus>,
    #[serde(default, borrow)]
    pub message_echoes: Vec<&'a RawValue>,
    /// Not used outside `standby`, but read as the other readings read it
    /// (once, any JSON).
    #[serde(default, borrow, rename = "standby")]
    pub _standby: Option<&'a RawValue>,
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

/// A customer of a `messages` value (borrowed from the body where no
/// escape forces a copy).
#[derive(Deserialize)]
pub(crate) struct WireContact<'a> {
    #[serde(borrow)]
    pub profile: Option<Profile<'a>>,
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    pub wa_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user_id: Option<Cow<'a, str>>,
    /// The parent BSUID (`CC.ENT.…`) of linked portfolios.
    #[serde(borrow)]
    pub parent_user_id: Option<Cow<'a, str>>,
}

/// A customer's profile.
#[derive(Deserialize)]
pub(crate) struct Profile<'a> {
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    /// The customer's WhatsApp username (2026), if they set one.
    #[serde(borrow)]
    pub username: Option<Cow<'a, str>>,
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

/// The parts of a message every type shares (borrowed from the body where
/// no escape forces a copy).
#[derive(Deserialize)]
pub(crate) struct MessageHead<'a> {
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    pub from: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub from_user_id: Option<Cow<'a, str>>,
    /// The customer an echo went to (`smb_message_echoes`, `standby`).
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    pub to: Option<Cow<'a, str>>,
    /// Their BSUID.
    #[serde(borrow)]
    pub to_user_id: Option<Cow<'a, str>>,
    /// Their parent BSUID.
    #[serde(borrow)]
    pub to_parent_user_id: Option<Cow<'a, str>>,
    /// Their BSUID as a send request names it (`standby` echoes).
    #[serde(borrow)]
    pub recipient: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    pub kind: Option<Cow<'a, str>>,
    pub context: Option<WireContext>,
    pub referral: Option<Value>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// A message item read in one pass: its head as [`MessageHead`] reads it
/// and its body as [`MessageBody`] does. Where it fails (a body not of its
/// shape, a key repeated), the caller reads the head and the body apart,
/// as they always were.
#[derive(Deserialize)]
pub(crate) struct MessageItem<'a> {
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    from: Option<Cow<'a, str>>,
    #[serde(borrow)]
    from_user_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    to: Option<Cow<'a, str>>,
    #[serde(borrow)]
    to_user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    to_parent_user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    recipient: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "cow_string_or_number")]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    context: Option<WireContext>,
    referral: Option<Value>,
    #[serde(default)]
    errors: Vec<WireError>,
    text: Option<WireText>,
    image: Option<Box<WireMedia>>,
    video: Option<Box<WireMedia>>,
    audio: Option<Box<WireMedia>>,
    document: Option<Box<WireMedia>>,
    sticker: Option<Box<WireMedia>>,
    location: Option<Box<WireLocation>>,
    contacts: Option<Vec<Value>>,
    interactive: Option<Box<WireInteractive>>,
    button: Option<Box<WireButton>>,
    reaction: Option<Box<WireReaction>>,
    order: Option<Box<WireOrder>>,
    system: Option<Box<WireSystem>>,
    edit: Option<Box<WireEdit>>,
    revoke: Option<Box<WireRevoke>>,
}

impl<'a> MessageItem<'a> {
    /// The head and the body.
    pub fn split(self) -> (MessageHead<'a>, MessageBody) {
        let body = MessageBody {
            text: self.text,
            image: self.image,
            video: self.video,
            audio: self.audio,
            document: self.document,
            sticker: self.sticker,
            location: self.location,
            contacts: self.contacts,
            interactive: self.interactive,
            button: self.button,
            reaction: self.reaction,
            order: self.order,
            system: self.system,
            edit: self.edit,
            revoke: self.revoke,
        };
        let head = MessageHead {
            id: self.id,
            from: self.from,
            from_user_id: self.from_user_id,
            to: self.to,
            to_user_id: self.to_user_id,
            to_parent_user_id: self.to_parent_user_id,
            recipient: self.recipient,
            timestamp: self.timestamp,
            kind: self.kind,
            context: self.context,
            referral: self.referral,
            errors: self.errors,
        };
        (head, body)
    }
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
/// Each type's body is boxed: the struct stays small to move, and only the
/// one body a message has is allocated.
#[derive(Deserialize, Default)]
pub(crate) struct MessageBody {
    pub text: Option<WireText>,
    pub image: Option<Box<WireMedia>>,
    pub video: Option<Box<WireMedia>>,
    pub audio: Option<Box<WireMedia>>,
    pub document: Option<Box<WireMedia>>,
    pub sticker: Option<Box<WireMedia>>,
    pub location: Option<Box<WireLocation>>,
    pub contacts: Option<Vec<Value>>,
    pub interactive: Option<Box<WireInteractive>>,
    pub button: Option<Box<WireButton>>,
    pub reaction: Option<Box<WireReaction>>,
    pub order: Option<Box<WireOrder>>,
    pub system: Option<Box<WireSystem>>,
    pub edit: Option<Box<WireEdit>>,
    pub revoke: Option<Box<WireRevoke>>,
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

/// An array of items as [`Vec`]'s own reading takes it, grown one item at
/// a time up to four, then doubling: Meta sends one item (or a few) per
/// value, and a vector of four large items at once is a large allocation.
fn items<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                if out.len() < 4 {
                    out.reserve_exact(1);
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V(std::marker::PhantomData))
}

/// A string, borrowed from the body where no escape forces a copy.
pub(crate) struct BorrowedOrOwned<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedOrOwned<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(BorrowedOrOwned)
    }
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

/// [`string_or_number`], borrowing the string from the body when it can.
fn cow_string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
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
