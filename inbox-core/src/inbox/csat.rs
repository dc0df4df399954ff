//! Satisfaction surveys at work: scheduled when a conversation is
//! resolved, sent by their timer inside the customer service window (or
//! skipped, with the reason), answered by a tap that reopens nothing.
//!
//! - **Resolve** (any path: an agent, a rule, inactivity, a bot): the
//!   commit that resolves schedules the survey (`SurveyScheduled`) when the
//!   tenant's `csat` covers the number and, if asked, a person replied
//!   since the conversation was (re)opened; else records it skipped
//!   (`no_agent_reply`) so response rates stay true.
//! - **Send** (`TimerKind::SurveySend`): skipped when the customer wrote
//!   again first, when the window closes too soon, or when the customer
//!   stopped marketing messages (or has the attribute `surveys: off`);
//!   else queued through the outbox (`csat:{conversation}:{resolution}`:
//!   once per resolution, whatever happens).
//! - **Answer**: a tap on `csat:{resolution}:{score}` is kept quietly with
//!   the survey (no reopen, nobody waits); a text within `comment.wait`
//!   after it is the comment; anything else is an ordinary message.

use chrono::{DateTime, TimeDelta, Utc};

use super::commit::{Decision, SlaStep};
use super::timers::Fired;
use super::Inbox;
use crate::error::{chrono_duration, Error, Result};
use crate::event::{EventActor, EventKind};
use crate::model::{
    Author, Contact, Content, Conversation, ConversationStatus, CsatAnswer, CsatScale,
    DeliveryState, Direction, InteractiveReply, Message, OutboundButton, OutboundSection,
    SurveySkip, SurveyState, MAX_SURVEYS_KEPT,
};
use crate::ports::OutboxEntry;
use crate::settings::{CsatSection, CSAT_REPLY_PREFIX};
use crate::timer::{Timer, TimerKind};

/// The author of surveys.
pub const CSAT_AUTHOR: &str = "csat";

/// What a customer's message is to the survey of the conversation it
/// continues.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SurveyReply {
    /// The answer: the score, and the comment prompt to send (with how
    /// long a text counts as the comment), if the tenant asks for one.
    Answer {
        score: u8,
        scale: CsatScale,
        prompt: Option<(String, DateTime<Utc>)>,
    },
    /// Their comment.
    Comment(String),
    /// A tap on a survey already answered, or an older one: kept, ignored.
    Stale,
}

/// What `content` is to `c`'s survey, if anything.
pub(crate) fn reply_to_survey(
    csat: &CsatSection,
    c: &Conversation,
    contact: Option<&Contact>,
    content: &Content,
    now: DateTime<Utc>,
) -> Option<SurveyReply> {
    let survey = c.surveys.last()?;
    let tapped = match content {
        Content::Interactive {
            reply: InteractiveReply::ButtonReply { id, .. } | InteractiveReply::ListReply { id, .. },
        } => Some(id.as_str()),
        _ => None,
    };
    if let Some(id) = tapped {
        let (resolution, score) = parse_reply_id(id)?;
        let current = resolution == survey.resolution && resolution == c.reopen_count;
        if !current || survey.sent.is_none() || survey.answer.is_some() {
            return Some(SurveyReply::Stale);
        }
        let scale = csat.scale;
        if score == 0 || score > scale.max() {
            return Some(SurveyReply::Stale);
        }
        let language = contact
            .and_then(|k| k.attributes.get("language"))
            .map(String::as_str);
        let prompt = csat.comment.ask.then(|| {
            let until = now + chrono_duration(csat.comment.wait.0);
            (csat.prompt_in(language).to_string(), until)
        });
        return Some(SurveyReply::Answer {
            score,
            scale,
            prompt,
        });
    }
    let waiting_comment = survey.comment_until.is_some_and(|u| now < u)
        && survey.answer.as_ref().is_some_and(|a| a.comment.is_none())
        && c.status == ConversationStatus::Resolved;
    match content {
        Content::Text { body, .. } if waiting_comment => Some(SurveyReply::Comment(
            body.trim().chars().take(2000).collect(),
        )),
        _ => None,
    }
}

/// `csat:{resolution}:{score}`, read.
fn parse_reply_id(id: &str) -> Option<(u32, u8)> {
    let rest = id.strip_prefix(CSAT_REPLY_PREFIX)?;
    let (r, s) = rest.split_once(':')?;
    Some((r.parse().ok()?, s.parse().ok()?))
}

