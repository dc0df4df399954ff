//! Thread control against a local Graph mock: the inbox on a number it
//! shares with Meta's AI agent takes the thread when an agent claims the
//! conversation and passes it back when the agent resolves it; a take
//! WhatsApp does not permit (2494191) is explained, the claim kept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_core::model::{Content, ConversationStatus};
use inbox_core::ports::{Clock, Transport};
use inbox_core::testing::Fixture;
use inbox_core::{
    ConversationId, InboundEvent, InboundHandover, Inbox, InboxConfig, IngestOutcome, Ports,
    StandbyCopy,
};
use inbox_whatsapp::{GraphClient, GraphConfig, RetryPolicy};

const TOKEN: &str = "EAAG-thread-token";
const WA: &str = "34611000004";

/// A memory-store fixture whose inbox talks to `server` as its Graph API.
async fn shared_number(server: &MockServer) -> Fixture {
    let mut f = common::fixture().await;
    let mut config = GraphConfig::new(TOKEN).base_url(server.uri());
    config.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
        retry_timeouts: false,
    };
    let graph: Arc<dyn Transport> = Arc::new(GraphClient::new(config).unwrap());
    f.inbox = Inbox::new(
        Ports {
            transport: graph,
            ..f.inbox.ports().clone()
        },
        InboxConfig::default(),
    );
    f
}

