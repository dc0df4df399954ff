//! Simulated customers and a fake Meta: try the inbox without a WhatsApp
//! number.
//!
//! [`FakeMeta`] plays both sides of WhatsApp for one number:
//!
//! - customers: it writes to the inbox through the real path, a signed
//!   webhook POST to the server ([`FakeMeta::customer_writes`]), and
//!   [`run_customers`] does so on its own at a steady rate with realistic
//!   content (questions, photos, locations, reactions to the business's
//!   replies, replies quoting earlier messages);
//! - the Graph API: [`FakeMeta::router`] accepts sends like
//!   `POST /{version}/{phone_number_id}/messages`, answers with a message id,
//!   then posts `sent`, `delivered` and `read` statuses back through the
//!   webhook; it refuses free-form messages to a customer who has not
//!   written within the window with error 131047, like the real one;
//! - answers too late: some sends ([`LateAnswers`], or
//!   [`FakeMeta::answer_late_next`]) are answered only after the inbox's
//!   client gave up, so the inbox cannot know whether the customer got the
//!   message: it is *in doubt* until a status settles it or an agent sends
//!   it again ([`LateSend`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use inbox_core::Secret;

mod apps;
mod surveys;

pub use surveys::{survey_answer, Tap};

/// What the fake needs to know about the number and the inbox.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The inbox server, e.g. `http://127.0.0.1:8080`.
    pub inbox_url: String,
    /// The webhook path on it, e.g. `/webhooks/whatsapp/main`.
    pub webhook_path: String,
    /// Meta's phone number id of the number.
    pub phone_number_id: String,
    /// The number as customers see it (digits).
    pub display_number: String,
    /// The app secret the webhooks are signed with.
    pub app_secret: Secret,
    /// How long after a customer's message free-form replies are accepted
    /// (WhatsApp: 24 hours; [`FakeMeta::set_window`] changes it).
    pub window: TimeDelta,
    /// Delay between the statuses of a sent message.
    pub status_delay: Duration,
    /// How long a late answer takes: longer than the inbox's client waits.
    pub late_after: Duration,
    /// Which sends are answered too late.
    pub late: LateAnswers,
    /// The message templates every account lists, as Meta lists them
    /// (`GET /{version}/{waba_id}/message_templates`).
    pub templates: Vec<Value>,
}

/// Sends the fake Graph API answers too late, chosen at random with a
/// seed (runs with the same seed and the same sends are alike); half of
/// them are lost, half reach the customer ([`LateSend`]). Off by default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LateAnswers {
    /// The share of sends answered too late, from 0 (none) to 1 (all).
    pub fraction: f64,
    /// The seed of the draw.
    pub seed: u64,
}

impl Default for LateAnswers {
    fn default() -> Self {
        Self {
            fraction: 0.0,
            seed: 7,
        }
    }
}

impl LateAnswers {
    /// `fraction` of the sends, with the default seed; refused unless
    /// between 0 and 1.
    pub fn new(fraction: f64) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(format!(
                "the share of late answers is between 0 and 1, not {fraction}"
            ));
        }
        Ok(Self {
            fraction,
            ..Self::default()
        })
    }
}

/// What happened to a send the fake Graph API answers too late (the
/// inbox's client has given up by then: for the inbox the message is in
/// doubt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateSend {
    /// Lost on the way: the customer never gets it and no status follows;
    /// only an agent sending it again reaches the customer.
    Lost,
    /// WhatsApp took it, its answer came too late: the customer gets it,
    /// and the statuses that follow (carrying the inbox's id in
    /// `biz_opaque_callback_data`) settle it by themselves.
    Delivered,
}

/// A message the fake Graph API accepted: what a customer received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The customer's WhatsApp id.
    pub to: String,
    /// The message id the fake gave it.
    pub id: String,
    /// `text`, `template`, `image` ...
    pub kind: String,
    /// The text, for text messages.
    pub text: Option<String>,
}

