//! Webhook safety: a webhook speaks only for the numbers its app secret is
//! bound to, and one bad item does not poison the others.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::TimeDelta;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use common::{
    all_conversations, answered, counts, envelope, fixture, messages_change, reply_in, signed,
    stored_messages, text_message, to_bytes,
};
use inbox_core::model::{Channel, Content};
use inbox_core::ports::{Clock, DeadLetter, DeadLetterQuery, InboundDecoder};
use inbox_core::testing::Fixture;
use inbox_core::{ChannelId, Error, InboundEvent};
use inbox_whatsapp::{
    sign, IngestSummary, Secret, Webhook, WebhookConfig, WhatsAppDecoder, WhatsAppError,
};

const SALES_SECRET: &str = "sales-app-secret";

fn now_secs(f: &Fixture) -> i64 {
    f.clock.now().timestamp()
}

/// A body with `messages` from customer 34611000001 to `pnid`.
fn body(pnid: &str, messages: Vec<Value>) -> Vec<u8> {
    to_bytes(&envelope(vec![messages_change(
        pnid,
        "34611000001",
        messages,
    )]))
}

/// A text from customer 34611000001 (Marta).
fn marta(id: &str, ts: Value, text: &str) -> Value {
    text_message(id, "34611000001", ts, text)
}

/// The time two days after the fixture's clock, as Meta writes it.
fn in_two_days(f: &Fixture) -> Value {
    json!((now_secs(f) + 2 * 86_400).to_string())
}

/// The poison webhook of issue 21: valid messages around a 600-byte id, a
/// NUL character, a timestamp in year -1199 and one two days ahead.
fn poison_body(f: &Fixture) -> Vec<u8> {
    let now = now_secs(f);
    let ok = |n: i64| json!((now - 600 + n).to_string());
    body(
        "1001",
        vec![
            marta("wamid.ok.1", ok(1), "first"),
            marta(&"x".repeat(600), ok(2), "long id"),
            marta("wamid.ok.2", ok(3), "second"),
            marta("wamid.nul", ok(4), "nul \u{0} here"),
            marta("wamid.ok.3", ok(5), "third"),
            marta("wamid.ancient", json!("-99999999999"), "year -1199"),
            marta("wamid.future", in_two_days(f), "two days ahead"),
            marta("wamid.ok.4", ok(8), "fourth"),
        ],
    )
}

/// The sales route: its app secret speaks for 1001 (and 3001, a number no
/// tenant has yet).
fn sales_route() -> Webhook {
    Webhook::new(WebhookConfig::for_numbers(
        "verify",
        SALES_SECRET,
        ["1001", "3001"],
    ))
}

