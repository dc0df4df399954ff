//! Simulated customers answer satisfaction surveys: a customer who gets
//! the inbox's survey (an interactive `button` or `list` message whose
//! options' ids start with `csat:`) taps one once they have read it, and
//! if the inbox then asks for a comment (its next text to them), some
//! write one. Which answer, and whether they comment, is drawn from the
//! customer and the survey, so runs are alike.

use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{FakeMeta, SimContent};

/// The prefix of a survey option's id (`csat:{resolution}:{score}`).
const SURVEY_PREFIX: &str = "csat:";

/// How soon after an answer a text from the inbox is its request for a
/// comment.
const ASKED_WITHIN: Duration = Duration::from_secs(60);

/// What satisfied customers add when asked.
const PRAISE: [&str; 3] = [
    "Muy rápidos, ¡gracias!",
    "Great service, thank you 🙌",
    "Todo perfecto",
];

/// What the others add.
const COMPLAINTS: [&str; 3] = [
    "Tardasteis bastante en contestar",
    "It took a while to get an answer",
    "Me habría gustado una solución más rápida",
];

/// A survey a customer received: its message and its options, in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Survey {
    /// The message id the fake gave it.
    message: String,
    /// Rows of a list (else reply buttons).
    list: bool,
    /// The options' ids and titles.
    options: Vec<(String, String)>,
}

impl Survey {
    /// The survey a send's `body` carries, if it carries one (given the
    /// fake's id of the message).
    pub(super) fn of(body: &Value, message: &str) -> Option<Survey> {
        let kind = body.pointer("/interactive/type").and_then(Value::as_str)?;
        let action = body.pointer("/interactive/action")?;
        let option = |o: &Value| {
            let id = o.get("id").and_then(Value::as_str)?;
            let title = o.get("title").and_then(Value::as_str).unwrap_or(id);
            Some((id.to_string(), title.to_string()))
        };
        let options: Vec<(String, String)> = match kind {
            "button" => (action["buttons"].as_array()?.iter())
                .filter_map(|b| option(&b["reply"]))
                .collect(),
            "list" => (action["sections"].as_array()?.iter())
                .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
                .filter_map(|r| option(&r))
                .collect(),
            _ => return None,
        };
        let surveyed =
            !options.is_empty() && options.iter().all(|(id, _)| id.starts_with(SURVEY_PREFIX));
        surveyed.then(|| Survey {
            message: message.to_string(),
            list: kind == "list",
            options,
        })
    }
}

/// How `customer` answers the survey whose first option's id is
/// `survey_id`, of `options` options (worst first): the option's index
/// (mostly the best: about 65% of answers are the top one, 20% the next),
/// and the comment they write if asked (about a third of them do).
///
/// ```
/// use inbox_examples::server::simulator::survey_answer;
/// let (pick, comment) = survey_answer("34600100001", "csat:0:1", 3);
/// assert!(pick < 3);
/// assert_eq!(survey_answer("34600100001", "csat:0:1", 3), (pick, comment));
/// ```
pub fn survey_answer(
    customer: &str,
    survey_id: &str,
    options: usize,
) -> (usize, Option<&'static str>) {
    let h = fnv1a(format!("{customer}|{survey_id}").as_bytes());
    let from_top = match h % 100 {
        0..=64 => 0,
        65..=84 => 1,
        85..=94 => 2,
        _ => 3,
    };
    let pick = options.saturating_sub(1 + from_top.min(options.saturating_sub(1)));
    let words = if from_top == 0 { PRAISE } else { COMPLAINTS };
    let comment = ((h / 100) % 3 == 0).then(|| words[((h / 300) % 3) as usize]);
    (pick, comment)
}

/// The FNV-1a hash of `bytes` (stable across runs and platforms).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A tap on an option of an interactive message, as WhatsApp sends it:
/// `interactive` with a `button_reply` (or a `list_reply`), in reply to the
/// message.
pub(super) fn tap_fields(m: &mut Map<String, Value>, business: &str, tap: &Tap) {
    let (kind, row) = if tap.list {
        (
            "list_reply",
            json!({ "id": tap.id, "title": tap.title, "description": null }),
        )
    } else {
        ("button_reply", json!({ "id": tap.id, "title": tap.title }))
    };
    m.insert("type".into(), json!("interactive"));
    m.insert("interactive".into(), json!({ "type": kind, kind: row }));
    m.insert(
        "context".into(),
        json!({ "from": business, "id": tap.message }),
    );
}

/// A customer's tap on an option of an interactive message the business
/// sent ([`SimContent::Tap`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Tap {
    /// The message tapped (the id the fake Graph API gave it).
    pub message: String,
    /// The option's id.
    pub id: String,
    /// The option's title.
    pub title: String,
    /// A row of a list (else a reply button).
    pub list: bool,
}