#[derive(Debug)]
struct MetaState {
    /// The customer-service window in force.
    window: TimeDelta,
    next_id: u64,
    /// When each customer last wrote.
    last_inbound: HashMap<String, DateTime<Utc>>,
    /// Each customer's latest inbound message id.
    last_inbound_id: HashMap<String, String>,
    received: Vec<Received>,
    refused: u64,
    /// Late answers a test asked for, used first.
    late_next: VecDeque<LateSend>,
    /// The draw of late answers ([`LateAnswers`]).
    late_rng: StdRng,
    answered_late: u64,
    /// The content type of each media id customers sent.
    media: HashMap<String, &'static str>,
    /// The files the inbox uploaded for agents.
    uploads: Vec<Upload>,
    /// The bodies of the inbox's thread control calls.
    thread_calls: Vec<Value>,
    /// Whether `take` is refused (2494191).
    refuse_takes: bool,
    /// The name each customer writes with (they answer surveys).
    names: HashMap<String, String>,
    /// Customers who answered a survey and comment when asked: what, and
    /// until when a text counts as the inbox asking.
    commenting: HashMap<String, (&'static str, std::time::Instant)>,
}

/// A file the inbox uploaded (an agent's attachment), as the fake Graph
/// API took it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The media id the fake gave it.
    pub id: String,
    /// Its content type (the form's `type` field).
    pub content_type: String,
    /// Its file name.
    pub filename: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl MetaState {
    /// Nothing received or sent yet; late answers drawn from `late_seed`.
    fn new(window: TimeDelta, late_seed: u64) -> Self {
        Self {
            window,
            next_id: 0,
            last_inbound: HashMap::new(),
            last_inbound_id: HashMap::new(),
            received: Vec::new(),
            refused: 0,
            late_next: VecDeque::new(),
            late_rng: StdRng::seed_from_u64(late_seed),
            answered_late: 0,
            media: HashMap::new(),
            uploads: Vec::new(),
            thread_calls: Vec::new(),
            refuse_takes: false,
            names: HashMap::new(),
            commenting: HashMap::new(),
        }
    }
}

/// Simulated customers and Graph API for one number.
#[derive(Debug)]
pub struct FakeMeta {
    config: SimConfig,
    http: reqwest::Client,
    state: Mutex<MetaState>,
}

/// The customers the simulator plays.
const CUSTOMERS: [(&str, &str); 8] = [
    ("34600100001", "Marta Ruiz"),
    ("34600100002", "Jon Etxeberria"),
    ("447700900003", "Olivia Brown"),
    ("5511990000004", "João Silva"),
    ("34600100005", "Lucía Fernández"),
    ("15550100006", "Kim Park"),
    ("34600100007", "Omar Haddad"),
    ("4915100000008", "Lena Vogel"),
];

const QUESTIONS: [&str; 12] = [
    "Hola, ¿tenéis la talla 42 de las zapatillas azules?",
    "Where is my order #48213? It was supposed to arrive yesterday",
    "¿Puedo cambiar la dirección de entrega?",
    "Do you ship to Portugal?",
    "Quiero devolver un pedido, ¿cómo lo hago?",
    "The package arrived damaged 😞",
    "¿Aceptáis pago contra reembolso?",
    "Is the black jacket available in M?",
    "Necesito la factura del pedido 51877, por favor",
    "Can I still cancel my order? I just placed it",
    "¿Hasta qué hora abre la tienda de Gran Vía?",
    "Hi! Any discount for a second pair?",
];

const FOLLOW_UPS: [&str; 5] = [
    "¿Hola? ¿Hay alguien?",
    "Thanks!",
    "Perfecto, muchas gracias",
    "Any news?",
    "Vale, lo miro y os digo",
];

/// What a simulated customer sends.
#[derive(Debug, Clone, PartialEq)]
pub enum SimContent {
    /// Text.
    Text(String),
    /// A photo with a caption.
    Image(String),
    /// A location.
    Location,
    /// A reaction to a message (by id).
    Reaction(String, String),
    /// Text quoting an earlier message (by id).
    ReplyTo(String, String),
    /// A voice note.
    Voice,
    /// A document (its file name).
    Document(String),
    /// A shared contact card (name, phone).
    Contact(String, String),
    /// The customer edits an earlier message of theirs (by id) to say this.
    Edit(String, String),
    /// The customer deletes an earlier message of theirs (by id).
    Revoke(String),
    /// The customer taps an option of an interactive message (a survey's
    /// face, a bot's button).
    Tap(Tap),
}

impl FakeMeta {
    /// A fake for `config`.
    pub fn new(config: SimConfig) -> Result<Arc<Self>, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Self {
            http,
            state: Mutex::new(MetaState::new(config.window, config.late.seed)),
            config,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MetaState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What customers received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }

