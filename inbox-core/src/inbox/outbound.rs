//! Conversations the business starts: an agent (or another system, with
//! an API key) sends a customer one of the tenant's approved templates
//! first. The customer's answer then opens the conversation for the team
//! as a first message of theirs would: rules on `conversation_opened` run
//! (see [`answered`], called by the ingest).

use chrono::{DateTime, Utc};

use super::commit::{Decision, Retry, Rows, SlaStep};
use super::{ActionOutcome, Actor, Inbox, Reply};
use crate::error::{Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{ChannelId, ContactId, MessageId};
use crate::model::{
    Agent, Author, Channel, Contact, ContactIdentity, Content, Conversation, ConversationStatus,
    Started, StartedBy, TemplateFill,
};
use crate::permissions::Action;
use crate::ports::Write;
use crate::settings::TenantSettings;

/// How many merges [`StartTo::Contact`] follows (a contact merged into one
/// that was merged in turn ...).
const MAX_MERGE_HOPS: usize = 4;

/// Why a marketing template is not sent to a customer who stopped them.
const STOPPED_MARKETING: &str = "the customer stopped marketing messages";

/// Whom a conversation is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartTo {
    /// A contact of the tenant (one merged into another: that other).
    Contact(ContactId),
    /// A WhatsApp phone number with its country code (`+34 600 11 22 33`
    /// reads as `34600112233`): its contact, created if the tenant has
    /// none.
    WaId(String),
    /// A business-scoped user id (BSUID, `US.13491208655302741918`): its
    /// contact, created if the tenant has none.
    UserId(String),
}

/// A conversation to start: see [`Inbox::start_conversation`].
#[derive(Debug, Clone, PartialEq)]
pub struct StartConversation {
    /// The tenant's number to write from.
    pub channel: ChannelId,
    /// The customer.
    pub to: StartTo,
    /// The template and its values (built with
    /// [`TemplateDefinition::fill`](crate::model::TemplateDefinition::fill)).
    pub template: TemplateFill,
    /// The caller's key for this request: retrying with the same key starts
    /// nothing and sends nothing a second time. Required.
    pub idempotency_key: String,
}

/// The recipient as a store finds them.
enum Whom {
    /// By contact id.
    Contact(ContactId),
    /// By WhatsApp identity (created if unknown).
    Identity(ContactIdentity),
}

impl StartTo {
    /// The recipient, checked: a phone number of 8 to 15 digits, a user
    /// id shaped like one (the error names `wa_id` or `user_id`).
    fn whom(&self) -> Result<Whom> {
        match self {
            StartTo::Contact(id) => Ok(Whom::Contact(id.clone())),
            StartTo::WaId(number) => phone_digits(number)
                .map(|d| Whom::Identity(ContactIdentity::wa(d)))
                .ok_or_else(|| {
                    Error::invalid(
                        "wa_id",
                        format!("{number:?} is not a phone number: 8 to 15 digits with the country code, as +34 600 11 22 33"),
                    )
                }),
            StartTo::UserId(user) => crate::search::search_user_id(user)
                .map(|u| Whom::Identity(ContactIdentity::user(u)))
                .ok_or_else(|| {
                    Error::invalid(
                        "user_id",
                        format!("{user:?} is not a WhatsApp user id (a country code, a dot, letters and digits: US.13491208655302741918)"),
                    )
                }),
        }
    }
}

/// A phone number's digits: an optional `+`, then digits with spaces,
/// dashes, dots or brackets between them; 8 to 15 digits.
fn phone_digits(number: &str) -> Option<String> {
    let t = number.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut digits = String::new();
    for c in t.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    (8..=15).contains(&digits.len()).then_some(digits)
}

/// One start as it is being decided.
struct Starting<'a> {
    me: &'a Agent,
    actor: &'a Actor,
    channel: &'a Channel,
    whom: &'a Whom,
    content: &'a Content,
    key: &'a str,
    settings: &'a TenantSettings,
    /// The broadcast sending it, if one is.
    broadcast: Option<&'a crate::ids::BroadcastId>,
}

