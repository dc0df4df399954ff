//! Conversations the business starts: an agent (or an API key) sends a
//! template first; the customer's answer is routed as a new conversation
//! would be.

use crate::inbox::{StartConversation, StartTo};
use crate::settings::TenantSettings;
use crate::testing::conformance::support::*;

/// Acme's templates for these tests: `order_update` (utility, one body
/// value), `promo` (marketing), `by_hand` (no category), `login_code`
/// (authentication, one body value) and `old_offer` (paused).
fn templates(s: &mut TenantSettings) {
    let list = [
        ("order_update", Some(TemplateCategory::Utility), 1, None),
        ("promo", Some(TemplateCategory::Marketing), 0, None),
        ("by_hand", None, 0, None),
        (
            "login_code",
            Some(TemplateCategory::Authentication),
            1,
            None,
        ),
        ("old_offer", None, 0, Some(TemplateStatus::Paused)),
    ];
    for (name, category, values, status) in list {
        let mut t = TemplateDefinition::new(name, "en").with(TemplateComponent::Body, values);
        t.category = category;
        t.status = status;
        s.templates.push(t);
    }
}

/// A fixture with [`templates`] and `extra` settings.
async fn outbound_fixture<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
    extra: impl FnOnce(&mut TenantSettings),
) -> Fixture {
    let f = fixture(store).await;
    f.edit_settings(|s| {
        templates(s);
        extra(s);
    })
    .await
    .unwrap();
    f
}

/// `name` filled with `body` values.
fn fill(name: &str, body: &[&str]) -> TemplateFill {
    let mut fill = TemplateFill::new(name, "en");
    fill.body = body.iter().map(|b| b.to_string()).collect();
    fill
}

/// A start on acme's sales number.
fn start(to: StartTo, template: TemplateFill, key: &str) -> StartConversation {
    StartConversation {
        channel: id("sales"),
        to,
        template,
        idempotency_key: key.into(),
    }
}

fn wa(number: &str) -> StartTo {
    StartTo::WaId(number.into())
}

/// `order_update` for order `A-17`.
fn order_update() -> TemplateFill {
    fill("order_update", &["A-17"])
}

/// The conversation `who` starts with `order_update` to `number`.
async fn started(f: &Fixture, who: &Actor, number: &str, key: &str) -> Conversation {
    let s = start(wa(number), order_update(), key);
    let out = f.inbox.start_conversation(who, s).await.unwrap();
    out.conversation
}

/// An API key's service account in acme.
async fn api_key(f: &Fixture) -> Actor {
    let secret = crate::Secret::new("s".repeat(64));
    let acme = f.acme();
    let made = f
        .inbox
        .provision_api_key(&acme, "CRM", Role::Agent, &secret);
    Actor::new(acme.clone(), made.await.unwrap().record.id.agent())
}

/// The contact with `identity` in acme, if any.
async fn contact_with(f: &Fixture, identity: &ContactIdentity) -> Option<Contact> {
    f.store.find_contact(&f.acme(), identity).await.unwrap()
}

/// The field an error names, for content and input errors.
fn field_of(err: &Error) -> &str {
    match err {
        Error::InvalidContent(v) => &v.field,
        Error::InvalidInput { field, .. } => field,
        other => panic!("{other:?}"),
    }
}