    /// The content type and size of a media id: a customer's file or an
    /// upload.
    fn file(&self, media_id: &str) -> Option<(String, usize)> {
        let s = self.state();
        if let Some(t) = s.media.get(media_id) {
            return Some((t.to_string(), media_file(t).len()));
        }
        let u = s.uploads.iter().find(|u| u.id == media_id)?;
        Some((u.content_type.clone(), u.bytes.len()))
    }

    /// The files the inbox uploaded for agents, oldest first.
    pub fn uploads(&self) -> Vec<Upload> {
        self.state().uploads.clone()
    }

    /// How many sends were refused (window closed).
    pub fn refused(&self) -> u64 {
        self.state().refused
    }

    /// How many sends were answered too late (lost or not).
    pub fn answered_late(&self) -> u64 {
        self.state().answered_late
    }

    /// The next send is answered too late, and `what` happens to it
    /// (queued: call several times for several sends).
    pub fn answer_late_next(&self, what: LateSend) {
        self.state().late_next.push_back(what);
    }

    /// Changes the window (to see refusals without waiting a day).
    pub fn set_window(&self, window: TimeDelta) {
        self.state().window = window;
    }

    /// A new media id for message `id`'s file of `content_type`, known to
    /// the fake's media lookup.
    fn media_id(&self, id: &str, content_type: &'static str) -> String {
        let media_id = format!("media.sim.{id}");
        self.state().media.insert(media_id.clone(), content_type);
        media_id
    }

    /// The fake Graph API's routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/{version}/{phone_number_id}/messages", post(graph_send))
            .route(
                "/{version}/{waba_id}/message_templates",
                get(graph_templates),
            )
            .route("/{version}/{phone_number_id}/media", post(graph_upload))
            .route(
                "/{version}/{phone_number_id}/thread_control",
                post(apps::graph_thread_control),
            )
            .route("/{version}/{media_id}", get(graph_media))
            .route("/media-bytes/{media_id}", get(media_bytes))
            .with_state(self.clone())
    }

    /// A customer writes: a signed webhook POST to the inbox, as WhatsApp
    /// would. Returns the message id.
    pub async fn customer_writes(
        &self,
        wa_id: &str,
        name: &str,
        content: SimContent,
    ) -> Result<String, String> {
        self.customer_wrote_at(wa_id, name, content, Utc::now())
            .await
    }