impl Inbox {
    /// Starts a conversation with a customer by sending them a template
    /// (permission [`Action::Reply`]): the first message of a conversation
    /// is a template, since the customer's 24-hour window is closed.
    ///
    /// The template must be one of the tenant's, approved (or declared by
    /// hand without a status), and `start.template` must fill it
    /// ([`TemplateDefinition::fill`](crate::model::TemplateDefinition::fill):
    /// [`Error::InvalidContent`] naming the field of the fill, `body[1]`,
    /// or `template.name` for a template the tenant does not have).
    /// Refused with [`Error::Forbidden`] when the template may be marketing
    /// ([`TenantSettings::may_be_marketing`]: `MARKETING`, or a category
    /// not known, as the dispatcher's last guard counts it) and the
    /// customer stopped marketing messages; an authentication template
    /// needs the customer's phone number.
    ///
    /// If the customer has an active conversation on the number, the
    /// template is added to it as the agent's reply, by every rule of
    /// [`Inbox::reply`] (owner, lease, a person taking over from a bot).
    /// Otherwise a new conversation is opened (the contact created, for
    /// a number or user id the tenant does not know): pending (waiting
    /// on the customer), owned by the agent (by nobody when an API key
    /// starts it), [`Conversation::started`] set, with the events
    /// `conversation_opened` (`by_business`) and `reply_queued`. No rules
    /// run then: they run when the customer answers, as on a
    /// conversation the customer opened. The customer window stays closed
    /// until they write. The message goes out through the outbox like a
    /// reply.
    ///
    /// Retrying with the same idempotency key returns the first outcome
    /// (`replayed: true`); the key is bound to the agent, the number and
    /// the template with its values (another request under it:
    /// [`Error::InvalidInput`] on `idempotency_key`). A start racing the
    /// customer's own first message ends with one active conversation:
    /// the loser decides again on what it finds.
    ///
    /// ```
    /// # async fn demo(inbox: inbox_core::Inbox, ana: inbox_core::Actor) -> inbox_core::Result<()> {
    /// use inbox_core::{model::TemplateFill, ChannelId, StartConversation, StartTo};
    /// let mut fill = TemplateFill::new("order_update", "en_US");
    /// fill.body = vec!["A-17".into()];
    /// let start = StartConversation {
    ///     channel: ChannelId::new("sales")?,
    ///     to: StartTo::WaId("+34 600 11 22 33".into()),
    ///     template: fill,
    ///     idempotency_key: "order-A-17-shipped".into(),
    /// };
    /// let started = inbox.start_conversation(&ana, start).await?;
    /// println!("{} is {}", started.conversation.id, started.conversation.status);
    /// # Ok(()) }
    /// ```
    pub async fn start_conversation(
        &self,
        actor: &Actor,
        start: StartConversation,
    ) -> Result<ActionOutcome> {
        self.start_with(actor, start, None).await
    }

    /// [`Inbox::start_conversation`] for a broadcast (`broadcast`), or for
    /// the actor alone (`None`).
    pub(super) async fn start_with(
        &self,
        actor: &Actor,
        start: StartConversation,
        broadcast: Option<&crate::ids::BroadcastId>,
    ) -> Result<ActionOutcome> {
        super::actions::validate_key(&start.idempotency_key)?;
        let whom = start.to.whom()?;
        let policy = self.policy(&actor.tenant).await?;
        let settings = &policy.document;
        if let Some(done) = self.started_before(actor, &start, settings).await? {
            return Ok(done);
        }
        let me = self.agent_allowed(actor, Action::Reply).await?;
        let store = &self.ports.store;
        let channel = store.channel(&actor.tenant, &start.channel).await?;
        let content = filled(settings, &start.template)?;
        let s = Starting {
            me: &me,
            actor,
            channel: &channel,
            whom: &whom,
            content: &content,
            key: &start.idempotency_key,
            settings,
            broadcast,
        };
        let mut retry = Retry::default();
        loop {
            let e = match self.start_once(&s).await {
                Ok(outcome) => return Ok(outcome),
                Err(e) => e,
            };
            // The same key may have won the race in another request.
            if matches!(e, Error::Duplicate { .. } | Error::Conflict(_)) {
                if let Some(done) = self.started_before(actor, &start, settings).await? {
                    return Ok(done);
                }
            }
            match e {
                // A contact or an active conversation made meanwhile (the
                // customer wrote): decide again on what is stored now.
                e @ Error::Duplicate { .. } => retry.race(e, &self.config)?,
                e => retry.again(e, &self.config)?,
            }
        }
    }

    /// One try: reads the recipient and their latest conversation on the
    /// number, then adds the template to the active one or opens one.
    async fn start_once(&self, s: &Starting<'_>) -> Result<ActionOutcome> {
        let contact = self.recipient(s.actor, s.whom).await?;
        let identity = match (s.whom, &contact) {
            (_, Some(k)) => k.identity.clone(),
            (Whom::Identity(i), None) => i.clone(),
            (Whom::Contact(id), None) => {
                return Err(Error::not_found(crate::error::Entity::Contact, id))
            }
        };
        refuse_start(s, contact.as_ref(), &identity)?;
        let latest = match &contact {
            Some(k) => {
                let store = &self.ports.store;
                (store.latest_conversation(&s.actor.tenant, &s.channel.id, &k.id)).await?
            }
            None => None,
        };
        if let Some(active) = latest.filter(|c| c.status.is_active()) {
            let reply = Reply {
                content: s.content.clone(),
                idempotency_key: s.key.to_string(),
                reply_to: None,
            };
            return self.reply(s.actor, &active.id, active.version, reply).await;
        }
        self.open_started(s, contact, &identity).await
    }