async fn post(f: &Fixture, hook: &Webhook, body: &[u8]) -> (u16, Value) {
    let sig = sign(&Secret::new(SALES_SECRET), body);
    let r = hook
        .handle(
            &f.inbox,
            "POST",
            None,
            &signed(Some(&sig)),
            body,
            f.clock.now(),
        )
        .await;
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// Hands `body`, signed with the sales secret, to `hook` directly.
async fn receive(f: &Fixture, hook: &Webhook, body: &[u8]) -> Result<IngestSummary, WhatsAppError> {
    let sig = sign(&Secret::new(SALES_SECRET), body);
    hook.receive(&f.inbox, Some(&sig), body, f.clock.now())
        .await
}

/// Posts `body` as [`post`] does and checks it was acknowledged (200);
/// returns the answer.
async fn post_ok(f: &Fixture, hook: &Webhook, body: &[u8]) -> Value {
    let (status, summary) = post(f, hook, body).await;
    assert_eq!(status, 200, "{summary}");
    summary
}

async fn letters(f: &Fixture) -> Vec<DeadLetter> {
    f.inbox
        .dead_letters(&f.actor("ada"), &DeadLetterQuery::default())
        .await
        .unwrap()
        .items
}

fn external_id(event: &InboundEvent) -> &str {
    match event {
        InboundEvent::Message(m) => &m.external_id,
        InboundEvent::Status(s) => &s.external_id,
        InboundEvent::Preference(p) => &p.category,
        InboundEvent::Echo(e) => &e.message.external_id,
        InboundEvent::Standby(c) => &c.message().external_id,
        InboundEvent::Handover(h) => &h.phone_number_id,
        InboundEvent::AppContact(a) => &a.phone_number_id,
        InboundEvent::Account(a) => &a.phone_number_ids[0],
        InboundEvent::History(h) => &h.phone_number_id,
    }
}

#[tokio::test]
async fn a_webhook_speaks_only_for_its_own_numbers() {
    let f = fixture().await;
    let route_a = sales_route();
    let now = json!(now_secs(&f).to_string());
    // A body for 1002 (support), posted to sales' route, signed with sales'
    // secret: refused, nothing stored, nothing kept.
    let for_b = body("1002", vec![marta("wamid.b", now.clone(), "for B")]);
    let (status, answer) = post(&f, &route_a, &for_b).await;
    assert_eq!(status, 403, "{answer}");
    let err = receive(&f, &route_a, &for_b).await.unwrap_err();
    assert!(
        matches!(err, WhatsAppError::NumberNotAllowed(ref n) if n == "1002"),
        "{err}"
    );
    // One of its own items next to another number's: still refused whole.
    let for_a0 = body("1001", vec![marta("wamid.a0", now.clone(), "for A")]);
    let mut mixed: Value = serde_json::from_slice(&for_a0).unwrap();
    let other: Value = serde_json::from_slice(&for_b).unwrap();
    let change = other["entry"][0]["changes"][0].clone();
    mixed["entry"][0]["changes"]
        .as_array_mut()
        .unwrap()
        .push(change);
    let (status, _) = post(&f, &route_a, &serde_json::to_vec(&mixed).unwrap()).await;
    assert_eq!(status, 403);
    assert!(stored_messages(&f).await.is_empty());
    assert!(letters(&f).await.is_empty());
    let events = f.store.events_since(&f.acme(), 0, 10).await.unwrap();
    assert!(events.is_empty());
    // A's own body is stored.
    let for_a = body("1001", vec![marta("wamid.a", now, "for A")]);
    let (status, answer) = post(&f, &route_a, &for_a).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(stored_messages(&f).await.len(), 1);
}

/// A template of account 880001 paused, as Meta sends it (no number).
fn paused_template(f: &Fixture) -> Vec<u8> {
    to_bytes(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "880001", "time": now_secs(f), "changes": [{
            "field": "message_template_status_update",
            "value": { "event": "PAUSED", "message_template_id": 7, "message_template_name": "promo",
                       "message_template_language": "en_US", "reason": null }
        }]}]
    }))
}

/// The account signals stored for `tenant`, by the channels they name.
async fn signals_of(f: &Fixture, tenant: &str) -> Vec<Vec<String>> {
    let tenant = inbox_core::TenantId::new(tenant).unwrap();
    let events = f.store.events_since(&tenant, 0, 100).await.unwrap();
    events
        .into_iter()
        .filter_map(|e| match e.kind {
            inbox_core::EventKind::AccountSignal { channels, .. } => {
                Some(channels.iter().map(ToString::to_string).collect())
            }
            _ => None,
        })
        .collect()
}

/// Account-level webhooks name an account, not a number: they reach only
/// the account's numbers the signing secret speaks for (never another
/// tenant's number of the same account), and a default secret does not
/// speak for a number with a secret of its own.
#[tokio::test]
async fn an_account_signal_reaches_only_the_numbers_its_secret_speaks_for() {
    let f = fixture().await;
    for (tenant, channel) in [("acme", "sales"), ("acme", "support"), ("globex", "main")] {
        let tenant = inbox_core::TenantId::new(tenant).unwrap();
        let existing = f
            .store
            .channel(&tenant, &ChannelId::new(channel).unwrap())
            .await
            .unwrap();
        let shared = Channel {
            waba_id: Some("880001".into()),
            ..existing
        };
        f.inbox.provision_channel(&shared).await.unwrap();
    }
    let paused = paused_template(&f);
    let answer = post_ok(&f, &sales_route(), &paused).await;
    assert_eq!(answer["account_signals"], 1, "{answer}");
    assert_eq!(signals_of(&f, "acme").await, [["sales"]]);
    assert!(signals_of(&f, "globex").await.is_empty());
    // Per-number secrets: signed with the default secret, the signal does
    // not reach 1001, whose own secret did not sign it.
    let mut secrets: std::collections::HashMap<String, Secret> = Default::default();
    secrets.insert(String::new(), Secret::new(SALES_SECRET));
    secrets.insert("1001".into(), Secret::new("own-secret"));
    let hook = Webhook::new(WebhookConfig {
        secrets: std::sync::Arc::new(secrets),
        ..WebhookConfig::new("verify", "unused")
    });
    let later = paused_template(&f).to_vec();
    let summary = receive(&f, &hook, &later).await.unwrap();
    assert_eq!((summary.account_signals, summary.ignored), (0, 1));
    // An account no tenant has: acknowledged, ignored.
    let mut unknown: Value = serde_json::from_slice(&paused).unwrap();
    unknown["entry"][0]["id"] = json!("990009");
    let answer = post_ok(&f, &sales_route(), &to_bytes(&unknown)).await;
    assert_eq!(answer["ignored"], 1, "{answer}");
    assert_eq!(signals_of(&f, "acme").await.len(), 1);
}