impl FakeMeta {
    /// What a customer does with a message the fake accepted for them
    /// (`body`, given id `message`): a survey is answered once read, and
    /// the inbox's request for a comment that follows an answer gets one
    /// from some customers. Only customers who wrote through the fake (so
    /// their name is known) answer.
    pub(super) fn customer_got(self: &Arc<Self>, to: &str, message: &str, body: &Value) {
        let mut s = self.state();
        let Some(name) = s.names.get(to).cloned() else {
            return;
        };
        // (once its statuses are through, and a second later: WhatsApp's
        // timestamps are in whole seconds, so the answer comes after it)
        let later = self.config.status_delay * 4 + Duration::from_secs(1);
        if let Some(survey) = Survey::of(body, message) {
            let (pick, comment) = survey_answer(to, &survey.options[0].0, survey.options.len());
            let (id, title) = survey.options[pick].clone();
            match comment {
                Some(c) => s
                    .commenting
                    .insert(to.to_string(), (c, Instant::now() + ASKED_WITHIN)),
                None => s.commenting.remove(to),
            };
            let tap = Tap {
                message: survey.message,
                id,
                title,
                list: survey.list,
            };
            drop(s);
            self.later(later, to, name, SimContent::Tap(tap));
        } else if body.get("type").and_then(Value::as_str) == Some("text") {
            // A text soon after an answer is the inbox asking for a
            // comment (no comment: the customer stays quiet).
            match s.commenting.remove(to) {
                Some((comment, until)) if Instant::now() < until => {
                    drop(s);
                    self.later(later, to, name, SimContent::Text(comment.into()));
                }
                _ => {}
            }
        }
    }

    /// `wa_id` sends `content` after `wait`, on their own.
    fn later(self: &Arc<Self>, wait: Duration, wa_id: &str, name: String, content: SimContent) {
        let (meta, wa_id) = (self.clone(), wa_id.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Err(e) = meta.customer_writes(&wa_id, &name, content).await {
                tracing::warn!(%e, "simulator: a customer's answer to a survey not accepted");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_mostly_the_best_and_always_the_same() {
        let picks: Vec<usize> = (0..1000)
            .map(|i| survey_answer(&format!("3460010{i:04}"), "csat:0:1", 3).0)
            .collect();
        let top = picks.iter().filter(|p| **p == 2).count();
        assert!((550..=750).contains(&top), "{top} of 1000 at the top");
        assert!(picks.contains(&0) && picks.contains(&1));
        let commented = (0..1000)
            .filter(|i| {
                survey_answer(&format!("3460010{i:04}"), "csat:0:1", 5)
                    .1
                    .is_some()
            })
            .count();
        assert!((250..=420).contains(&commented), "{commented} comments");
        for options in [3, 5] {
            for i in 0..100 {
                let customer = format!("4477009{i:05}");
                let a = survey_answer(&customer, "csat:1:1", options);
                assert!(a.0 < options);
                assert_eq!(a, survey_answer(&customer, "csat:1:1", options));
            }
        }
    }

    #[test]
    fn a_survey_is_read_from_a_send_and_nothing_else_is() {
        let buttons = json!({ "type": "interactive", "interactive": { "type": "button",
            "body": { "text": "How did we do?" },
            "action": { "buttons": [
                { "type": "reply", "reply": { "id": "csat:0:1", "title": "😞 Bad" } },
                { "type": "reply", "reply": { "id": "csat:0:2", "title": "😐 OK" } },
                { "type": "reply", "reply": { "id": "csat:0:3", "title": "😀 Great" } } ] } } });
        let s = Survey::of(&buttons, "wamid.1").unwrap();
        assert!(!s.list);
        assert_eq!(s.options[2], ("csat:0:3".into(), "😀 Great".into()));
        let list = json!({ "type": "interactive", "interactive": { "type": "list",
            "action": { "button": "1-5", "sections": [ { "title": "1-5", "rows": [
                { "id": "csat:2:1", "title": "1" }, { "id": "csat:2:5", "title": "5" } ] } ] } } });
        let s = Survey::of(&list, "wamid.2").unwrap();
        assert!(s.list);
        assert_eq!(s.options.len(), 2);
        let faq = json!({ "type": "interactive", "interactive": { "type": "button",
            "action": { "buttons": [ { "type": "reply", "reply": { "id": "inbox:handoff", "title": "Talk to a person" } } ] } } });
        assert_eq!(Survey::of(&faq, "wamid.3"), None);
        assert_eq!(
            Survey::of(
                &json!({ "type": "text", "text": { "body": "hi" } }),
                "wamid.4"
            ),
            None
        );
    }
}