    /// A customer's message sent at `now` (WhatsApp's timestamp), e.g. a
    /// day ago, so its customer window has already closed; delivered now.
    /// Returns the message id.
    pub async fn customer_wrote_at(
        &self,
        wa_id: &str,
        name: &str,
        content: SimContent,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let id = self.inbound_id(wa_id, now);
        (self.state().names).insert(wa_id.to_string(), name.to_string());
        let mut message = json!({
            "from": wa_id,
            "id": id,
            "timestamp": now.timestamp().to_string(),
        });
        let m = message.as_object_mut().ok_or("message")?;
        match content {
            SimContent::Text(body) => {
                m.insert("type".into(), json!("text"));
                m.insert("text".into(), json!({ "body": body }));
            }
            SimContent::Image(caption) => {
                m.insert("type".into(), json!("image"));
                m.insert(
                    "image".into(),
                    json!({ "caption": caption, "mime_type": "image/png",
                            "sha256": "c2ltdWxhdGVk", "id": self.media_id(&id, "image/png") }),
                );
            }
            SimContent::Location => {
                m.insert("type".into(), json!("location"));
                m.insert(
                    "location".into(),
                    json!({ "latitude": 40.4168, "longitude": -3.7038,
                            "name": "Puerta del Sol", "address": "Madrid" }),
                );
            }
            SimContent::Reaction(message_id, emoji) => {
                m.insert("type".into(), json!("reaction"));
                m.insert(
                    "reaction".into(),
                    json!({ "message_id": message_id, "emoji": emoji }),
                );
            }
            SimContent::Voice => {
                m.insert("type".into(), json!("audio"));
                m.insert(
                    "audio".into(),
                    json!({ "mime_type": "audio/ogg; codecs=opus", "voice": true,
                            "sha256": "c2ltdWxhdGVk", "id": self.media_id(&id, "audio/ogg") }),
                );
            }
            SimContent::Document(filename) => {
                m.insert("type".into(), json!("document"));
                m.insert(
                    "document".into(),
                    json!({ "filename": filename, "mime_type": "application/pdf",
                            "sha256": "c2ltdWxhdGVk", "id": self.media_id(&id, "application/pdf") }),
                );
            }
            SimContent::Contact(name, phone) => {
                m.insert("type".into(), json!("contacts"));
                m.insert(
                    "contacts".into(),
                    json!([{ "name": { "formatted_name": name },
                             "phones": [{ "phone": phone, "type": "CELL" }] }]),
                );
            }
            SimContent::Edit(message_id, body) => {
                m.insert("type".into(), json!("edit"));
                m.insert(
                    "edit".into(),
                    json!({ "original_message_id": message_id,
                            "message": { "type": "text", "text": { "body": body } } }),
                );
            }
            SimContent::Revoke(message_id) => {
                m.insert("type".into(), json!("revoke"));
                m.insert(
                    "revoke".into(),
                    json!({ "original_message_id": message_id }),
                );
            }
            SimContent::Tap(tap) => {
                surveys::tap_fields(m, &self.config.display_number, &tap);
            }
            SimContent::ReplyTo(message_id, body) => {
                m.insert("type".into(), json!("text"));
                m.insert("text".into(), json!({ "body": body }));
                m.insert(
                    "context".into(),
                    json!({ "from": self.config.display_number, "id": message_id }),
                );
            }
        }
        self.post_webhook(json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": self.config.display_number,
                          "phone_number_id": self.config.phone_number_id },
            "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
            "messages": [message],
        }))
        .await?;
        Ok(id)
    }

    /// A new id for a message `customer` (a number or a BSUID) sends at
    /// `now`, which opens their customer service window.
    fn inbound_id(&self, customer: &str, now: DateTime<Utc>) -> String {
        let mut s = self.state();
        s.next_id += 1;
        let id = format!("wamid.sim.in.{}.{}", now.timestamp_millis(), s.next_id);
        s.last_inbound.insert(customer.to_string(), now);
        s.last_inbound_id.insert(customer.to_string(), id.clone());
        id
    }

    /// A customer who hides their number writes `text` (2026): WhatsApp
    /// sends their BSUID (`user_id`, `from_user_id`), their username and
    /// profile name, and no phone number. Returns the message id.
    pub async fn hidden_customer_writes(
        &self,
        user_id: &str,
        username: &str,
        name: &str,
        text: &str,
    ) -> Result<String, String> {
        let now = Utc::now();
        let id = self.inbound_id(user_id, now);
        self.post_webhook(json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": self.config.display_number,
                          "phone_number_id": self.config.phone_number_id },
            "contacts": [{ "profile": { "name": name, "username": username }, "user_id": user_id }],
            "messages": [{ "from_user_id": user_id, "id": id, "timestamp": now.timestamp().to_string(),
                           "type": "text", "text": { "body": text } }],
        }))
        .await?;
        Ok(id)
    }

    /// A customer stops (`stop: true`) or resumes marketing messages in
    /// WhatsApp: a signed `user_preferences` webhook, as WhatsApp sends it.
    pub async fn customer_chooses_marketing(&self, wa_id: &str, stop: bool) -> Result<(), String> {
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": self.config.display_number,
                          "phone_number_id": self.config.phone_number_id },
            "user_preferences": [{
                "wa_id": wa_id,
                "detail": if stop { "User requested to stop marketing messages" } else { "User resumed marketing messages" },
                "category": "marketing_messages",
                "value": if stop { "stop" } else { "resume" },
                "timestamp": Utc::now().timestamp().to_string(),
            }],
        });
        self.post_change("user_preferences", value).await
    }

    /// Posts one change value to the inbox's webhook, signed.
    async fn post_webhook(&self, value: Value) -> Result<(), String> {
        self.post_change("messages", value).await
    }

    /// Posts one change value of `field` to the inbox's webhook, signed.
    async fn post_change(&self, field: &str, value: Value) -> Result<(), String> {
        self.post_entry(
            json!({ "id": "sim-waba", "changes": [{ "field": field, "value": value }] }),
        )
        .await
    }

    /// Posts a signed webhook with one entry.
    async fn post_entry(&self, entry: Value) -> Result<(), String> {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [entry],
        })
        .to_string();
        let signature = inbox_whatsapp::sign(&self.config.app_secret, body.as_bytes());
        let url = format!("{}{}", self.config.inbox_url, self.config.webhook_path);
        let res = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(inbox_whatsapp::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("webhook: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("webhook answered {}", res.status()));
        }
        Ok(())
    }

    /// `sent`, `delivered`, `read` for a message, a little apart, the first
    /// after `after`.
    async fn report_statuses(
        self: Arc<Self>,
        id: String,
        to: String,
        callback: Option<String>,
        after: Duration,
        pricing: Value,
    ) {
        tokio::time::sleep(after).await;
        for status in ["sent", "delivered", "read"] {
            tokio::time::sleep(self.config.status_delay).await;
            let mut st = json!({
                "id": id,
                "status": status,
                "timestamp": Utc::now().timestamp().to_string(),
            });
            // A customer known by number, or (2026) only by BSUID.
            let recipient = if to.contains('.') {
                "recipient_user_id"
            } else {
                "recipient_id"
            };
            if let Some(o) = st.as_object_mut() {
                o.insert(recipient.into(), json!(to));
            }
            if let (Some(cb), Some(o)) = (&callback, st.as_object_mut()) {
                o.insert("biz_opaque_callback_data".into(), json!(cb));
            }
            if let (true, Some(o)) = (status == "sent", st.as_object_mut()) {
                o.insert("pricing".into(), pricing.clone());
            }
            let value = json!({
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": self.config.display_number,
                              "phone_number_id": self.config.phone_number_id },
                "statuses": [st],
            });
            if let Err(e) = self.post_webhook(value).await {
                tracing::warn!(%e, "simulator: status webhook failed");
            }
        }
    }

    /// Something a customer might send now.
    fn next_content(&self, rng: &mut StdRng, wa_id: &str) -> SimContent {
        let s = self.state();
        let got: Option<String> = s
            .received
            .iter()
            .rev()
            .find(|r| r.to == wa_id)
            .map(|r| r.id.clone());
        let own = s.last_inbound_id.get(wa_id).cloned();
        drop(s);
        let roll = rng.random_range(0..100);
        match (roll, got, own) {
            (0..40, _, _) => {
                SimContent::Text(QUESTIONS[rng.random_range(0..QUESTIONS.len())].into())
            }
            (55..68, _, _) => SimContent::Image(
                [
                    "This one",
                    "¿Tenéis este modelo?",
                    "The box looks like this",
                ][rng.random_range(0..3)]
                .into(),
            ),
            (68..71, _, _) => SimContent::Location,
            (40..45, _, _) => SimContent::Voice,
            (45..50, _, _) => SimContent::Document(
                ["factura-118.pdf", "pedido.pdf", "receipt.pdf"][rng.random_range(0..3)].into(),
            ),
            (50..53, _, _) => SimContent::Contact("Lucía Pérez".into(), "+34 600 100 200".into()),
            (53..55, _, Some(id)) => SimContent::Edit(id, "(edited) Sorry, I meant size 43".into()),
            (71..73, _, Some(id)) => SimContent::Revoke(id),
            (73..85, Some(id), _) => {
                SimContent::Reaction(id, ["👍", "❤️", "🙏", "😂"][rng.random_range(0..4)].into())
            }
            (85..100, Some(id), _) | (85..100, None, Some(id)) => {
                SimContent::ReplyTo(id, FOLLOW_UPS[rng.random_range(0..FOLLOW_UPS.len())].into())
            }
            _ => SimContent::Text(FOLLOW_UPS[rng.random_range(0..FOLLOW_UPS.len())].into()),
        }
    }
}

