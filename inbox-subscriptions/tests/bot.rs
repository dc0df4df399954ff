#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The HTTP bot adapter against a local HTTP server: signed turns, the
//! answer mapped back, and every failure a typed `BotError`; end to end,
//! a bot's reply in the conversation, or a handoff when it fails.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use inbox_core::model::{
    Agent, Author, Content, Direction, HandoffReason, Message, Presence, Role,
};
use inbox_core::ports::{
    Bot, BotAction, BotAnswer, BotContact, BotError, BotMessage, BotSpeaker, BotTurn, ManualClock,
    Store,
};
use inbox_core::routing::Dur;
use inbox_core::settings::{BotSpec, FaqBot, HttpBotSpec, TenantSettings};
use inbox_core::testing::Fixture;
use inbox_core::{AgentId, ChannelId, ConversationId, Error, MessageId, Secret, TenantId};
use inbox_store_memory::MemoryStore;
use inbox_subscriptions::{
    verify, BotDirectory, HttpBot, StaticBotSecrets, MAX_BOT_ANSWER_BYTES, SIGNATURE_HEADER,
};

const SECRET: &str = "botsec_test";

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

/// A directory that knows one bot (or none).
struct OneBot(Option<BotSpec>);

#[async_trait]
impl BotDirectory for OneBot {
    async fn bot_spec(&self, _tenant: &TenantId, _bot: &AgentId) -> Result<Option<BotSpec>, Error> {
        Ok(self.0.clone())
    }
}

fn http_spec(server: &MockServer) -> BotSpec {
    BotSpec::Http(HttpBotSpec {
        name: "Assistant".into(),
        url: format!("{}/turn", server.uri()),
        secret: "ai".into(),
        timeout: Dur(Duration::from_secs(5)),
        history: 20,
        context: false,
    })
}

fn secrets() -> Arc<StaticBotSecrets> {
    Arc::new(StaticBotSecrets::new().with(acme(), "ai", Secret::new(SECRET)))
}

/// The adapter for one bot, on a clock stopped at the fixture's start.
fn adapter(spec: Option<BotSpec>, secrets: Arc<StaticBotSecrets>) -> HttpBot {
    let clock = Arc::new(ManualClock::new(Fixture::start()));
    HttpBot::with_directory(Arc::new(OneBot(spec)), secrets, clock).unwrap()
}

/// A turn of bot `ai` that must be answered within `within`.
fn turn(within: Duration) -> BotTurn {
    let start = Fixture::start();
    BotTurn {
        tenant: acme(),
        bot: AgentId::new("ai").unwrap(),
        conversation: ConversationId::new("c-1").unwrap(),
        turn: 3,
        key: "c-1:3".into(),
        channel: ChannelId::new("ch-1").unwrap(),
        contact: BotContact {
            name: Some("Lu".into()),
            tags: vec!["vip".into()],
            attributes: Default::default(),
        },
        messages: vec![BotMessage {
            id: MessageId::new("m-1").unwrap(),
            from: BotSpeaker::Customer,
            content: Content::text("Where is my order?"),
            at: start,
        }],
        window_expires_at: Some(start + TimeDelta::hours(24)),
        exchanges: 0,
        context: Vec::new(),
        deadline: start + TimeDelta::from_std(within).unwrap(),
    }
}

fn answer() -> BotAnswer {
    BotAnswer {
        actions: vec![
            BotAction::Reply {
                content: Content::text("It ships tomorrow."),
            },
            BotAction::Tag {
                add: vec!["order".into()],
                remove: vec![],
            },
        ],
    }
}

/// Matches requests whose `X-Inbox-Signature` checks out with `secret`,
/// signed at `at`.
struct Signed(Secret, DateTime<Utc>);

impl Match for Signed {
    fn matches(&self, request: &Request) -> bool {
        let sig = request.headers.get(SIGNATURE_HEADER);
        let sig = sig.and_then(|h| h.to_str().ok());
        sig.is_some_and(|h| verify(&self.0, h, &request.body, self.1, 0).is_ok())
    }
}