    /// The contact a start is for: by id (following merges), or by
    /// identity (`None`: the tenant does not know it yet).
    async fn recipient(&self, actor: &Actor, whom: &Whom) -> Result<Option<Contact>> {
        let store = &self.ports.store;
        let id = match whom {
            Whom::Identity(identity) => return store.find_contact(&actor.tenant, identity).await,
            Whom::Contact(id) => id,
        };
        let mut contact = store.contact(&actor.tenant, id).await?;
        for _ in 0..MAX_MERGE_HOPS {
            let Some(into) = contact.merged_into.clone() else {
                return Ok(Some(contact));
            };
            contact = store.contact(&actor.tenant, &into).await?;
        }
        Err(Error::invalid(
            "contact_id",
            format!("contact {id} was merged more than {MAX_MERGE_HOPS} times; start with the contact it became"),
        ))
    }

    /// Opens the started conversation (and the contact, if new) and
    /// commits it with the template queued.
    async fn open_started(
        &self,
        s: &Starting<'_>,
        found: Option<Contact>,
        identity: &ContactIdentity,
    ) -> Result<ActionOutcome> {
        let now = self.now();
        let (contact, write, leading) = match found {
            Some(k) => (k, None, Vec::new()),
            None => self.new_contact(s, identity, now)?,
        };
        let (mut c, _) = self.new_conversation(s.channel, &contact, now)?;
        start_by(s.me, &mut c, now, s.broadcast);
        let id: MessageId = self.new_id("message")?;
        let (message, entry) =
            super::queued(&mut c, id.clone(), &s.me.id, s.content.clone(), s.key, now);
        let events = vec![
            EventKind::ConversationOpened {
                channel: s.channel.id.clone(),
                contact: contact.id.clone(),
                by_business: true,
            },
            EventKind::ReplyQueued {
                message: id,
                content: s.content.kind().to_string(),
            },
        ];
        let decision = Decision {
            actor: EventActor::Agent(s.me.id.clone()),
            before: None,
            after: c,
            events,
            // Nothing to route yet: rules run on the customer's answer.
            rules: None,
            sla: SlaStep::Always,
            rows: Rows {
                contact: write,
                leading,
                messages: vec![message.clone()],
                outbox: vec![entry],
                ..Rows::default()
            },
        };
        let warnings = match s.me.service {
            true => Vec::new(),
            false => self.capacity_warning(s.me, 1).await?.into_iter().collect(),
        };
        let applied = self.apply(decision).await?;
        self.read_own(s.actor, &applied.conversation).await;
        Ok(ActionOutcome {
            conversation: applied.conversation,
            message: Some(message),
            events: applied.events,
            warnings,
            replayed: false,
        })
    }

    /// A contact known by `identity` only, made by the starting agent:
    /// its insert and its `contact_created` event.
    fn new_contact(
        &self,
        s: &Starting<'_>,
        identity: &ContactIdentity,
        now: DateTime<Utc>,
    ) -> Result<(Contact, Option<Write<Contact>>, Vec<Event>)> {
        let tenant = &s.actor.tenant;
        let contact = Contact::new(
            tenant.clone(),
            self.new_id("contact")?,
            identity.clone(),
            now,
        );
        let kind = EventKind::ContactCreated {
            contact: contact.id.clone(),
        };
        let by = EventActor::Agent(s.me.id.clone());
        let event = Event::new(tenant.clone(), now, by, kind);
        let write = Write {
            value: contact.clone(),
            expected_version: None,
        };
        Ok((contact, Some(write), vec![event]))
    }

    /// The outcome of an earlier start (or reply) under this key, if any;
    /// refused when the key was used for another request (another agent,
    /// number or template).
    async fn started_before(
        &self,
        actor: &Actor,
        start: &StartConversation,
        settings: &TenantSettings,
    ) -> Result<Option<ActionOutcome>> {
        let key = &start.idempotency_key;
        let store = &self.ports.store;
        let Some(earlier) = store.message_by_idempotency_key(&actor.tenant, key).await? else {
            return Ok(None);
        };
        let same = earlier.author == Author::Agent(actor.agent.clone())
            && earlier.channel == start.channel
            && same_template(settings, &earlier.content, &start.template);
        if !same {
            return Err(Error::invalid(
                "idempotency_key",
                "already used for a different request",
            ));
        }
        self.replayed(actor, &earlier.conversation, key).await
    }
}

/// The template message `fill` asks for: one of the tenant's, sendable,
/// filled and within WhatsApp's limits.
fn filled(settings: &TenantSettings, fill: &TemplateFill) -> Result<Content> {
    let definition = settings.sendable_template(&fill.name, &fill.language)?;
    let content = definition.fill(fill)?;
    content.validate_outbound()?;
    Ok(content)
}