/// The fake Graph API's template list: the configured templates, one
/// page, for any account.
/// A small file of each type the simulated customers send: a 64×40 PNG,
/// an Ogg page header (not audio a player can decode, but of its type)
/// and a one-page PDF.
pub fn media_file(content_type: &str) -> &'static [u8] {
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x28, 0x08, 0x02, 0x00, 0x00, 0x00, 0xc1,
        0xac, 0x6b, 0xbe, 0x00, 0x00, 0x00, 0x3d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xcf,
        0x41, 0x09, 0x00, 0x00, 0x08, 0x04, 0xb0, 0x2b, 0x63, 0x29, 0xfb, 0xd9, 0xd3, 0x0c, 0x3e,
        0x85, 0xc1, 0x0a, 0x2c, 0x35, 0xfd, 0x5a, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
        0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04,
        0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x2e, 0x16, 0x40, 0x64, 0x68, 0xa6, 0xef, 0x67, 0x84,
        0x27, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    const OGG: &[u8] = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00";
    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
    match content_type {
        "image/png" => PNG,
        "audio/ogg" => OGG,
        _ => PDF,
    }
}

/// `GET /{version}/{media_id}`: the lookup of a media id a customer sent,
/// pointing at this fake's own download URL (404 for any other id).
async fn graph_media(
    State(meta): State<Arc<FakeMeta>>,
    Path((_version, media_id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some((content_type, size)) = meta.file(&media_id) else {
        let error = json!({ "error": { "message": "Unsupported get request", "code": 100 } });
        return (StatusCode::NOT_FOUND, Json(error)).into_response();
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    Json(json!({
        "url": format!("http://{host}/media-bytes/{media_id}"),
        "mime_type": content_type,
        "sha256": "c2ltdWxhdGVk",
        "file_size": size,
        "id": media_id,
        "messaging_product": "whatsapp",
    }))
    .into_response()
}

/// `GET /media-bytes/{media_id}`: the file of a media id.
async fn media_bytes(State(meta): State<Arc<FakeMeta>>, Path(media_id): Path<String>) -> Response {
    let s = meta.state();
    if let Some(content_type) = s.media.get(&media_id).copied() {
        let file = media_file(content_type);
        return ([(axum::http::header::CONTENT_TYPE, content_type)], file).into_response();
    }
    match s.uploads.iter().find(|u| u.id == media_id) {
        Some(u) => {
            let content_type = u.content_type.clone();
            (
                [(axum::http::header::CONTENT_TYPE, content_type)],
                u.bytes.clone(),
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What Meta's per-message pricing says of a send: a template is billed
/// in its category (the fake says `utility`), anything else goes inside
/// the customer service window, free.
fn pricing_of(body: &Value) -> Value {
    let template = body.get("type").and_then(Value::as_str) == Some("template");
    let (category, kind) = if template {
        ("utility", "regular")
    } else {
        ("service", "free_customer_service")
    };
    json!({ "pricing_model": "PMP", "category": category, "type": kind, "billable": template })
}

/// `POST /{version}/{phone_number_id}/media`: an upload (a multipart
/// form with `messaging_product`, `type` and `file`), answered with a new
/// media id the fake's media lookup then knows.
async fn graph_upload(
    State(meta): State<Arc<FakeMeta>>,
    Path((_version, pnid)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if pnid != meta.config.phone_number_id {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Unknown phone number id");
    }
    let boundary = (headers.get(axum::http::header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_string());
    let Some(upload) = boundary.and_then(|b| parse_upload(&body, &b)) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "Param file must be a file upload",
        );
    };
    let mut s = meta.state();
    s.next_id += 1;
    let id = format!("media.sim.up.{}", s.next_id);
    s.uploads.push(Upload {
        id: id.clone(),
        ..upload
    });
    Json(json!({ "id": id })).into_response()
}

/// The `type` and `file` parts of a multipart upload form.
fn parse_upload(body: &[u8], boundary: &str) -> Option<Upload> {
    let delimiter = format!("--{boundary}");
    let mut upload = Upload {
        id: String::new(),
        content_type: String::new(),
        filename: String::new(),
        bytes: Vec::new(),
    };
    let mut rest = body;
    while let Some(at) = find(rest, delimiter.as_bytes()) {
        let part = &rest[..at];
        rest = &rest[at + delimiter.len()..];
        let Some(end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..end]);
        let value = &part[end + 4..];
        let value = value.strip_suffix(b"\r\n").unwrap_or(value);
        if head.contains("name=\"type\"") {
            upload.content_type = String::from_utf8_lossy(value).into_owned();
        } else if head.contains("name=\"file\"") {
            let name = head
                .split("filename=\"")
                .nth(1)
                .and_then(|f| f.split('"').next());
            upload.filename = name.unwrap_or_default().to_string();
            upload.bytes = value.to_vec();
        }
    }
    (!upload.bytes.is_empty() && !upload.content_type.is_empty()).then_some(upload)
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn graph_templates(State(meta): State<Arc<FakeMeta>>) -> Json<Value> {
    Json(json!({ "data": meta.config.templates, "paging": { "cursors": {} } }))
}

/// What the fake Graph API makes of a send.
enum Outcome {
    /// Refused: the window is closed.
    WindowClosed,
    /// Accepted with this id (answered at once, or too late).
    Accepted(String, Option<LateSend>),
    /// Lost: answered too late, nothing reaches the customer.
    Lost,
}

impl FakeMeta {
    /// Takes (or refuses, or loses) a send of `kind` to `to`.
    fn accept(&self, to: &str, kind: &str, text: Option<String>) -> Outcome {
        let now = Utc::now();
        let mut s = self.state();
        let open = s.last_inbound.get(to).is_some_and(|t| now - *t < s.window);
        if kind != "template" && !open {
            s.refused += 1;
            return Outcome::WindowClosed;
        }
        let fraction = self.config.late.fraction;
        let late = s
            .late_next
            .pop_front()
            .or_else(|| draw_late(&mut s, fraction));
        if late.is_some() {
            s.answered_late += 1;
        }
        if late == Some(LateSend::Lost) {
            return Outcome::Lost;
        }
        s.next_id += 1;
        let id = format!("wamid.sim.out.{}", s.next_id);
        s.received.push(Received {
            to: to.to_string(),
            id: id.clone(),
            kind: kind.to_string(),
            text,
        });
        Outcome::Accepted(id, late)
    }
}

/// A Graph API error answer.
fn graph_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_data": { "messaging_product": "whatsapp", "details": message },
            "fbtrace_id": "sim" } })),
    )
        .into_response()
}

/// The fake `POST /{version}/{phone_number_id}/messages`.
async fn graph_send(
    State(meta): State<Arc<FakeMeta>>,
    Path((_version, pnid)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if pnid != meta.config.phone_number_id {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Unknown phone number id");
    }
    // Mark-as-read requests.
    if body.get("status").and_then(Value::as_str) == Some("read") {
        return Json(json!({ "success": true })).into_response();
    }
    // `to` a number, or `recipient` a BSUID (a customer who hides their
    // number).
    let to = body.get("to").or_else(|| body.get("recipient"));
    let Some(to) = to.and_then(Value::as_str).map(str::to_string) else {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Missing recipient");
    };
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("text");
    // The text of a text message, the caption of a photo or document.
    let text = (body.pointer("/text/body"))
        .or_else(|| body.pointer(&format!("/{kind}/caption")))
        .and_then(Value::as_str)
        .map(str::to_string);
    let (id, late) = match meta.accept(&to, kind, text) {
        Outcome::WindowClosed => return graph_error(
            StatusCode::BAD_REQUEST,
            131047,
            "Re-engagement message: more than 24 hours have passed since the customer last replied",
        ),
        Outcome::Lost => {
            // The answer comes after the client gave up (if it still
            // listens at all).
            tokio::time::sleep(meta.config.late_after).await;
            return graph_error(
                StatusCode::GATEWAY_TIMEOUT,
                2,
                "Service temporarily unavailable",
            );
        }
        Outcome::Accepted(id, late) => (id, late),
    };
    // (what the customer does with it: a survey is answered)
    meta.customer_got(&to, &id, &body);
    let callback = body
        .get("biz_opaque_callback_data")
        .and_then(Value::as_str)
        .map(str::to_string);
    // A late answer's statuses follow it: the inbox has marked the message
    // in doubt by then, and they settle it.
    let wait = match late {
        Some(_) => meta.config.late_after,
        None => Duration::ZERO,
    };
    tokio::spawn(meta.clone().report_statuses(
        id.clone(),
        to.clone(),
        callback,
        wait,
        pricing_of(&body),
    ));
    tokio::time::sleep(wait).await;
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": to }],
        "messages": [{ "id": id }],
    }))
    .into_response()
}