/// Ana starts a conversation with a number acme does not know: the contact
/// is created, the conversation is pending (waiting on the customer),
/// hers, marked as started, with the window closed and nobody waiting;
/// the template is queued and sent like a reply; no rule ran. An API key
/// starts one owned by nobody.
pub(crate) async fn start_conversation_with_template_opens_pending<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = outbound_fixture(store, |_| {}).await;
    let rule = "rules:\n  - name: opened\n    then: [ { add_tags: routed } ]\n";
    f.set_routing(&crate::routing::Routing::from_yaml(rule).unwrap())
        .await
        .unwrap();
    let ana = f.actor("ana");
    let started = start(wa("+34 655 500 061"), order_update(), "s1");
    let out = f.inbox.start_conversation(&ana, started).await.unwrap();
    assert!(!out.replayed);
    let c = stored(&f, &out.conversation.id).await;
    assert_eq!(c, out.conversation);
    assert_eq!(c.status, ConversationStatus::Pending);
    assert_eq!(c.assignee, Some(id("ana")));
    let by = c.started.as_ref().map(|s| (s.by.clone(), s.at));
    assert_eq!(by, Some((StartedBy::Agent(id("ana")), Fixture::start())));
    assert_eq!((c.window_expires_at, c.waiting_since), (None, None));
    assert!(c.awaits_first_answer());
    assert!(c.tags.is_empty(), "no rule ran: {:?}", c.tags);
    let k = contact_with(&f, &ContactIdentity::wa("34655500061")).await;
    assert_eq!(k.map(|k| k.id), Some(c.contact.clone()));
    let m = out.message.clone().unwrap();
    assert_eq!(messages_of(&f, &c.id).await, std::slice::from_ref(&m));
    assert_eq!(
        (m.author, m.direction),
        (Author::Agent(id("ana")), Direction::Outbound)
    );
    let Content::Template {
        name, components, ..
    } = &m.content
    else {
        panic!("{:?}", m.content)
    };
    assert_eq!(name, "order_update");
    assert_eq!(components[0]["parameters"][0]["text"], "A-17");
    assert_eq!(m.idempotency_key.as_deref(), Some("s1"));
    let kinds: Vec<&str> = events(&f).await.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds[kinds.len() - 3..],
        ["contact_created", "conversation_opened", "reply_queued"]
    );
    let opened = events_of(&f, &c.id).await;
    assert!(opened.iter().any(|e| matches!(
        e.kind,
        EventKind::ConversationOpened {
            by_business: true,
            ..
        }
    )));
    assert_eq!(f.inbox.dispatch(10).await.unwrap().sent, 1);
    assert_eq!(f.transport.sent()[0].request.content, m.content);
    // An API key starts one that nobody owns.
    let crm = api_key(&f).await;
    let by_api = start(wa("34655500062"), order_update(), "s2");
    let out = f.inbox.start_conversation(&crm, by_api).await.unwrap();
    let c = stored(&f, &out.conversation.id).await;
    assert_eq!(c.assignee, None);
    assert!(matches!(c.started.map(|s| s.by), Some(StartedBy::Api(a)) if a == crm.agent));
}

/// A customer with an active conversation on the number gets the template
/// in it, as the agent's reply (claimed for them, by the reply policy); a
/// second start reuses it again; once it is resolved, a start opens a new
/// one. Where only the owner may reply, another agent's start is refused.
pub(crate) async fn start_reuses_the_active_conversation<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = outbound_fixture(store, |_| {}).await;
    let number = "34655500071";
    let c = says(&f, "1001", "r1", number, "hola").await;
    let k = stored(&f, &c).await.contact;
    let ana = f.actor("ana");
    let by_id = start(StartTo::Contact(k.clone()), order_update(), "s1");
    let out = f.inbox.start_conversation(&ana, by_id).await.unwrap();
    assert_eq!(out.conversation.id, c);
    let again = start(wa(number), fill("order_update", &["A-18"]), "s2");
    let out2 = f.inbox.start_conversation(&ana, again).await.unwrap();
    assert_eq!(out2.conversation.id, c);
    let conversation = stored(&f, &c).await;
    assert_eq!(conversation.assignee, Some(id("ana")));
    assert_eq!(conversation.status, ConversationStatus::Open);
    assert_eq!(conversation.started, None, "the customer started it");
    assert_eq!(messages_of(&f, &c).await.len(), 3);
    assert_eq!(conversation.waiting_since, None, "answered");
    // Resolved: the next start opens a new conversation.
    set_status_now(&f, &ana, &c, ConversationStatus::Resolved).await;
    let fresh = start(StartTo::Contact(k.clone()), order_update(), "s3");
    let out3 = f.inbox.start_conversation(&ana, fresh).await.unwrap();
    assert_ne!(out3.conversation.id, c);
    assert_eq!(out3.conversation.contact, k);
    assert_eq!(out3.conversation.status, ConversationStatus::Pending);
    // Only the owner may reply: ben's start to ana's conversation is
    // refused, and nothing is added.
    f.edit_settings(|s| s.replies.assignee_only = true)
        .await
        .unwrap();
    let bens = start(StartTo::Contact(k), order_update(), "s4");
    let err = f.inbox.start_conversation(&f.actor("ben"), bens).await;
    assert_eq!(refused(err), "forbidden");
    assert_eq!(messages_of(&f, &out3.conversation.id).await.len(), 1);
}

