//! The simulator against the real server over local TCP: customers write
//! through signed webhooks, replies reach the fake Graph API and come back
//! as delivery statuses, notes never leave, a closed window is refused with
//! 131047 like the real API; a send answered too late is in doubt until its
//! statuses settle it or an agent sends it again; customers answer the
//! satisfaction survey and, asked, comment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::TimeDelta;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use inbox_core::model::Direction;
use inbox_core::Inbox;
use inbox_examples::server::launch::{Delivery, Running};
use inbox_examples::server::simulator::{
    run_customers, survey_answer, FakeMeta, LateSend, SimContent,
};

struct World {
    url: String,
    inbox: Inbox,
    meta: Arc<FakeMeta>,
    http: reqwest::Client,
    _running: Running,
}

async fn world() -> World {
    world_waiting(Duration::from_secs(3)).await
}

/// A world whose inbox waits `graph_timeout` for the fake Graph API.
async fn world_waiting(graph_timeout: Duration) -> World {
    let delivery = Delivery::Simulate {
        rate: 0,
        status_delay: Duration::from_millis(30),
        graph_timeout,
        late: Default::default(),
    };
    // The tests send the outbox themselves.
    let running = common::launch(delivery, Duration::from_secs(3600), Default::default()).await;
    World {
        url: running.url.clone(),
        inbox: running.inbox.clone(),
        meta: running.meta.clone().unwrap(),
        http: reqwest::Client::new(),
        _running: running,
    }
}

impl World {
    async fn sign_in(&self, agent: &str) -> String {
        let r = common::sign_in_over_http(&self.http, &self.url, agent, agent).await;
        r["token"].as_str().unwrap().to_string()
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let req = self.http.get(format!("{}{path}", self.url));
        common::json_answer(req.bearer_auth(token)).await
    }

    /// The customer `phone` (`name`) writes `content` through the webhook.
    async fn customer_writes(&self, phone: &str, name: &str, content: SimContent) {
        self.meta
            .customer_writes(phone, name, content)
            .await
            .unwrap();
    }

    async fn act(&self, token: &str, path: &str, key: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// `POST /api/conversations/{id}/{action}` as `token` under `key`.
    async fn on(
        &self,
        token: &str,
        id: &str,
        action: &str,
        key: &str,
        body: Value,
    ) -> (u16, Value) {
        self.act(token, &common::conversation_path(id, action), key, body)
            .await
    }

    /// The first unassigned conversation `token` sees: its id and version.
    async fn first_unassigned(&self, token: &str) -> (String, Value) {
        let page = self.get(token, "/api/conversations?view=unassigned").await;
        let first = &page["items"][0];
        (
            first["id"].as_str().unwrap().to_string(),
            first["version"].clone(),
        )
    }

    /// Claims conversation `id` (seen at `version`) as `token` and replies
    /// `text`; the reply's outcome.
    async fn claim_and_reply(&self, token: &str, id: &str, version: Value, text: &str) -> Value {
        let (s, claimed) = self
            .on(token, id, "claim", "c1", json!({"version": version}))
            .await;
        assert_eq!(s, 200, "{claimed}");
        let v = &claimed["conversation"]["version"];
        let (s, replied) = self
            .on(
                token,
                id,
                "reply",
                "r1",
                json!({"version": v, "text": text}),
            )
            .await;
        assert_eq!(s, 200, "{replied}");
        replied
    }

    /// Waits until `check` holds on the conversation (statuses arrive
    /// asynchronously).
    async fn until(&self, token: &str, id: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let d = self.get(token, &format!("/api/conversations/{id}")).await;
            if check(&d) {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("condition not met on {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_the_customer_notes_do_not() {
    let w = world().await;
    let marta = |content| w.customer_writes("34600100001", "Marta Ruiz", content);
    marta(SimContent::Text("¿Tenéis la talla 42?".into())).await;
    let ana = w.sign_in("ana").await;
    let (id, version) = w.first_unassigned(&ana).await;
    let replied = w
        .claim_and_reply(&ana, &id, version, "¡Sí, la tenemos!")
        .await;
    let v = replied["conversation"]["version"].clone();
    let note = json!({"version": v, "text": "stock check done"});
    let (s, _) = w.on(&ana, &id, "notes", "n1", note).await;
    assert_eq!(s, 200);
    assert_eq!(w.inbox.dispatch(10).await.unwrap().sent, 1);
    let got = w.meta.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].to.as_str(), got[0].text.as_deref()),
        ("34600100001", Some("¡Sí, la tenemos!"))
    );
    // Delivery ticks come back through the webhook: sent, delivered, read.
    w.until(&ana, &id, |d| {
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["delivery"]["status"] == "read")
    })
    .await;
    // The customer reacts to the reply and quotes it.
    marta(SimContent::Reaction(got[0].id.clone(), "❤️".into())).await;
    marta(SimContent::ReplyTo(got[0].id.clone(), "¡Genial!".into())).await;
    let d = w
        .until(&ana, &id, |d| d["messages"].as_array().unwrap().len() >= 5)
        .await;
    assert!(d.to_string().contains("❤️"), "{d}");