#[tokio::test]
async fn a_bad_item_does_not_poison_the_webhook() {
    let f = fixture().await;
    let hook = sales_route();
    let body = poison_body(&f);
    let summary = post_ok(&f, &hook, &body).await;
    assert_eq!(
        counts(&summary, ["stored", "dead_lettered"]),
        (Some(4), Some(4)),
        "{summary}"
    );
    let mut ids: Vec<String> = stored_messages(&f)
        .await
        .into_iter()
        .filter_map(|m| m.external_id)
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["wamid.ok.1", "wamid.ok.2", "wamid.ok.3", "wamid.ok.4"]
    );
    // Each refused item is a dead letter of its own, with its own reason,
    // whole enough to decode again.
    let kept = letters(&f).await;
    let codes: BTreeSet<&str> = kept.iter().map(|l| l.reason.code()).collect();
    assert_eq!(
        codes,
        BTreeSet::from([
            "invalid_external_id",
            "control_character",
            "timestamp_too_old",
            "timestamp_in_future",
        ])
    );
    let mut kept_ids = BTreeSet::new();
    for l in &kept {
        assert_eq!(l.phone_number_id.as_deref(), Some("1001"));
        assert_eq!(l.tenant, Some(f.acme()));
        assert_eq!(l.received_at, f.clock.now());
        assert!(l.is_pending());
        assert!(
            !l.raw.contains("wamid.ok"),
            "one item per letter: {}",
            l.raw
        );
        match WhatsAppDecoder.decode(&l.raw, l.received_at) {
            Ok(events) => kept_ids.insert(external_id(&events[0]).to_string()),
            Err(reason) => kept_ids.insert(reason.code().to_string()),
        };
    }
    // The future one decodes (it is refused against the clock); the others
    // are refused by the decoder itself, for the same reason as before.
    assert_eq!(
        kept_ids,
        BTreeSet::from([
            "wamid.future".to_string(),
            "invalid_external_id".into(),
            "control_character".into(),
            "timestamp_too_old".into(),
        ])
    );
    // Meta delivers the same body again: nothing new is stored or kept.
    let (status, again) = post(&f, &hook, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        counts(&again, ["stored", "duplicates"]),
        (Some(0), Some(4)),
        "{again}"
    );
    assert_eq!(letters(&f).await.len(), 4);
    // The bad timestamps never reached the conversation.
    let all = all_conversations(&f).await;
    assert_eq!(all.len(), 1);
    let c = &all[0];
    let start = f.clock.now() - TimeDelta::seconds(600);
    assert_eq!(c.message_count, 4);
    assert_eq!(c.waiting_since, Some(start + TimeDelta::seconds(1)));
    assert_eq!(
        c.window_expires_at,
        Some(start + TimeDelta::seconds(8) + TimeDelta::hours(24))
    );
}