/// A start needs one of the tenant's templates, approved and filled:
/// otherwise it is refused naming the field, and nothing is stored (no
/// contact, no conversation). A started conversation takes no free-form
/// reply until the customer writes (the window is closed).
pub(crate) async fn start_refuses_free_form_unknown_and_unfilled_templates<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = outbound_fixture(store, |_| {}).await;
    let ana = f.actor("ana");
    let number = "34655500081";
    let refusals = [
        (fill("welcome", &[]), "template.name"),
        (fill("old_offer", &[]), "template.status"),
        (fill("order_update", &[]), "body"),
        (fill("order_update", &["  "]), "body[0]"),
        (fill("order_update", &["a", "b"]), "body"),
        (TemplateFill::new("order_update", "es"), "template.name"),
    ];
    for (i, (template, field)) in refusals.into_iter().enumerate() {
        let s = start(wa(number), template, &format!("bad{i}"));
        let err = f.inbox.start_conversation(&ana, s).await.unwrap_err();
        assert_eq!(field_of(&err), field, "{err}");
    }
    let s = start(wa("call me"), order_update(), "bad-number");
    let err = f.inbox.start_conversation(&ana, s).await.unwrap_err();
    assert_eq!(field_of(&err), "wa_id");
    let s = start(StartTo::UserId("nobody".into()), order_update(), "bad-user");
    let err = f.inbox.start_conversation(&ana, s).await.unwrap_err();
    assert_eq!(field_of(&err), "user_id");
    let mut elsewhere = start(wa(number), order_update(), "bad-channel");
    elsewhere.channel = id("main");
    let err = f.inbox.start_conversation(&ana, elsewhere).await;
    assert_eq!(refused(err), "not_found", "globex's number");
    assert_eq!(contact_with(&f, &ContactIdentity::wa(number)).await, None);
    // Started: free-form waits for the customer.
    let s = start(wa(number), order_update(), "ok");
    let out = f.inbox.start_conversation(&ana, s).await.unwrap();
    let c = out.conversation;
    let err = f
        .inbox
        .reply(&ana, &c.id, c.version, reply("hi", "r1"))
        .await;
    assert_eq!(refused(err), "window_closed");
    // A tenant that lists no templates cannot start conversations.
    f.edit_settings(|s| s.templates.clear()).await.unwrap();
    let s = start(wa("34655500082"), order_update(), "none");
    let err = f.inbox.start_conversation(&ana, s).await.unwrap_err();
    assert_eq!(field_of(&err), "template.name");
}

/// A customer who stopped marketing messages is not sent a marketing
/// template, nor one whose category is not known (the dispatcher's guard
/// would cancel it); a utility template goes. An authentication template
/// needs the customer's phone number.
pub(crate) async fn start_refuses_marketing_to_opted_out<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = outbound_fixture(store, |s| s.consent.stop_keywords = vec!["STOP".into()]).await;
    let number = "34655500091";
    let c = says(&f, "1001", "m1", number, "STOP").await;
    let v = stored(&f, &c).await.version;
    let sam = f.actor("sam");
    (f.inbox
        .set_status(&sam, &c, v, ConversationStatus::Resolved))
    .await
    .unwrap();
    let ana = f.actor("ana");
    for (template, why) in [("promo", "stopped marketing"), ("by_hand", "not known")] {
        let s = start(wa(number), fill(template, &[]), template);
        match f.inbox.start_conversation(&ana, s).await {
            Err(Error::Forbidden { reason, .. }) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(messages_of(&f, &c).await.len(), 1, "nothing queued");
    let s = start(wa(number), order_update(), "utility");
    let out = f.inbox.start_conversation(&ana, s).await.unwrap();
    assert_ne!(out.conversation.id, c);
    // An authentication template: to a user id only, refused; to a
    // number, sent.
    let code = fill("login_code", &["123456"]);
    let to_user = StartTo::UserId("US.13491208655302741918".into());
    let s = start(to_user.clone(), code.clone(), "code1");
    let err = f.inbox.start_conversation(&ana, s).await.unwrap_err();
    assert_eq!(field_of(&err), "template");
    let s = start(wa("34655500092"), code, "code2");
    f.inbox.start_conversation(&ana, s).await.unwrap();
    let user = ContactIdentity::user("US.13491208655302741918");
    assert_eq!(contact_with(&f, &user).await, None);
}

/// The customer's first answer opens a started conversation for the team:
/// open, `conversation_opened` rules run (the agent who started it keeps
/// it unless they reassign it; one nobody owns is routed), once; a started
/// conversation resolved before the customer answered is continued, not
/// reopened or replaced, whatever the reopen policy.
pub(crate) async fn reply_to_started_conversation_routes_as_opened<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = outbound_fixture(store, |s| s.reopen = ReopenPolicy::NewConversation).await;
    let rules = "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: answered\n    on: [conversation_opened]\n    then: [ { add_tags: answered }, { route_to_team: sales }, { assign: {} } ]\n";
    f.set_routing(&crate::routing::Routing::from_yaml(rules).unwrap())
        .await
        .unwrap();
    for a in ["ana", "ben"] {
        online(&f, a).await;
    }
    let ana = f.actor("ana");
    let c = started(&f, &ana, "34655500101", "s1").await;
    f.advance(TimeDelta::minutes(30));
    assert_eq!(says(&f, "1001", "a1", "34655500101", "thanks!").await, c.id);
    let answered = stored(&f, &c.id).await;
    assert_eq!(answered.status, ConversationStatus::Open);
    assert_eq!(answered.tags, ["answered"]);
    assert_eq!(
        (answered.assignee.clone(), answered.team.clone()),
        (Some(id("ana")), Some(id("sales")))
    );
    assert_eq!(answered.reopen_count, 0);
    assert!(answered.waiting_since.is_some() && answered.window_open(f.clock.now()));
    assert!(!answered.awaits_first_answer());
    // Once: the next message runs no `conversation_opened` rule.
    let v = answered.version;
    (f.inbox.tag(&ana, &c.id, v, &[], &["answered"]))
        .await
        .unwrap();
    says(&f, "1001", "a2", "34655500101", "one more thing").await;
    assert!(stored(&f, &c.id).await.tags.is_empty());
    // Started by an API key: nobody owns it until the rules route it.
    let crm = api_key(&f).await;
    let c2 = started(&f, &crm, "34655500102", "s2").await;
    says(&f, "1001", "b1", "34655500102", "hello").await;
    let routed = stored(&f, &c2.id).await;
    assert_eq!(routed.team, Some(id("sales")));
    assert!(routed.assignee.is_some(), "assigned by the rule");
    // Resolved before the customer answered: continued.
    let c3 = started(&f, &ana, "34655500103", "s3").await;
    set_status_now(&f, &ana, &c3.id, ConversationStatus::Resolved).await;
    f.advance(TimeDelta::days(3));
    assert_eq!(
        says(&f, "1001", "c1", "34655500103", "what order?").await,
        c3.id
    );
    let continued = stored(&f, &c3.id).await;
    assert_eq!(continued.status, ConversationStatus::Open);
    assert_eq!(
        (continued.reopen_count, continued.tags.clone()),
        (0, vec!["answered".to_string()])
    );
    let reopened = count_events(&f, &c3.id, |k| {
        matches!(k, EventKind::ConversationReopened { .. })
    });
    assert_eq!(reopened.await, 0);
}

