//! The FAQ bot: the first answer whose `match` fits the customer's words.

use crate::ports::{BotAction, BotAnswer, BotSpeaker, BotTurn};
use crate::settings::{FaqBot, FaqOtherwise};

/// What the FAQ bot `faq` answers to `turn`: the first answer that fits
/// the customer's latest messages (then a handoff when the answer says
/// so); when none fits, a handoff, or the `otherwise` reply once (a second
/// miss in a row hands over).
///
/// ```
/// use inbox_core::bots::faq_answer;
/// use inbox_core::ports::{BotAction, BotContact, BotMessage, BotSpeaker, BotTurn};
/// use inbox_core::settings::{BotSpec, TenantSettings};
/// use inbox_core::model::Content;
/// use inbox_core::*;
/// let doc = TenantSettings::from_yaml(r#"
/// bots: { list: { faq: { kind: faq, name: Helper, answers: [
///   { id: hours, match: { any: [hours] }, reply: "9 to 6" } ] } } }"#).unwrap();
/// let BotSpec::Faq(faq) = &doc.bots.list["faq"] else { unreachable!() };
/// let at = chrono::DateTime::UNIX_EPOCH;
/// let turn = |text: &str| BotTurn {
///     tenant: TenantId::new("t").unwrap(), bot: AgentId::new("faq").unwrap(),
///     conversation: ConversationId::new("c").unwrap(), turn: 0, key: "c:0".into(),
///     channel: ChannelId::new("ch").unwrap(),
///     contact: BotContact { name: None, tags: vec![], attributes: Default::default() },
///     messages: vec![BotMessage { id: MessageId::new("m").unwrap(), from: BotSpeaker::Customer,
///                                 content: Content::text(text), at }],
///     window_expires_at: None, exchanges: 0, context: vec![], deadline: at,
/// };
/// let answer = faq_answer(faq, &turn("your hours?"));
/// assert_eq!(answer.actions, [BotAction::Reply { content: Content::text("9 to 6") }]);
/// assert!(matches!(faq_answer(faq, &turn("my parcel")).actions[0], BotAction::Handoff { .. }));
/// ```
pub fn faq_answer(faq: &FaqBot, turn: &BotTurn) -> BotAnswer {
    let asked = turn.customer_text();
    if let Some(a) = faq.answers.iter().find(|a| a.matches.fits(&asked)) {
        let mut actions = vec![BotAction::Reply {
            content: a.reply.content(),
        }];
        if a.then_handoff {
            actions.push(BotAction::Handoff {
                reason: format!("answer {:?} hands over", a.id),
                summary: Some(summary(&asked)),
            });
        }
        return BotAnswer { actions };
    }
    let handoff = BotAction::Handoff {
        reason: "no answer fits".into(),
        summary: Some(summary(&asked)),
    };
    let actions = match &faq.otherwise {
        FaqOtherwise::Reply(text) if !said_last(turn, text) => vec![BotAction::Reply {
            content: crate::model::Content::text(text.clone()),
        }],
        _ => vec![handoff],
    };
    BotAnswer { actions }
}

/// Whether the bot's last message was `text` (its "sorry?" already said).
fn said_last(turn: &BotTurn, text: &str) -> bool {
    turn.messages
        .iter()
        .rev()
        .find(|m| m.from == BotSpeaker::Bot)
        .and_then(|m| m.content.text_body())
        == Some(text)
}

/// The note people get: what the customer asked.
fn summary(asked: &str) -> String {
    let asked: String = asked.chars().take(500).collect();
    format!("The FAQ bot had no answer. The customer wrote: {asked}")
}