/// Whether the next send is answered too late (a share `fraction` of
/// them, half lost), drawn from the seeded generator.
fn draw_late(s: &mut MetaState, fraction: f64) -> Option<LateSend> {
    if fraction <= 0.0 || !s.late_rng.random_bool(fraction.min(1.0)) {
        return None;
    }
    Some(if s.late_rng.random_bool(0.5) {
        LateSend::Lost
    } else {
        LateSend::Delivered
    })
}

/// Plays the customers until `stop` turns true: about `per_minute`
/// messages a minute (at least one a minute), chosen with a seeded random
/// generator so runs are alike.
pub async fn run_customers(
    meta: Arc<FakeMeta>,
    per_minute: u32,
    seed: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let gap = Duration::from_secs(60) / per_minute.max(1);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(gap) => {}
            _ = stop.changed() => return,
        }
        let (wa_id, name) = CUSTOMERS[rng.random_range(0..CUSTOMERS.len())];
        let content = meta.next_content(&mut rng, wa_id);
        if let Err(e) = meta.customer_writes(wa_id, name, content).await {
            tracing::warn!(%e, "simulator: customer message not accepted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(late: LateAnswers, n: usize) -> Vec<Option<LateSend>> {
        let mut s = MetaState::new(TimeDelta::hours(24), late.seed);
        (0..n).map(|_| draw_late(&mut s, late.fraction)).collect()
    }

    #[test]
    fn late_answers_are_a_seeded_share_of_the_sends() {
        let some = LateAnswers::new(0.2).unwrap_or_else(|e| panic!("{e}"));
        let a = draws(some, 1000);
        assert_eq!(a, draws(some, 1000), "the same seed, the same draws");
        let lost = a.iter().filter(|d| **d == Some(LateSend::Lost)).count();
        let delivered = a
            .iter()
            .filter(|d| **d == Some(LateSend::Delivered))
            .count();
        assert!(
            (150..=250).contains(&(lost + delivered)),
            "{lost} + {delivered}"
        );
        assert!(
            lost > 50 && delivered > 50,
            "{lost} lost, {delivered} delivered"
        );
        assert!(draws(LateAnswers::default(), 1000)
            .iter()
            .all(Option::is_none));
        assert!(
            draws(LateAnswers::new(1.0).unwrap_or_else(|e| panic!("{e}")), 100)
                .iter()
                .all(Option::is_some)
        );
        for wrong in [-0.1, 1.5, f64::NAN] {
            assert!(LateAnswers::new(wrong).is_err(), "{wrong}");
        }
    }
}