/// A server answering every POST with `response`.
async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_signed_turn_gets_the_bots_answer() {
    let server = MockServer::start().await;
    let agent = concat!("inbox-bot/", env!("CARGO_PKG_VERSION"));
    Mock::given(method("POST"))
        .and(path("/turn"))
        .and(header("content-type", "application/json"))
        .and(header("idempotency-key", "c-1:3"))
        .and(header("user-agent", agent))
        .and(Signed(Secret::new(SECRET), Fixture::start()))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    let bot = adapter(Some(http_spec(&server)), secrets());
    let t = turn(Duration::from_secs(5));
    assert_eq!(bot.turn(&t).await, Ok(answer()));
    let sent = server.received_requests().await.unwrap();
    let posted: BotTurn = sent[0].body_json().unwrap();
    assert_eq!(posted, t, "the body is the turn, messages and all");
    assert!(!format!("{bot:?}").contains(SECRET));
}

#[tokio::test]
async fn no_answer_by_the_deadline_is_a_timeout() {
    let late = ResponseTemplate::new(200)
        .set_body_json(answer())
        .set_delay(Duration::from_secs(3));
    let server = answering(late).await;
    let bot = adapter(Some(http_spec(&server)), secrets());
    let got = bot.turn(&turn(Duration::from_millis(300))).await;
    assert_eq!(got, Err(BotError::Timeout));
}

#[tokio::test]
async fn other_statuses_are_unavailable() {
    let server = MockServer::start().await;
    let bot = adapter(Some(http_spec(&server)), secrets());
    for status in [500, 503, 429, 404, 302] {
        server.reset().await;
        let respond = ResponseTemplate::new(status).set_body_json(answer());
        Mock::given(method("POST"))
            .respond_with(respond)
            .mount(&server)
            .await;
        let got = bot.turn(&turn(Duration::from_secs(5))).await;
        let want = BotError::Unavailable(format!("HTTP {status}"));
        assert_eq!(got, Err(want), "{status}");
    }
}

#[tokio::test]
async fn an_unreachable_bot_is_unavailable() {
    let spec = BotSpec::Http(HttpBotSpec {
        name: "Assistant".into(),
        url: "http://127.0.0.1:9/turn".into(),
        secret: "ai".into(),
        timeout: Dur(Duration::from_secs(5)),
        history: 20,
        context: false,
    });
    let bot = adapter(Some(spec), secrets());
    let got = bot.turn(&turn(Duration::from_secs(5))).await;
    assert_eq!(got, Err(BotError::Unavailable("could not connect".into())));
}

/// What the adapter makes of a server answering `response`: a bad
/// answer, whose text (returned) is short and never has the secret.
async fn bad_answer_to(response: ResponseTemplate) -> String {
    let server = answering(response).await;
    let bot = adapter(Some(http_spec(&server)), secrets());
    let got = bot.turn(&turn(Duration::from_secs(5))).await;
    let Err(BotError::BadAnswer(why)) = got else {
        panic!("expected a bad answer, got {got:?}");
    };
    assert!(why.chars().count() <= 201, "{why}");
    assert!(!why.contains(SECRET), "{why}");
    why
}

#[tokio::test]
async fn garbage_is_a_bad_answer() {
    let body = format!("<html>{}</html>", "oops ".repeat(2_000));
    let why = bad_answer_to(ResponseTemplate::new(200).set_body_string(body)).await;
    assert!(why.starts_with("not a bot answer"), "{why}");
}

#[tokio::test]
async fn an_unknown_action_is_a_bad_answer() {
    let body = serde_json::json!({ "actions": [{ "type": "dance", "secret": SECRET }] });
    let why = bad_answer_to(ResponseTemplate::new(200).set_body_json(body)).await;
    assert!(why.contains("dance"), "{why}");
}

#[tokio::test]
async fn an_answer_over_the_limit_is_a_bad_answer() {
    let text = "x".repeat(MAX_BOT_ANSWER_BYTES);
    let reply = serde_json::json!({ "type": "reply", "content": { "type": "text", "body": text } });
    let body = serde_json::json!({ "actions": [reply] });
    let why = bad_answer_to(ResponseTemplate::new(200).set_body_json(body)).await;
    assert!(why.contains("over 262144 bytes"), "{why}");
}