/// Whether `sent` is what `fill` makes now (the template's name and
/// language only, if it can no longer be filled: removed, say).
fn same_template(settings: &TenantSettings, sent: &Content, fill: &TemplateFill) -> bool {
    let definition =
        (settings.templates.iter()).find(|t| t.name == fill.name && t.language == fill.language);
    match definition.map(|d| d.fill(fill)) {
        Some(Ok(content)) => &content == sent,
        _ => matches!(sent, Content::Template { name, language, .. }
            if *name == fill.name && *language == fill.language),
    }
}

/// Why the template may not go to this customer, if it may not: a
/// marketing message (or one whose category is not known: the
/// dispatcher's guard would cancel it anyway) to a customer who stopped
/// them; an authentication template to a customer without a phone number.
fn refuse_start(
    s: &Starting<'_>,
    contact: Option<&Contact>,
    identity: &ContactIdentity,
) -> Result<()> {
    let stopped = contact.is_some_and(|k| !k.accepts_marketing());
    if stopped && s.settings.may_be_marketing(s.content) {
        return Err(Error::Forbidden {
            agent: s.me.id.clone(),
            action: Action::Reply,
            reason: marketing_reason(s.settings, s.content),
        });
    }
    if s.settings.is_authentication_template(s.content) {
        super::actions::phone_for_authentication(identity)?;
    }
    Ok(())
}

/// Why a template that may be marketing is refused to an opted-out
/// customer, saying so when only its unknown category makes it one.
fn marketing_reason(settings: &TenantSettings, content: &Content) -> String {
    let Content::Template { name, language, .. } = content else {
        return STOPPED_MARKETING.into();
    };
    let known = (settings.templates.iter())
        .find(|t| &t.name == name && &t.language == language)
        .is_some_and(|t| t.category.is_some());
    match known {
        true => STOPPED_MARKETING.into(),
        false => format!(
            "{STOPPED_MARKETING}, and the category of {name:?} ({language}) is not known: it counts as marketing"
        ),
    }
}

/// Makes `c` a conversation `me` starts at `now`: waiting on the customer,
/// owned by the agent (by nobody for an API key's service account), the
/// template its first agent reply.
fn start_by(
    me: &Agent,
    c: &mut Conversation,
    now: DateTime<Utc>,
    broadcast: Option<&crate::ids::BroadcastId>,
) {
    if let Some(id) = broadcast {
        // Nobody's and out of every queue until the customer answers.
        c.started = Some(Started {
            by: StartedBy::Broadcast(id.clone()),
            at: now,
        });
        c.status = ConversationStatus::Resolved;
        c.resolved_at = Some(now);
        c.last_agent_reply_at = Some(now);
        return;
    }
    let by = match me.service {
        true => StartedBy::Api(me.id.clone()),
        false => StartedBy::Agent(me.id.clone()),
    };
    c.started = Some(Started { by, at: now });
    c.status = ConversationStatus::Pending;
    c.assignee = (!me.service).then(|| me.id.clone());
    c.last_agent_reply_at = Some(now);
    c.human_replied_at = Some(now);
    c.first_response_at = Some(now);
}

/// The customer's first answer to a conversation the business started
/// (see [`Conversation::awaits_first_answer`]): it is open for the team
/// now, whatever its status (a started conversation resolved before the
/// customer answered is continued, not reopened: its reopen count stays).
pub(super) fn answered(c: &mut Conversation, events: &mut Vec<EventKind>) {
    let from = c.status;
    c.status = ConversationStatus::Open;
    c.snoozed_until = None;
    if from != ConversationStatus::Open {
        events.push(EventKind::StatusChanged {
            from,
            to: ConversationStatus::Open,
            snoozed_until: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_read_with_their_country_code() {
        assert_eq!(
            phone_digits("+34 600 11-22.33").as_deref(),
            Some("34600112233")
        );
        assert_eq!(
            phone_digits("(34) 600112233").as_deref(),
            Some("34600112233")
        );
        for bad in [
            "",
            "+",
            "1234567",
            "3460011223344556",
            "34 600 abc",
            "+34+600112233",
        ] {
            assert_eq!(phone_digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recipients_name_their_field_when_refused() {
        let field = |to: StartTo| match to.whom() {
            Err(Error::InvalidInput { field, .. }) => field,
            _ => String::new(),
        };
        assert_eq!(field(StartTo::WaId("call me".into())), "wa_id");
        assert_eq!(field(StartTo::UserId("nobody".into())), "user_id");
        assert!(StartTo::UserId("US.13491208655302741918".into())
            .whom()
            .is_ok());
    }
}
