//! What is written on a CRM record: one message, or a resolved
//! conversation's transcript.

use inbox_core::event::{Event, EventActor, EventKind};
use inbox_core::model::{Author, Contact, ConversationStatus, Direction, Message};

use crate::{Customer, LogEntry};

/// The longest transcript written (HubSpot's and Zoho's note bodies allow
/// more; a CRM timeline is read by people). The latest messages are kept.
pub const MAX_TRANSCRIPT_CHARS: usize = 30_000;

/// Whether an event is one that is written, by policy: a resolution, or a
/// message (the customer's, or one sent to them).
pub(crate) fn resolution(event: &Event) -> bool {
    matches!(
        event.kind,
        EventKind::StatusChanged {
            to: ConversationStatus::Resolved,
            ..
        }
    )
}

/// The message an event is about, for the "each message" policy.
pub(crate) fn message_of(event: &Event) -> Option<&inbox_core::MessageId> {
    match &event.kind {
        EventKind::MessageReceived { message, .. } | EventKind::ReplyQueued { message, .. } => {
            Some(message)
        }
        _ => None,
    }
}

/// Who wrote a message, for a transcript line.
fn who(message: &Message, customer: &Customer) -> String {
    match &message.author {
        Author::Customer(_) => match &customer.name {
            Some(n) => format!("Customer ({n})"),
            None => "Customer".into(),
        },
        Author::Agent(a) => format!("Agent {a}"),
        Author::Automation(name) => format!("Bot {name}"),
        Author::App(app) => format!("App {app}"),
        Author::System => "WhatsApp".into(),
    }
}

/// One transcript line: `[2026-12-07 10:02 UTC] Customer (Maria): text`.
pub(crate) fn line(message: &Message, customer: &Customer) -> String {
    let text = match message.content.text_body() {
        Some(t) if message.content.kind() == "text" => t.to_string(),
        Some(t) => format!("({}) {t}", message.content.kind()),
        None => format!("({})", message.content.kind()),
    };
    format!(
        "[{}] {}: {}",
        message.sent_at.format("%Y-%m-%d %H:%M UTC"),
        who(message, customer),
        text
    )
}

/// The entry for one message.
pub(crate) fn for_message(event: &Event, contact: &Contact, message: &Message) -> LogEntry {
    let customer = Customer::of(contact);
    let verb = match message.direction {
        Direction::Inbound => "received",
        _ => "sent",
    };
    LogEntry {
        title: format!("WhatsApp message {verb}"),
        body: format!(
            "{}\n\n(inbox conversation {})",
            line(message, &customer),
            message.conversation
        ),
        conversation: message.conversation.to_string(),
        at: event.at,
        customer,
    }
}

/// The entry for a resolution: the conversation's transcript (what the
/// customer saw and wrote; internal notes stay in the inbox), the latest
/// lines when it is long.
pub(crate) fn for_resolution(event: &Event, contact: &Contact, messages: &[Message]) -> LogEntry {
    let customer = Customer::of(contact);
    let lines: Vec<String> = messages
        .iter()
        .filter(|m| m.direction != Direction::Note)
        .map(|m| line(m, &customer))
        .collect();
    let mut kept = Vec::new();
    let mut size = 0;
    for l in lines.iter().rev() {
        if size + l.len() + 1 > MAX_TRANSCRIPT_CHARS {
            break;
        }
        size += l.len() + 1;
        kept.push(l.as_str());
    }
    kept.reverse();
    let left_out = lines.len() - kept.len();
    let by = match &event.actor {
        EventActor::Agent(a) => format!(" by {a}"),
        EventActor::Automation(name) => format!(" by {name}"),
        _ => String::new(),
    };
    let conversation = event
        .conversation
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut body = String::new();
    if left_out > 0 {
        body.push_str(&format!("({left_out} earlier messages left out)\n"));
    }
    body.push_str(&kept.join("\n"));
    body.push_str(&format!("\n\n(inbox conversation {conversation})"));
    LogEntry {
        title: format!("WhatsApp conversation resolved{by}"),
        body,
        conversation,
        at: event.at,
        customer,
    }
}