/// Meta answers thread control `action` calls for the customer with
/// `status` and `body`, expecting `times` of them.
async fn answers(
    server: &MockServer,
    action: &str,
    status: u16,
    body: serde_json::Value,
    times: u64,
) {
    Mock::given(method("POST"))
        .and(path_regex(r"/1001/thread_control$"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(
            json!({ "messaging_product": "whatsapp", "to": WA, "action": action }),
        ))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(times)
        .mount(server)
        .await;
}

/// Meta's AI agent answers the customer (passive copies reach the inbox)
/// and holds the thread: the conversation it is in.
async fn ai_agent_holds_the_thread(f: &Fixture) -> ConversationId {
    let asked = f.inbound(
        "1001",
        "wamid.sb1",
        WA,
        Content::text("quiero hablar con alguien"),
    );
    let stored = f
        .inbox
        .ingest(InboundEvent::Standby(StandbyCopy::Customer(asked)))
        .await
        .unwrap();
    let IngestOutcome::Stored { conversation, .. } = stored else {
        panic!("{stored:?}")
    };
    let taken = InboundHandover {
        phone_number_id: "1001".into(),
        customer: inbox_core::model::ContactIdentity::wa(WA),
        to_us: false,
        previous_owner: None,
        new_owner: Some("ai_agent".into()),
        metadata: None,
        timestamp: f.clock.now(),
    };
    f.inbox.ingest(InboundEvent::Handover(taken)).await.unwrap();
    conversation
}

#[tokio::test]
async fn a_claim_takes_the_thread_from_the_ai_agent_and_a_resolve_passes_it_back() {
    let server = MockServer::start().await;
    answers(
        &server,
        "take",
        200,
        json!({ "messaging_product": "whatsapp" }),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(path_regex(r"/1001/thread_control$"))
        .and(body_partial_json(json!({
            "to": WA, "action": "pass", "control_pass": { "target_role": "ai_agent" }
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "messaging_product": "whatsapp" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let f = shared_number(&server).await;
    let c = ai_agent_holds_the_thread(&f).await;
    let ana = f.actor("ana");
    let v = f.version(&c).await.unwrap();
    let claimed = f.inbox.claim(&ana, &c, v).await.unwrap();
    assert!(claimed.warnings.is_empty(), "{:?}", claimed.warnings);
    let thread = claimed.conversation.thread.clone().unwrap();
    assert!(thread.ours());
    assert_eq!(thread.previous.as_deref(), Some("ai_agent"));
    f.advance(TimeDelta::minutes(3));
    let v = claimed.conversation.version;
    let resolved = f
        .inbox
        .set_status(&ana, &c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    assert_eq!(
        resolved.conversation.controlled_elsewhere(),
        Some("ai_agent")
    );
    let pass = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .find(|b| b["action"] == "pass")
        .unwrap();
    assert!(pass["metadata"].as_str().unwrap().contains("ana"), "{pass}");
    server.verify().await;
}

#[tokio::test]
async fn a_take_whatsapp_does_not_permit_keeps_the_claim_and_says_why() {
    let server = MockServer::start().await;
    let refusal = json!({ "error": {
        "message": "(#100) Thread control take is not permitted", "type": "OAuthException",
        "code": 100, "error_subcode": 2494191, "fbtrace_id": "Atrace"
    }});
    answers(&server, "take", 400, refusal, 2).await;
    let f = shared_number(&server).await;
    let c = ai_agent_holds_the_thread(&f).await;
    let ben = f.actor("ben");
    let v = f.version(&c).await.unwrap();
    let claimed = f.inbox.claim(&ben, &c, v).await.unwrap();
    assert_eq!(
        claimed.conversation.assignee.as_ref().map(|a| a.as_str()),
        Some("ben")
    );
    assert_eq!(
        claimed.conversation.controlled_elsewhere(),
        Some("ai_agent")
    );
    let warning = claimed.warnings.join(" ");
    assert!(warning.contains("escalation partner"), "{warning}");
    assert!(!warning.contains(TOKEN));
    // Taking it by hand is refused the same way, saying why.
    let v = claimed.conversation.version;
    let err = f.inbox.take_thread(&ben, &c, v).await.unwrap_err();
    match err {
        inbox_core::Error::InvalidState(why) => {
            assert!(
                why.contains("escalation partner") && why.contains("2494191"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    server.verify().await;
}

/// A transport whose take lets a supervisor assign the conversation to
/// Ben first: the claim that asked for the take then fails.
struct RacingTake {
    inbox: std::sync::OnceLock<Inbox>,
    conversation: std::sync::OnceLock<ConversationId>,
    sam: inbox_core::Actor,
}

#[async_trait::async_trait]
impl Transport for RacingTake {
    async fn send(
        &self,
        _: &inbox_core::ports::OutboundRequest,
    ) -> Result<inbox_core::ports::SendReceipt, inbox_core::ports::TransportError> {
        Err(inbox_core::ports::TransportError::Rejected {
            code: None,
            message: "not in this test".into(),
        })
    }

    async fn thread_control(
        &self,
        _: &inbox_core::ports::ThreadControlRequest,
    ) -> Result<(), inbox_core::ports::TransportError> {
        let (inbox, c) = (self.inbox.get().unwrap(), self.conversation.get().unwrap());
        let v = inbox
            .conversation_state(&self.sam, c)
            .await
            .unwrap()
            .version;
        let ben = inbox_core::Assignee::Agent(inbox_core::AgentId::new("ben").unwrap());
        inbox.assign(&self.sam, c, v, ben, "faster").await.unwrap();
        Ok(())
    }
}

#[tokio::test]
async fn a_take_made_for_a_claim_that_then_fails_is_still_recorded() {
    let mut f = common::fixture().await;
    let racing = Arc::new(RacingTake {
        inbox: Default::default(),
        conversation: Default::default(),
        sam: f.actor("sam"),
    });
    f.inbox = Inbox::new(
        Ports {
            transport: racing.clone(),
            ..f.inbox.ports().clone()
        },
        InboxConfig::default(),
    );
    racing.inbox.set(f.inbox.clone()).unwrap();
    let c = ai_agent_holds_the_thread(&f).await;
    racing.conversation.set(c.clone()).unwrap();
    let ana = f.actor("ana");
    let v = f.version(&c).await.unwrap();
    let lost = f.inbox.claim(&ana, &c, v).await.unwrap_err();
    assert_eq!(lost.code(), "already_owned", "{lost}");
    // WhatsApp did give the inbox the thread: the conversation says so.
    let now = f.inbox.conversation_state(&ana, &c).await.unwrap();
    assert_eq!(now.assignee.as_ref().map(|a| a.as_str()), Some("ben"));
    let thread = now.thread.unwrap();
    assert!(thread.ours(), "{thread:?}");
    assert_eq!(thread.previous.as_deref(), Some("ai_agent"));
}