/// Schedules (or records as skipped) the survey of a resolution: `before`
/// was not resolved, `after` is. Returns the events.
pub(crate) fn on_resolve(
    csat: &CsatSection,
    before: Option<&Conversation>,
    after: &mut Conversation,
    now: DateTime<Utc>,
) -> Vec<EventKind> {
    let resolved_now = after.status == ConversationStatus::Resolved
        && before.is_none_or(|b| b.status != ConversationStatus::Resolved);
    // (a conversation the business started and the customer never
    // answered, a broadcast's, has nobody to survey)
    let unanswered = after.awaits_first_answer();
    if !resolved_now || after.imported || unanswered || !csat.covers(after.channel.as_str()) {
        return Vec::new();
    }
    if after
        .surveys
        .last()
        .is_some_and(|s| s.resolution == after.reopen_count)
    {
        return Vec::new();
    }
    let opened_at = before.and_then(|b| b.resolved_at);
    let replied = after
        .human_replied_at
        .is_some_and(|h| opened_at.is_none_or(|o| h > o));
    let by_bot = after.bot_owns().is_some();
    let agent = after.assignee.clone().filter(|_| !by_bot);
    let due_at = now + chrono_duration(csat.after.0);
    let mut s = SurveyState::scheduled(
        after.reopen_count,
        now,
        due_at,
        agent,
        after.team.clone(),
        by_bot,
    );
    let event = if csat.only_if_agent_replied && !replied && !by_bot {
        s.skipped = Some(SurveySkip::NoAgentReply);
        EventKind::SurveySkipped {
            reason: SurveySkip::NoAgentReply,
        }
    } else {
        EventKind::SurveyScheduled { due_at }
    };
    after.surveys.push(s);
    if after.surveys.len() > MAX_SURVEYS_KEPT {
        after.surveys.remove(0);
    }
    vec![event]
}

/// The customer wrote again before the survey went: it is never sent.
pub(crate) fn wrote_first(c: &mut Conversation, events: &mut Vec<EventKind>) {
    if let Some(s) = c.surveys.last_mut().filter(|s| s.is_waiting()) {
        s.skipped = Some(SurveySkip::CustomerWroteFirst);
        events.push(EventKind::SurveySkipped {
            reason: SurveySkip::CustomerWroteFirst,
        });
    }
}

impl Inbox {
    /// Records a customer's reply to the survey in `c` (the message is
    /// already counted quiet); returns the comment prompt to send, if any.
    pub(super) fn record_survey_reply(
        &self,
        c: &mut Conversation,
        reply: &SurveyReply,
        message: &crate::ids::MessageId,
        events: &mut Vec<EventKind>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Message, OutboxEntry)>> {
        let Some(s) = c.surveys.last_mut() else {
            return Ok(Vec::new());
        };
        match reply {
            SurveyReply::Stale => Ok(Vec::new()),
            SurveyReply::Comment(text) => {
                if let Some(a) = s.answer.as_mut() {
                    a.comment = Some(text.clone());
                    a.comment_message = Some(message.clone());
                    s.comment_until = None;
                    events.push(EventKind::SurveyAnswered {
                        score: a.score,
                        scale: a.scale,
                        comment: Some(text.clone()),
                    });
                }
                Ok(Vec::new())
            }
            SurveyReply::Answer {
                score,
                scale,
                prompt,
            } => {
                s.answer = Some(CsatAnswer {
                    score: *score,
                    scale: *scale,
                    at: now,
                    comment: None,
                    comment_message: None,
                });
                s.comment_until = prompt.as_ref().map(|(_, until)| *until);
                events.push(EventKind::SurveyAnswered {
                    score: *score,
                    scale: *scale,
                    comment: None,
                });
                let Some((text, _)) = prompt else {
                    return Ok(Vec::new());
                };
                let key = format!("csat:{}:{}:comment", c.id, c.reopen_count);
                Ok(vec![self.automatic(
                    c,
                    Content::text(text.clone()),
                    key,
                    now,
                )?])
            }
        }
    }

    /// An automatic message of the survey, queued through the outbox.
    fn automatic(
        &self,
        c: &mut Conversation,
        content: Content,
        key: String,
        now: DateTime<Utc>,
    ) -> Result<(Message, OutboxEntry)> {
        let id: crate::ids::MessageId = self.new_id("message")?;
        let author = Author::Automation(CSAT_AUTHOR.into());
        let mut m = super::written(c, id.clone(), author, Direction::Outbound, content, now);
        m.idempotency_key = Some(key);
        m.delivery = Some(DeliveryState::pending(now));
        let entry = OutboxEntry {
            tenant: c.tenant.clone(),
            message: id,
            not_before: now,
            attempts: 0,
        };
        Ok((m, entry))
    }

