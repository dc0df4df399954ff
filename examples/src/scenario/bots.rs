//! Scenario steps and expectations for bots and satisfaction surveys.

use inbox_core::model::{Content, Conversation, InteractiveReply};

/// A customer tapping the reply button `id`.
pub(super) fn tapped(id: &str) -> Content {
    Content::Interactive {
        reply: InteractiveReply::ButtonReply {
            id: id.to_string(),
            title: id.to_string(),
        },
    }
}

/// Checks `bot` and `csat` expectations on `c`; returns how many it
/// checked.
pub(super) fn check(
    c: &Conversation,
    reference: &str,
    bot: Option<&str>,
    csat: Option<&str>,
) -> Result<usize, String> {
    let mut checked = 0;
    if let Some(want) = bot {
        let got = bot_state(c);
        if got != want {
            return Err(format!("{reference}: bot is {got}, expected {want}"));
        }
        checked += 1;
    }
    if let Some(want) = csat {
        let got = survey_state(c);
        if got != want {
            return Err(format!("{reference}: survey is {got}, expected {want}"));
        }
        checked += 1;
    }
    Ok(checked)
}

/// `none`, the answering bot's id, or `handed_off:<reason>`.
fn bot_state(c: &Conversation) -> String {
    match (&c.bot, c.bot_owns()) {
        (None, _) => "none".into(),
        (Some(_), Some(seat)) => seat.agent.to_string(),
        (Some(seat), None) => match &seat.handed_off {
            Some(h) => format!("handed_off:{}", h.reason),
            None => "none".into(),
        },
    }
}

/// The last survey: `none`, `scheduled`, `sent`, `skipped:<reason>`,
/// `answered:<score>`.
fn survey_state(c: &Conversation) -> String {
    let Some(s) = c.surveys.last() else {
        return "none".into();
    };
    match (&s.answer, &s.skipped, &s.sent) {
        (Some(a), _, _) => format!("answered:{}", a.score),
        (None, Some(reason), _) => format!("skipped:{}", reason.as_str()),
        (None, None, Some(_)) => "sent".into(),
        (None, None, None) => "scheduled".into(),
    }
}

/// Messages cancelled before sending, from the events written so far.
pub(super) fn cancelled(events: &[String]) -> usize {
    events
        .iter()
        .filter(|e| e.contains("\"delivery_changed\"") && e.contains("\"cancelled\""))
        .count()
}
