//! The `wa-decode` command: decodes one WhatsApp webhook body into one JSON
//! object per item (see `examples/wa_decode.rs`).

use std::io::Read;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use inbox_core::model::{Content, DeliveryStatus};
use inbox_whatsapp::{decode_webhook, verify_signature, Decoded, DecodedMessage, Secret};

/// Usage line.
pub const USAGE: &str = "usage: wa-decode [--app-secret SECRET --signature HEADER] [FILE]";

/// Command-line arguments.
#[derive(Debug, Default)]
pub struct Args {
    /// `--app-secret`.
    pub app_secret: Option<String>,
    /// `--signature`.
    pub signature: Option<String>,
    /// FILE (standard input when absent).
    pub file: Option<String>,
}

/// Parses arguments (without the program name).
pub fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--app-secret" => {
                args.app_secret = Some(it.next().ok_or("--app-secret needs a value")?)
            }
            "--signature" => args.signature = Some(it.next().ok_or("--signature needs a value")?),
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}; {USAGE}")),
            s => {
                if args.file.replace(s.to_string()).is_some() {
                    return Err(format!("only one FILE may be given; {USAGE}"));
                }
            }
        }
    }
    if args.signature.is_some() && args.app_secret.is_none() {
        return Err(format!("--signature needs --app-secret; {USAGE}"));
    }
    Ok(args)
}

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The output line of a decoded message: a customer's (`message`), an
/// echo of the business's own (`echo`: `from` is the customer it went
/// to) or a standby copy (`standby`).
fn message_line(kind: &str, m: &DecodedMessage) -> Value {
    let msg = &m.message;
    let mut v = json!({
        "kind": kind,
        "channel": msg.phone_number_id,
        "external_id": msg.external_id,
        "from": msg.from.wa_id,
        "user_id": msg.from.user_id,
        "timestamp": ts(msg.timestamp),
        "type": m.wa_type,
        "profile_name": msg.profile_name,
        "waba_id": m.waba_id,
        "content": msg.content,
    });
    if m.raw_type != m.wa_type {
        v["raw_type"] = json!(m.raw_type);
    }
    if let Content::Reaction { target, emoji } = &msg.content {
        v["removed"] = json!(emoji.is_none());
        v["emoji"] = json!(emoji);
        v["reacted_to"] = json!(target);
    }
    if let Some(text) = msg.content.text_body() {
        v["text"] = json!(text);
    }
    if let Some(r) = &msg.context.reply_to {
        v["reply_to"] = json!(r);
    }
    if msg.context.forwarded {
        v["forwarded"] = json!(true);
    }
    if let Some(r) = &msg.context.referral {
        v["referral"] = r.clone();
    }
    if !m.errors.is_empty() {
        v["errors"] = json!(m.errors);
    }
    v
}

/// The output line of one decoded item.
pub fn line(item: &Decoded) -> Value {
    match item {
        Decoded::Message(m) => message_line("message", m),
        Decoded::Echo(m) => message_line("echo", m),
        Decoded::Standby {
            message,
            by_business,
        } => {
            let mut v = message_line("standby", message);
            v["by_business"] = json!(by_business);
            v
        }
        Decoded::AppContact(a) => json!({
            "kind": "app_contact",
            "channel": a.phone_number_id,
            "from": a.contact.wa_id,
            "user_id": a.contact.user_id,
            "name": a.name,
            "removed": a.removed,
            "timestamp": ts(a.timestamp),
        }),
        Decoded::Handover { handover: h, .. } => json!({
            "kind": "handover",
            "channel": h.phone_number_id,
            "from": h.customer.wa_id,
            "user_id": h.customer.user_id,
            "to_us": h.to_us,
            "previous_owner": h.previous_owner,
            "new_owner": h.new_owner,
            "metadata": h.metadata,
            "timestamp": ts(h.timestamp),
        }),
        Decoded::History { history: h, .. } => json!({
            "kind": "history",
            "channel": h.phone_number_id,
            "chunk": h.chunk.map(|c| json!({ "phase": c.phase, "chunk_order": c.chunk_order, "progress": c.progress })),
            "threads": h.threads.len(),
            "messages": h.threads.iter().map(|t| t.messages.len()).sum::<usize>(),
            "declined": h.declined.as_ref().map(|e| e.code),
        }),
        Decoded::Signal(s) => json!({
            "kind": "account_signal",
            "waba_id": s.waba_id,
            "number": s.display_phone_number,
            "signal": s.signal,
            "needs_attention": s.signal.needs_attention(),
            "timestamp": ts(s.timestamp),
        }),
        Decoded::Preference(p) => json!({
            "kind": "preference",
            "channel": p.phone_number_id,
            "from": p.from.wa_id,
            "user_id": p.from.user_id,
            "category": p.category,
            "value": p.value,
            "detail": p.detail,
            "timestamp": ts(p.timestamp),
        }),
        Decoded::Status(s) => {
            let status = match s.status {
                Some(DeliveryStatus::Sent) => "sent",
                Some(DeliveryStatus::Delivered) => "delivered",
                Some(DeliveryStatus::Read) => "read",
                Some(DeliveryStatus::Played) => "played",
                Some(DeliveryStatus::Failed) => "failed",
                _ => "unknown",
            };
            let mut v = json!({
                "kind": "status",
                "channel": s.phone_number_id,
                "external_id": s.external_id,
                "status": status,
                "recipient": s.recipient,
                "timestamp": ts(s.timestamp),
            });
            if status == "unknown" {
                v["raw_status"] = json!(s.raw_status);
            }
            if let Some(d) = &s.biz_opaque_callback_data {
                v["biz_opaque_callback_data"] = json!(d);
            }
            if let Some(t) = &s.recipient_type {
                v["recipient_type"] = json!(t);
            }
            if let Some(p) = &s.recipient_participant {
                v["recipient_participant"] = json!(p);
            }
            if let Some(c) = &s.conversation {
                v["conversation"] = json!(c);
            }
            if let Some(p) = &s.pricing {
                v["pricing"] = json!(p);
            }
            if !s.errors.is_empty() {
                v["errors"] = json!(s.errors);
            }
            v
        }
        Decoded::Error {
            phone_number_id,
            error,
        } => json!({
            "kind": "error",
            "channel": phone_number_id,
            "code": error.code,
            "title": error.title,
            "message": error.message,
            "details": error.details,
        }),
        Decoded::Ignored { field } => json!({ "kind": "ignored", "field": field }),
        Decoded::Invalid {
            field,
            phone_number_id,
            reason,
            ..
        } => json!({
            "kind": "invalid",
            "field": field,
            "channel": phone_number_id,
            "code": reason.code(),
            "reason": reason.to_string(),
        }),
    }
}

/// Runs the command: the output lines, or the one-line reason to exit 2
/// with.
pub fn run(
    argv: impl IntoIterator<Item = String>,
    stdin: &mut dyn Read,
) -> Result<Vec<Value>, String> {
    let args = parse_args(argv)?;
    let mut body = Vec::new();
    match &args.file {
        Some(path) => {
            body = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        }
        None => {
            stdin
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
        }
    }
    if let Some(secret) = &args.app_secret {
        verify_signature(
            &Secret::new(secret.as_str()),
            args.signature.as_deref(),
            &body,
        )
        .map_err(|e| e.to_string())?;
    }
    let items = decode_webhook(&body, Utc::now()).map_err(|e| e.to_string())?;
    Ok(items.iter().map(line).collect())
}