    /// Sends (or skips) the survey `timer` is for, or clears the timer
    /// when the state no longer asks for it.
    pub(super) async fn survey_send(&self, timer: &Timer, now: DateTime<Utc>) -> Result<Fired> {
        let store = &self.ports.store;
        let c = match store.conversation(&timer.tenant, &timer.conversation).await {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => return Ok(Fired::Cleared),
            Err(e) => return Err(e),
        };
        let wanted = crate::timer::desired_timers(&c, &Default::default());
        let due = wanted.get(&TimerKind::SurveySend).copied();
        if due.is_none_or(|due| due > now) {
            return self.fire(timer, now).await;
        }
        let policy = self.policy(&c.tenant).await?;
        let contact = store.contact(&c.tenant, &c.contact).await?;
        let latest = store
            .latest_conversation(&c.tenant, &c.channel, &c.contact)
            .await?;
        let skip = self.survey_skip(&c, &contact, latest.as_ref(), &policy.document.csat, now);
        let mut next = c.clone();
        let mut events = Vec::new();
        let mut rows = Vec::new();
        let Some(s) = next.surveys.last_mut() else {
            return Ok(Fired::Cleared);
        };
        match skip {
            Some(reason) => {
                s.skipped = Some(reason);
                events.push(EventKind::SurveySkipped { reason });
            }
            None => {
                let resolution = s.resolution;
                let language = contact.attributes.get("language").map(String::as_str);
                let content = survey_content(&policy.document.csat, resolution, language);
                let key = format!("csat:{}:{resolution}", next.id);
                let (m, entry) = self.automatic(&mut next, content, key, now)?;
                if let Some(s) = next.surveys.last_mut() {
                    s.sent = Some(crate::model::SurveySent {
                        message: m.id.clone(),
                        at: now,
                    });
                }
                events.push(EventKind::SurveySent {
                    message: m.id.clone(),
                });
                rows.push((m, entry));
            }
        }
        let mut decision = Decision::new(EventActor::Automation(CSAT_AUTHOR.into()), c, next);
        decision.events = events;
        decision.sla = SlaStep::IfAutomated;
        for (m, entry) in rows {
            decision.rows.messages.push(m);
            decision.rows.outbox.push(entry);
        }
        self.apply(decision).await?;
        Ok(Fired::Did(TimerKind::SurveySend))
    }

    /// Why the survey of `c` must not be sent now, if it must not.
    fn survey_skip(
        &self,
        c: &Conversation,
        contact: &Contact,
        latest: Option<&Conversation>,
        csat: &CsatSection,
        now: DateTime<Utc>,
    ) -> Option<SurveySkip> {
        let resolved_at = c.surveys.last().map_or(now, |s| s.resolved_at);
        if latest.is_some_and(|l| l.id != c.id && l.created_at >= resolved_at) {
            return Some(SurveySkip::CustomerWroteFirst);
        }
        let left = TimeDelta::from_std(csat.min_window_left.0).unwrap_or(TimeDelta::zero());
        if !c.window_open(now + left) {
            return Some(SurveySkip::WindowClosed);
        }
        let off = contact
            .attributes
            .get("surveys")
            .is_some_and(|v| v.eq_ignore_ascii_case("off"));
        if off || !contact.accepts_marketing() {
            return Some(SurveySkip::OptedOut);
        }
        None
    }
}

/// The survey message: three buttons, or a list of five.
fn survey_content(csat: &CsatSection, resolution: u32, language: Option<&str>) -> Content {
    let (question, labels) = csat.question_in(language);
    let id = |i: usize| format!("{CSAT_REPLY_PREFIX}{resolution}:{}", i + 1);
    match csat.scale {
        CsatScale::Faces => Content::Buttons {
            header: None,
            body: question.to_string(),
            footer: None,
            buttons: labels
                .iter()
                .enumerate()
                .map(|(i, l)| OutboundButton {
                    id: id(i),
                    title: l.clone(),
                })
                .collect(),
        },
        CsatScale::Five => Content::List {
            header: None,
            body: question.to_string(),
            footer: None,
            button: "1-5".into(),
            sections: vec![OutboundSection {
                title: "1-5".into(),
                rows: labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (id(i), l.clone(), None))
                    .collect(),
            }],
        },
    }
}

impl Inbox {
    /// The satisfaction report of conversations resolved in the query's
    /// range (see [`crate::metrics::CsatReport`]). Supervisors and admins.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] for an agent; [`Error::InvalidInput`] when the
    /// range ends before it starts.
    pub async fn csat_report(
        &self,
        actor: &super::Actor,
        query: crate::metrics::CsatQuery,
    ) -> Result<crate::metrics::CsatReport> {
        self.agent_allowed(actor, crate::permissions::Action::ViewAll)
            .await?;
        if query.to < query.from {
            return Err(Error::invalid("to", "the range ends before it starts"));
        }
        let rows = self.ports.store.surveys(&actor.tenant, &query).await?;
        Ok(crate::metrics::CsatReport::compute(&rows))
    }
}
