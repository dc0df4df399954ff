//! The simulator's other apps on the number: the owner answering from the
//! WhatsApp Business app on the phone (coexistence echoes), Meta's AI
//! agent holding threads (standby copies, handovers), and the fake Graph
//! API's thread control.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};
use std::sync::Arc;

use super::{graph_error, FakeMeta};

impl FakeMeta {
    /// The value's `metadata`: this number.
    fn metadata(&self) -> Value {
        json!({ "display_phone_number": self.config.display_number,
                "phone_number_id": self.config.phone_number_id })
    }

    /// A fresh id for a message the business sent from another app.
    fn echo_id(&self) -> String {
        let mut s = self.state();
        s.next_id += 1;
        format!(
            "wamid.sim.echo.{}.{}",
            Utc::now().timestamp_millis(),
            s.next_id
        )
    }

    /// The owner answers `wa_id` from the WhatsApp Business app on the
    /// phone: a signed `smb_message_echoes` webhook. Returns its id.
    pub async fn owner_replies_from_phone(
        &self,
        wa_id: &str,
        text: &str,
    ) -> Result<String, String> {
        let id = self.echo_id();
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": self.metadata(),
            "message_echoes": [{
                "from": self.config.display_number, "to": wa_id, "id": id,
                "timestamp": Utc::now().timestamp().to_string(),
                "type": "text", "text": { "body": text },
            }],
        });
        self.post_change("smb_message_echoes", value).await?;
        Ok(id)
    }

    /// The owner saves `wa_id` as `name` in the phone's contacts: a signed
    /// `smb_app_state_sync` webhook.
    pub async fn owner_saves_contact(&self, wa_id: &str, name: &str) -> Result<(), String> {
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": self.metadata(),
            "state_sync": [{
                "type": "contact",
                "contact": { "full_name": name, "phone_number": wa_id },
                "action": "add",
                "metadata": { "timestamp": Utc::now().timestamp().to_string() },
            }],
        });
        self.post_change("smb_app_state_sync", value).await
    }

    /// The owner shares the number's past chats from the WhatsApp
    /// Business app (coexistence onboarding): one `history` chunk with
    /// `wa_id`'s chat, `lines` as `(from the business, text, days ago)`,
    /// at `progress` percent.
    pub async fn shares_history(
        &self,
        wa_id: &str,
        lines: &[(bool, &str, i64)],
        progress: u8,
    ) -> Result<(), String> {
        let now = Utc::now().timestamp();
        let messages: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(i, (by_business, text, days_ago))| {
                let from = if *by_business { self.config.display_number.as_str() } else { wa_id };
                json!({ "from": from, "id": format!("wamid.sim.history.{wa_id}.{i}"),
                        "timestamp": (now - days_ago * 86_400 + i as i64).to_string(), "type": "text",
                        "text": { "body": text }, "history_context": { "status": "READ" } })
            })
            .collect();
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": self.metadata(),
            "history": [{
                "metadata": { "phase": 1, "chunk_order": 1, "progress": progress },
                "threads": [{ "id": wa_id, "context": { "wa_id": wa_id }, "messages": messages }],
            }],
        });
        self.post_change("history", value).await
    }

    /// Meta pauses the template `name` (`language`) of the WhatsApp
    /// Business Account `waba_id` for its low quality: an account-level
    /// `message_template_status_update` webhook (it names the account,
    /// not a number).
    pub async fn pauses_template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Result<(), String> {
        let value = json!({
            "event": "PAUSED",
            "message_template_id": 7_310_001,
            "message_template_name": name,
            "message_template_language": language,
            "reason": null,
            "other_info": { "title": "FIRST_PAUSE", "description": "Paused for 3 hours: low quality" },
        });
        let change = json!({ "field": "message_template_status_update", "value": value });
        let entry = json!({ "id": waba_id, "time": Utc::now().timestamp(), "changes": [change] });
        self.post_entry(entry).await
    }

    /// Meta's AI agent holds `wa_id`'s thread: the customer's message and
    /// the AI agent's answer reach the inbox as passive copies (`standby`).
    pub async fn ai_agent_conversation(
        &self,
        wa_id: &str,
        name: &str,
        customer_text: &str,
        agent_text: &str,
    ) -> Result<(), String> {
        let now = Utc::now();
        let asked = json!({
            "messaging_product": "whatsapp",
            "metadata": self.metadata(),
            "standby": {
                "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
                "messages": [{ "from": wa_id, "id": self.inbound_id(wa_id, now),
                    "timestamp": now.timestamp().to_string(), "type": "text",
                    "text": { "body": customer_text } }],
            },
        });
        self.post_change("standby", asked).await?;
        let answered = json!({
            "messaging_product": "whatsapp",
            "metadata": self.metadata(),
            "standby": { "message_echoes": [{
                "id": self.echo_id(), "timestamp": Utc::now().timestamp().to_string(),
                "message": { "messaging_product": "whatsapp", "to": wa_id, "type": "text",
                             "text": { "body": agent_text } },
            }] },
        });
        self.post_change("standby", answered).await
    }

    /// Meta's AI agent passes `wa_id`'s thread to the inbox with its
    /// summary (`messaging_handovers`, `control_passed`).
    pub async fn ai_agent_hands_over(&self, wa_id: &str, summary: &str) -> Result<(), String> {
        let value = json!({
            "messaging_product": "whatsapp",
            "sender": { "phone_number": wa_id },
            "recipient": { "display_phone_number": self.config.display_number,
                           "phone_number_id": self.config.phone_number_id },
            "type": "control_passed",
            "timestamp": Utc::now().timestamp().to_string(),
            "control_passed": {
                "previous_owner_role": "ai_agent", "new_owner_role": "escalation",
                "conversation_context": { "type": "summary", "summary": { "text": summary } },
            },
        });
        self.post_change("messaging_handovers", value).await
    }

    /// `wa_id` calls the number: a `connect` then a `terminate` webhook
    /// (`calls`), answered for `answered_secs` seconds, or missed (`None`).
    pub async fn customer_calls(
        &self,
        wa_id: &str,
        name: &str,
        answered_secs: Option<u64>,
    ) -> Result<(), String> {
        let id = {
            let mut s = self.state();
            s.next_id += 1;
            format!("wacid.sim.{}", s.next_id)
        };
        let now = Utc::now().timestamp();
        let call = |event: &str| {
            json!({ "id": id, "event": event, "direction": "USER_INITIATED", "from": wa_id,
                    "to": self.config.display_number, "timestamp": now.to_string() })
        };
        let mut ended = call("terminate");
        match answered_secs {
            Some(secs) => {
                ended["status"] = json!("COMPLETED");
                ended["start_time"] = json!((now - secs as i64).to_string());
                ended["end_time"] = json!(now.to_string());
                ended["duration"] = json!(secs);
            }
            None => ended["status"] = json!("FAILED"),
        }
        for item in [call("connect"), ended] {
            let value = json!({
                "messaging_product": "whatsapp",
                "metadata": self.metadata(),
                "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
                "calls": [item],
            });
            self.post_change("calls", value).await?;
        }
        Ok(())
    }

    /// The thread control calls the inbox made, as their bodies.
    pub fn thread_calls(&self) -> Vec<Value> {
        self.state().thread_calls.clone()
    }

    /// Whether the fake refuses `take` (as WhatsApp does for an app that is
    /// not the number's escalation partner: 2494191).
    pub fn refuse_takes(&self, refuse: bool) {
        self.state().refuse_takes = refuse;
    }
}

/// The fake `POST /{version}/{phone_number_id}/thread_control`.
pub(super) async fn graph_thread_control(
    State(meta): State<Arc<FakeMeta>>,
    Path((_version, pnid)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if pnid != meta.config.phone_number_id {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Unknown phone number id");
    }
    let action = body["action"].as_str().unwrap_or_default().to_string();
    if !matches!(action.as_str(), "take" | "pass" | "release") {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "Param action must be one of {pass, take, release}",
        );
    }
    let mut s = meta.state();
    if action == "take" && s.refuse_takes {
        drop(s);
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": {
                "message": "(#100) Thread control take is not permitted for this app",
                "type": "OAuthException", "code": 100, "error_subcode": 2494191,
                "fbtrace_id": "sim" } })),
        )
            .into_response();
    }
    s.thread_calls.push(body);
    Json(json!({ "messaging_product": "whatsapp" })).into_response()
}