    // After the window (shrunk here to nothing), Meta refuses free-form
    // text with 131047; the reply is marked failed, not lost silently.
    w.meta.set_window(TimeDelta::zero());
    let v = d["conversation"]["version"].clone();
    let reply = json!({"version": v, "text": "¿Algo más?"});
    let (s, late) = w.on(&ana, &id, "reply", "r2", reply).await;
    assert_eq!(s, 200, "{late}");
    w.inbox.dispatch(10).await.unwrap();
    assert_eq!(w.meta.refused(), 1);
    let late_id = late["message"]["id"].as_str().unwrap().to_string();
    let stored = w
        .inbox
        .ports()
        .store
        .message(
            &"demo".try_into().unwrap(),
            &late_id.as_str().try_into().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(stored.direction, Direction::Outbound);
    let delivery = format!("{:?}", stored.delivery);
    assert!(
        delivery.contains("Failed") && delivery.contains("131047"),
        "{delivery}"
    );
    // A template still goes out.
    let v =
        w.get(&ana, &format!("/api/conversations/{id}")).await["conversation"]["version"].clone();
    let template =
        json!({"type": "template", "name": "order_update", "language": "en_US", "components": []});
    let reply = json!({"version": v, "content": template});
    let (s, sent) = w.on(&ana, &id, "reply", "t1", reply).await;
    assert_eq!(s, 200, "{sent}");
    w.inbox.dispatch(10).await.unwrap();
    assert_eq!(w.meta.received().last().unwrap().kind, "template");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_sends_what_was_queued() {
    let w = world().await;
    w.customer_writes("34600100002", "Jon", SimContent::Text("Kaixo".into()))
        .await;
    let ben = w.sign_in("ben").await;
    let (id, version) = w.first_unassigned(&ben).await;
    w.claim_and_reply(&ben, &id, version, "Kaixo! Zer moduz?")
        .await;
    // The worker ticks hourly here: nothing has been sent yet.
    assert!(w.meta.received().is_empty());
    let meta = w.meta.clone();
    w._running.shutdown().await;
    assert_eq!(
        meta.received().len(),
        1,
        "the queued reply went out on shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_customers_write_all_kinds_of_messages() {
    let w = world().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(run_customers(w.meta.clone(), 3000, 11, stopped));
    let sam = w.sign_in("sam").await;
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let page = w.get(&sam, "/api/conversations?view=all&limit=100").await;
        for c in page["items"].as_array().unwrap() {
            let d = w
                .get(
                    &sam,
                    &format!("/api/conversations/{}", c["id"].as_str().unwrap()),
                )
                .await;
            for m in d["messages"].as_array().unwrap() {
                kinds.insert(m["content"]["type"].as_str().unwrap_or("?").to_string());
            }
        }
        if kinds.len() >= 3 {
            break;
        }
    }
    stop.send(true).unwrap();
    run.await.unwrap();
    assert!(
        kinds.len() >= 3,
        "text, media and location at least: {kinds:?}"
    );
}

/// A customer writes, ana claims and replies `text`; the outbox is sent.
/// Returns ana's token, the conversation and the reply's id.
async fn ana_replies(w: &World, text: &str) -> (String, String, String) {
    w.customer_writes("34600100005", "Lucía", SimContent::Text("¿Hola?".into()))
        .await;
    let ana = w.sign_in("ana").await;
    let (id, version) = w.first_unassigned(&ana).await;
    let replied = w.claim_and_reply(&ana, &id, version, text).await;
    let message = replied["message"]["id"].as_str().unwrap().to_string();
    (ana, id, message)
}

/// Ana's reply `text`, which the fake Graph API answers `late` (after the
/// inbox stopped waiting): in doubt once sent. Returns the world, ana's
/// token, the conversation and the reply's id.
async fn a_late_reply(late: LateSend, text: &str) -> (World, String, String, String) {
    let w = world_waiting(Duration::from_millis(800)).await;
    w.meta.answer_late_next(late);
    let (ana, id, original) = ana_replies(&w, text).await;
    let report = w.inbox.dispatch(10).await.unwrap();
    assert_eq!((report.in_doubt, report.sent), (1, 0), "{report:?}");
    (w, ana, id, original)
}

fn message<'a>(detail: &'a Value, id: &str) -> &'a Value {
    detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {detail}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reply_is_in_doubt_until_an_agent_sends_it_again() {
    let (w, ana, id, original) = a_late_reply(LateSend::Lost, "Sí, hoy abrimos").await;
    assert_eq!(w.meta.answered_late(), 1);
    assert!(w.meta.received().is_empty());
    let detail = w.get(&ana, &format!("/api/conversations/{id}")).await;
    let m = message(&detail, &original);
    assert!(m["delivery"]["in_doubt_since"].is_string(), "{m}");
    let sam = w.sign_in("sam").await;
    assert_eq!(w.get(&sam, "/api/live").await["in_doubt"], 1);

    let resend = format!("messages/{original}/resend");
    let seen = json!({"version": detail["conversation"]["version"]});
    let (s, again) = w.on(&ana, &id, &resend, "again", seen).await;
    assert_eq!(s, 200, "{again}");
    let copy = again["message"]["id"].as_str().unwrap().to_string();
    assert_eq!(w.inbox.dispatch(10).await.unwrap().sent, 1);
    let got = w.meta.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].text.as_deref(), Some("Sí, hoy abrimos"));
    // The copy gets its ticks; the original keeps its doubt.
    let detail = w
        .until(&ana, &id, |d| {
            message(d, &copy)["delivery"]["status"] == "read"
        })
        .await;
    assert!(message(&detail, &original)["delivery"]["in_doubt_since"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_is_settled_by_its_statuses() {
    let (w, ana, id, original) = a_late_reply(LateSend::Delivered, "Te lo miro").await;
    // The customer got it; its statuses carry the inbox's id and settle it.
    assert_eq!(w.meta.received().len(), 1);
    let detail = w.get(&ana, &format!("/api/conversations/{id}")).await;
    assert!(message(&detail, &original)["delivery"]["in_doubt_since"].is_string());
    let detail = w
        .until(&ana, &id, |d| {
            message(d, &original)["delivery"]["status"] == "read"
        })
        .await;
    let m = message(&detail, &original);
    assert!(m["delivery"]["in_doubt_since"].is_null(), "{m}");
    assert_eq!(m["external_id"], w.meta.received()[0].id.as_str(), "{m}");
}

/// A customer's photo, voice note and document are served in place from
/// the media proxy: fetched from the fake Graph API with the number's
/// token, of their types, the document to download under its name.
#[tokio::test]
async fn media_messages_are_served_through_the_media_proxy() {
    let w = world().await;
    let ana = w.sign_in("ana").await;
    for content in [
        SimContent::Image("look".into()),
        SimContent::Voice,
        SimContent::Document("invoice.pdf".into()),
    ] {
        w.customer_writes("34600100001", "Marta Ruiz", content)
            .await;
    }
    let (id, _) = w.first_unassigned(&ana).await;
    let detail = w.get(&ana, &format!("/api/conversations/{id}")).await;
    let mut served = Vec::new();
    for m in detail["messages"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        let res = w
            .http
            .get(format!("{}/api/media/{id}", w.url))
            .bearer_auth(&ana)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let h = |n: &str| {
            let v = res
                .headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_string());
            v.unwrap_or_default()
        };
        let (kind, disposition) = (h("content-type"), h("content-disposition"));
        let bytes = res.bytes().await.unwrap();
        served.push((status, kind, disposition, bytes.len() > 16));
    }
    assert_eq!(
        served,
        vec![
            (200, "image/png".into(), "inline".into(), true),
            (200, "audio/ogg".into(), "inline".into(), true),
            (
                200,
                "application/pdf".into(),
                "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf".into(),
                true
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_answers_the_survey_and_comments_when_asked() {
    let w = world().await;
    // The demo asks a minute after the resolution; here at once (the
    // timers run on the real clock, and the survey is sent at their time).
    let ada = inbox_core::Actor::new("demo".try_into().unwrap(), "ada".try_into().unwrap());
    let stored = w
        .inbox
        .ports()
        .store
        .settings(&ada.tenant)
        .await
        .unwrap()
        .unwrap();
    let mut doc = stored.document.clone();
    doc.csat.after = inbox_core::routing::Dur(Duration::ZERO);
    w.inbox
        .update_settings(&ada, stored.version, doc)
        .await
        .unwrap();
    // A customer who comments on their first survey (the simulator draws
    // answers from the customer and the survey).
    let (wa, pick, comment) = (0..1000)
        .map(|i| format!("3460030{i:04}"))
        .find_map(|wa| match survey_answer(&wa, "csat:0:1", 3) {
            (pick, Some(comment)) => Some((wa, pick, comment)),
            _ => None,
        })
        .unwrap();
    w.customer_writes(
        &wa,
        "Pau Serra",
        SimContent::Text("¿Tenéis la talla 42?".into()),
    )
    .await;
    let ana = w.sign_in("ana").await;
    let (id, version) = w.first_unassigned(&ana).await;
    let replied = w
        .claim_and_reply(&ana, &id, version, "Sí, la tenemos")
        .await;
    let v = replied["conversation"]["version"].clone();
    let resolve = json!({"version": v, "status": "resolved"});
    let (s, resolved) = w.on(&ana, &id, "status", "s1", resolve).await;
    assert_eq!(s, 200, "{resolved}");
    assert_eq!(w.inbox.dispatch(10).await.unwrap().sent, 1, "the reply");
    // The timers send the survey: three faces.
    w.inbox.tick(chrono::Utc::now(), 100).await.unwrap();
    assert_eq!(w.inbox.dispatch(10).await.unwrap().sent, 1, "the survey");
    assert_eq!(w.meta.received()[1].kind, "interactive");
    // The customer taps a face once they read it (quietly: still resolved).
    let answered = |d: &Value| d["conversation"]["surveys"][0]["answer"].is_object();
    let d = w.until(&ana, &id, answered).await;
    let answer = &d["conversation"]["surveys"][0]["answer"];
    assert_eq!(answer["score"], pick + 1);
    assert_eq!(d["conversation"]["status"], "resolved");
    let taps: Vec<&Value> = (d["messages"].as_array().unwrap().iter())
        .filter(|m| m["content"]["type"] == "interactive")
        .map(|m| &m["content"]["reply"]["id"])
        .collect();
    assert_eq!(taps, [&json!(format!("csat:0:{}", pick + 1))]);
    // Asked for a comment, they write one, kept with the answer.
    assert_eq!(w.inbox.dispatch(10).await.unwrap().sent, 1, "the prompt");
    let commented = |d: &Value| d["conversation"]["surveys"][0]["answer"]["comment"] == comment;
    let d = w.until(&ana, &id, commented).await;
    assert_eq!(d["conversation"]["status"], "resolved");
    assert_eq!(w.meta.received().len(), 3, "{:?}", w.meta.received());
}
