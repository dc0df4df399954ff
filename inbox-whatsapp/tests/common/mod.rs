//! What the WhatsApp adapter's integration tests share: webhook bodies as
//! Meta sends them, an inbox on the memory store to post them to, and
//! outbound requests for the client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::sync::Arc;

use inbox_core::model::{Channel, ContactIdentity, Content, Conversation, Direction, Message};
use inbox_core::ports::{OutboundRequest, Store};
use inbox_core::testing::{FaultyStore, Fixture};
use inbox_core::{ChannelId, ConversationId, MessageId, TenantId, View, ViewQuery};
use inbox_store_memory::MemoryStore;

/// A fixture on a fresh memory store.
pub async fn fixture() -> Fixture {
    Fixture::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>)
        .await
        .unwrap()
}

/// A fixture on a fresh memory store behind a [`FaultyStore`], and that
/// store, to make it fail.
pub async fn faulty_fixture() -> (Arc<FaultyStore>, Fixture) {
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryStore::new())));
    let f = Fixture::new(faulty.clone() as Arc<dyn Store>)
        .await
        .unwrap();
    (faulty, f)
}

/// A webhook body: one entry of WABA `waba` with `changes`.
pub fn envelope(changes: Vec<Value>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "waba", "changes": changes }]
    })
}

/// A `messages` change for number `pnid` (display number "1"), with
/// `fields` (contacts, messages, statuses) beside the product and metadata.
pub fn change(pnid: &str, fields: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "1", "phone_number_id": pnid },
    });
    if let (Some(value), Value::Object(fields)) = (value.as_object_mut(), fields) {
        value.extend(fields);
    }
    json!({ "field": "messages", "value": value })
}

/// A text message from `from`, id `id`, sent at `ts` (unix seconds, as
/// Meta writes them: a string).
pub fn text_message(id: &str, from: &str, ts: Value, text: &str) -> Value {
    json!({ "from": from, "id": id, "timestamp": ts, "type": "text", "text": { "body": text } })
}

/// The `messages` of customer `wa_id` (profile name Marta) to `pnid`.
pub fn messages_change(pnid: &str, wa_id: &str, messages: Vec<Value>) -> Value {
    change(
        pnid,
        json!({
            "contacts": [{ "profile": { "name": "Marta" }, "wa_id": wa_id }],
            "messages": messages
        }),
    )
}

/// A body with one text message from `from` to `pnid`, sent at the
/// fixture's start (2026-03-02 09:00 UTC).
pub fn text_body(pnid: &str, wamid: &str, from: &str, text: &str) -> Vec<u8> {
    let message = text_message(wamid, from, json!("1772442000"), text);
    to_bytes(&envelope(vec![messages_change(pnid, from, vec![message])]))
}

/// A JSON value as bytes.
pub fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Request headers with the signature header, when there is one.
pub fn signed(sig: Option<&str>) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    if let Some(s) = sig {
        h.insert("x-hub-signature-256", s.parse().unwrap());
    }
    h
}

/// Every conversation of the fixture's tenant, as the supervisor sees them.
pub async fn all_conversations(f: &Fixture) -> Vec<Conversation> {
    let all = ViewQuery::new(View::All);
    f.inbox.list(&f.actor("sam"), &all).await.unwrap().items
}

/// Every message stored in the fixture's tenant, conversation by
/// conversation (as the supervisor sees them).
pub async fn stored_messages(f: &Fixture) -> Vec<Message> {
    let mut out = Vec::new();
    for c in all_conversations(f).await {
        out.extend(f.store.messages(&f.acme(), &c.id).await.unwrap());
    }
    out
}

/// The customer 34611000001 writes to number 1001 and Ana claims and
/// answers; returns the conversation.
pub async fn answered(f: &Fixture) -> ConversationId {
    let (c, _) = f
        .customer_says("1001", "wamid.in.1", "34611000001", "hola")
        .await
        .unwrap();
    f.claim_and_reply(&f.actor("ana"), &c, "hello", "k1")
        .await
        .unwrap();
    c
}

/// The (first) reply stored in conversation `c`.
pub async fn reply_in(f: &Fixture, c: &ConversationId) -> Message {
    let messages = f.store.messages(&f.acme(), c).await.unwrap();
    let reply = messages
        .into_iter()
        .find(|m| m.direction == Direction::Outbound);
    reply.unwrap()
}

/// Two counts of a webhook's answer (`stored`, `dead_lettered`...).
pub fn counts(summary: &Value, [a, b]: [&str; 2]) -> (Option<u64>, Option<u64>) {
    (summary[a].as_u64(), summary[b].as_u64())
}

/// A send of `content` as message `message_id` to `to`, on number
/// 106540352242922 of tenant `t`.
pub fn request(
    content: Content,
    to: &str,
    message_id: &str,
    reply_to: Option<&str>,
) -> OutboundRequest {
    let tenant = TenantId::new("t").unwrap();
    let channel = ChannelId::new("c").unwrap();
    OutboundRequest {
        channel: Channel::new(tenant.clone(), channel, "106540352242922", "+1"),
        tenant,
        to: ContactIdentity::wa(to),
        message_id: MessageId::new(message_id).unwrap(),
        content,
        reply_to: reply_to.map(str::to_string),
    }
}