/// The same start again (the same key) returns the first outcome and
/// sends once, even after the customer answered; the key under another
/// template, values or agent is refused; two starts with one key at once
/// make one conversation, and a start racing the customer's first message
/// leaves one active conversation.
pub(crate) async fn start_is_idempotent<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = outbound_fixture(store, |_| {}).await;
    let ana = f.actor("ana");
    let number = "34655500111";
    let first = f
        .inbox
        .start_conversation(&ana, start(wa(number), order_update(), "s1"));
    let first = first.await.unwrap();
    let again = f
        .inbox
        .start_conversation(&ana, start(wa(number), order_update(), "s1"));
    let again = again.await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.message, first.message);
    says(&f, "1001", "i1", number, "ok").await;
    let later = f
        .inbox
        .start_conversation(&ana, start(wa(number), order_update(), "s1"));
    let later = later.await.unwrap();
    assert_eq!(
        (later.replayed, later.message),
        (true, first.message.clone())
    );
    let c = first.conversation.id.clone();
    assert_eq!(messages_of(&f, &c).await.len(), 2);
    for (who, template) in [
        ("ana", fill("order_update", &["B-2"])),
        ("ana", fill("promo", &[])),
        ("ben", order_update()),
    ] {
        let s = start(wa(number), template, "s1");
        let err = f
            .inbox
            .start_conversation(&f.actor(who), s)
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), "idempotency_key", "{who}: {err}");
    }
    let mut report = f.inbox.dispatch(10).await.unwrap();
    report.sent += f.inbox.dispatch(10).await.unwrap().sent;
    assert_eq!(report.sent, 1, "sent once");
    // Two at once under one key: one conversation, one message.
    let twice = (0..2).map(|_| {
        let s = start(wa("34655500112"), order_update(), "s2");
        f.inbox.start_conversation(&ana, s)
    });
    let outcomes: Vec<crate::ActionOutcome> = join_all(twice)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(outcomes[0].message, outcomes[1].message);
    assert_eq!(messages_of(&f, &outcomes[0].conversation.id).await.len(), 1);
    // Starts racing the customers' messages (new customers, and known
    // ones whose conversation is resolved): one active conversation
    // holds both.
    for n in 4..8 {
        let number = format!("3465550012{n}");
        let c = says(&f, "1001", &format!("known{n}"), &number, "hola").await;
        set_status_now(&f, &f.actor("sam"), &c, ConversationStatus::Resolved).await;
    }
    for n in 0..8 {
        let number = format!("3465550012{n}");
        let key = format!("race{n}");
        let s = start(wa(&number), order_update(), &key);
        let started = f.inbox.start_conversation(&ana, s);
        let wrote = f.customer_says("1001", &key, &number, "hi");
        let (started, wrote) = futures_util::future::join(started, wrote).await;
        let (c_started, c_wrote) = (started.unwrap().conversation.id, wrote.unwrap().0);
        assert_eq!(c_started, c_wrote, "{number}");
        let active = stored(&f, &c_started).await;
        assert!(active.status.is_active(), "{number}");
        let kept = messages_of(&f, &c_started).await;
        assert_eq!(kept.len() as u32, active.message_count, "{number}");
    }
}