#[tokio::test]
async fn without_its_secret_or_settings_the_bot_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(0)
        .mount(&server)
        .await;
    let t = turn(Duration::from_secs(5));
    let none = Arc::new(StaticBotSecrets::new());
    let got = adapter(Some(http_spec(&server)), none).turn(&t).await;
    let want = "no secret \"ai\" for bot \"ai\"";
    assert_eq!(got, Err(BotError::Unavailable(want.into())));
    let got = adapter(None, secrets()).turn(&t).await;
    let want = "bot \"ai\" is not in the tenant's bots settings";
    assert_eq!(got, Err(BotError::Unavailable(want.into())));
    let faq = BotSpec::Faq(FaqBot {
        name: "Helper".into(),
        answers: vec![],
        otherwise: Default::default(),
    });
    let got = adapter(Some(faq), secrets()).turn(&t).await;
    let want = "bot \"ai\" is not an http bot";
    assert_eq!(got, Err(BotError::Unavailable(want.into())));
}

/// A fixture whose tenant `acme` gives every new conversation to the HTTP
/// bot `ai` at `server`, answered by the adapter.
async fn bot_fixture(server: &MockServer) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let f = Fixture::new(store as Arc<dyn Store>).await.unwrap();
    let mut bot = Agent::new(
        f.acme(),
        AgentId::new("ai").unwrap(),
        "Assistant",
        Role::Agent,
    );
    bot.service = true;
    bot.bot = true;
    bot.presence = Presence::Online;
    f.inbox.provision_agent(&bot).await.unwrap();
    let yaml = format!(
        r#"
bots:
  list:
    ai: {{ kind: http, name: Assistant, url: "{}/turn", secret: ai, timeout: 5s }}
routing:
  rules:
    - {{ name: bot first, on: [conversation_opened], then: [ {{ route_to_bot: ai }} ] }}
"#,
        server.uri()
    );
    let doc = TenantSettings::from_yaml(&yaml).unwrap();
    f.edit_settings(|s| {
        s.bots = doc.bots;
        s.routing.rules = doc.routing.rules;
    })
    .await
    .unwrap();
    let adapter = HttpBot::new(&f.inbox, secrets()).unwrap();
    f.inbox.set_bot(Arc::new(adapter));
    f
}

/// The messages of `acme`'s conversation `c` going `direction`.
async fn written(f: &Fixture, c: &ConversationId, direction: Direction) -> Vec<Message> {
    let all = f.store.messages(&f.acme(), c).await.unwrap();
    all.into_iter()
        .filter(|m| m.direction == direction)
        .collect()
}

#[tokio::test]
async fn the_bots_reply_goes_into_the_conversation() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/turn"))
        .and(Signed(Secret::new(SECRET), Fixture::start()))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    let f = bot_fixture(&server).await;
    let said = f.customer_says("1001", "b1", "34655500061", "Where is my order?");
    let (c, _) = said.await.unwrap();
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 1);
    let sent = server.received_requests().await.unwrap();
    let posted: BotTurn = sent[0].body_json().unwrap();
    assert_eq!(posted.conversation, c);
    assert_eq!(posted.customer_text(), "Where is my order?");
    let out = written(&f, &c, Direction::Outbound).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].author, Author::Agent(AgentId::new("ai").unwrap()));
    assert_eq!(out[0].content, Content::text("It ships tomorrow."));
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.tags, ["order"]);
    assert_eq!(conv.bot_owns().map(|s| s.exchanges), Some(1));
}

#[tokio::test]
async fn a_failing_bot_hands_the_conversation_over() {
    let server = answering(ResponseTemplate::new(500)).await;
    let f = bot_fixture(&server).await;
    let said = f.customer_says("1001", "b1", "34655500062", "Where is my order?");
    let (c, _) = said.await.unwrap();
    f.inbox.run_bots(10).await.unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    let handoff = conv.bot.and_then(|s| s.handed_off).expect("handed over");
    assert_eq!(handoff.reason, HandoffReason::Unavailable);
    let notes = written(&f, &c, Direction::Note).await;
    assert_eq!(notes.len(), 1);
    let note = notes[0].content.text_body().unwrap_or_default();
    assert!(note.contains("HTTP 500"), "{note}");
}