#[tokio::test]
async fn dead_letters_are_replayed_once_their_cause_is_gone() {
    let f = fixture().await;
    let hook = sales_route();
    let ada = f.actor("ada");
    let ahead = body(
        "1001",
        vec![marta("wamid.ahead", in_two_days(&f), "from the future")],
    );
    let now = json!(now_secs(&f).to_string());
    let early = body(
        "3001",
        vec![text_message("wamid.early", "34611000002", now, "hello?")],
    );
    for b in [&ahead, &early] {
        let (status, summary) = post(&f, &hook, b).await;
        assert_eq!((status, summary["dead_lettered"].as_u64()), (200, Some(1)));
    }
    // Only the letter of acme's number is acme's so far.
    let kept = letters(&f).await;
    assert_eq!(kept.len(), 1);
    let ahead_letter = kept[0].id.clone();
    assert_eq!(kept[0].reason.code(), "timestamp_in_future");
    // Still ahead of the clock: refused again, kept waiting.
    let still = f
        .inbox
        .replay_dead_letter(&ada, &ahead_letter, &WhatsAppDecoder)
        .await
        .unwrap();
    assert!(still.is_pending());
    assert_eq!(still.reason.code(), "timestamp_in_future");
    assert!(stored_messages(&f).await.is_empty());
    // Agents and supervisors may not replay.
    for who in ["ana", "sam"] {
        let err = f
            .inbox
            .replay_dead_letter(&f.actor(who), &ahead_letter, &WhatsAppDecoder)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{who}: {err}");
    }
    // Two days later the timestamp is fine: stored.
    f.advance(TimeDelta::days(2));
    let done = f
        .inbox
        .replay_dead_letter(&ada, &ahead_letter, &WhatsAppDecoder)
        .await
        .unwrap();
    assert_eq!(done.replayed_at, Some(f.clock.now()));
    assert_eq!(stored_messages(&f).await.len(), 1);
    // Number 3001 is provisioned for acme: its early item is acme's to
    // replay, and is stored.
    let line = ChannelId::new("new-line").unwrap();
    let line = Channel::new(f.acme(), line, "3001", "+34 600 3001");
    f.inbox.provision_channel(&line).await.unwrap();
    let pending_only = DeadLetterQuery {
        pending_only: true,
        ..DeadLetterQuery::default()
    };
    let pending = f
        .inbox
        .dead_letters(&ada, &pending_only)
        .await
        .unwrap()
        .items;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].reason.code(), "unknown_channel");
    let done = f
        .inbox
        .replay_dead_letter(&ada, &pending[0].id, &WhatsAppDecoder)
        .await
        .unwrap();
    assert!(!done.is_pending());
    let texts: Vec<String> = stored_messages(&f)
        .await
        .into_iter()
        .filter_map(|m| match m.content {
            Content::Text { body, .. } => Some(body),
            _ => None,
        })
        .collect();
    assert!(texts.contains(&"hello?".to_string()), "{texts:?}");
}

#[tokio::test]
async fn a_bad_status_is_kept_and_the_others_applied() {
    let f = fixture().await;
    let hook = sales_route();
    let c = answered(&f).await;
    f.inbox.dispatch(10).await.unwrap();
    let reply = reply_in(&f, &c).await;
    let wamid = reply.external_id.clone().unwrap();
    let now = now_secs(&f);
    let status = |s: &str, ts: i64, title: &str| {
        json!({ "id": wamid, "status": s, "timestamp": ts.to_string(), "recipient_id": "34611000001",
                "errors": [{ "code": 1, "title": title }] })
    };
    // A bare change: only the number's id in its metadata.
    let statuses = json!({ "field": "messages", "value": {
        "metadata": { "phone_number_id": "1001" },
        "statuses": [
            status("sent", now, "ok"),
            status("failed", now, "bad \u{0} title"),
            status("delivered", now + 3 * 86_400, "ok"),
            status("read", now + 1, "ok"),
        ]
    }});
    let body = to_bytes(&envelope(vec![statuses]));
    let summary = post_ok(&f, &hook, &body).await;
    assert_eq!(
        counts(&summary, ["statuses", "dead_lettered"]),
        (Some(2), Some(2)),
        "{summary}"
    );
    let m = f.store.message(&f.acme(), &reply.id).await.unwrap();
    assert_eq!(
        m.delivery.unwrap().status,
        inbox_core::model::DeliveryStatus::Read
    );
    let codes: BTreeSet<&'static str> = letters(&f).await.iter().map(|l| l.reason.code()).collect();
    assert_eq!(
        codes,
        BTreeSet::from(["control_character", "timestamp_in_future"])
    );
}

#[tokio::test]
async fn a_store_failure_fails_the_webhook_for_meta_to_retry() {
    let (faulty, f) = common::faulty_fixture().await;
    let hook = sales_route();
    let body = poison_body(&f);
    faulty.set_down(true);
    let (status, _) = post(&f, &hook, &body).await;
    assert_eq!(status, 503);
    faulty.set_down(false);
    let summary: IngestSummary = receive(&f, &hook, &body).await.unwrap();
    assert_eq!((summary.stored, summary.dead_lettered), (4, 4));
    assert_eq!(letters(&f).await.len(), 4);
}
