//! Tenant settings through the inbox: checked as a whole, versioned,
//! recorded, published, allowed by role, scoped by tenant, and run from
//! the next message on (by every instance over the store).

use crate::inbox::DryRunSettings::{Draft, Running, Version};
use crate::settings::TenantSettings;
use crate::testing::conformance::support::*;

fn doc(yaml: &str) -> TenantSettings {
    TenantSettings::from_yaml(yaml).unwrap()
}

/// Sales routing with a first-response SLA of `minutes`.
fn sales_rules(minutes: u32) -> TenantSettings {
    doc(&format!(
        "routing:\n  rules:\n    - name: sales line\n      when: {{channel: sales}}\n      then: [{{route_to_team: sales}}]\nsla:\n  policies: [{{id: std, first_response_secs: {}}}]\n",
        minutes * 60
    ))
}

/// The settings-changed events of `acme` published so far: (version,
/// sections).
fn published(f: &Fixture) -> Vec<(u64, Vec<String>)> {
    f.bus
        .published()
        .into_iter()
        .filter(|e| e.tenant == f.acme())
        .filter_map(|e| match e.kind {
            EventKind::SettingsChanged { version, sections } => Some((version, sections)),
            _ => None,
        })
        .collect()
}

/// A bad document is refused whole, naming every bad field, storing
/// nothing; a good one is stored as the next version, recorded and
/// published; a stale edit is refused; an unchanged document makes no
/// version. (The fixture's provisioning made the versions before.)
pub(crate) async fn settings_changes_are_checked_versioned_recorded_and_published<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let ada = f.actor("ada");
    let v0 = f.inbox.settings(&ada).await.unwrap().version;
    let provisioned = published(&f);
    assert_eq!(provisioned.len() as u64, v0);
    let bad = doc("routing:\n  rules:\n    - name: r\n      then: [{route_to_team: slaes}]\ncanned_responses:\n  - {shortcut: hi, text: 'Hi {{contact.nmae}}', owner: {agent: anna}}\n");
    let err = f.inbox.update_settings(&ada, v0, bad).await.unwrap_err();
    let Error::InvalidSettings { problems } = &err else {
        panic!("{err}")
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "routing.rules[0].then[0].route_to_team",
            "canned_responses[0].text",
            "canned_responses[0].owner.agent"
        ],
        "{err}"
    );
    assert!(
        err.to_string().contains(r#"did you mean "sales"?"#),
        "{err}"
    );
    let kept = f.store.settings(&f.acme()).await.unwrap().unwrap();
    assert_eq!(
        (kept.version, kept.document),
        (v0, TenantSettings::default())
    );
    assert_eq!(published(&f), provisioned);

    let stored = f
        .inbox
        .update_settings(&ada, v0, sales_rules(30))
        .await
        .unwrap();
    assert_eq!(
        (stored.version, stored.updated_by.as_ref()),
        (v0 + 1, Some(&ada.agent))
    );
    assert_eq!(
        f.inbox.settings(&ada).await.unwrap().document,
        sales_rules(30)
    );
    assert_eq!(
        published(&f)[provisioned.len()..],
        [(v0 + 1, vec!["routing".to_string(), "sla".to_string()])]
    );

    // Someone else's edit on the earlier version comes too late; the same
    // document again changes nothing; tightening the SLA changes one
    // section.
    let update =
        |seen: u64, minutes: u32| f.inbox.update_settings(&ada, seen, sales_rules(minutes));
    assert_eq!(refused(update(v0, 5).await), "conflict");
    assert_eq!(update(v0 + 1, 30).await.unwrap().version, v0 + 1);
    assert_eq!(update(v0 + 1, 10).await.unwrap().version, v0 + 2);
    let history = f.inbox.settings_history(
        &ada,
        HistoryQuery {
            before: None,
            limit: 2,
        },
    );
    let history = history.await.unwrap();
    assert_eq!(
        history.iter().map(|c| c.version).collect::<Vec<_>>(),
        [v0 + 2, v0 + 1]
    );
    let sections = &history[0].sections;
    assert_eq!(sections.len(), 1, "{sections:?}");
    assert_eq!(sections[0].section, "sla");
    assert_eq!(
        sections[0].before["policies"][0]["first_response_secs"],
        1800
    );
    assert_eq!(sections[0].after["policies"][0]["first_response_secs"], 600);
    assert_eq!(history[0].by.as_ref(), Some(&ada.agent));
    assert_eq!(published(&f).len(), provisioned.len() + 2);
}

/// Agents, teams and channels are provisioned through the settings
/// history: each write is the next version (the document unchanged), with
/// the record before and after, by whom, published; a write that changes
/// nothing records nothing; a refused one stores neither the record nor a
/// version; only admins provision, and only in their own tenant.
pub(crate) async fn provisioning_goes_through_the_settings_history<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let (ana, ada, gus) = (f.actor("ana"), f.actor("ada"), f.actor("gus"));
    let query = |limit| HistoryQuery {
        before: None,
        limit,
    };
    // The fixture's own provisioning is there, by no agent.
    let v0 = f.inbox.settings(&ada).await.unwrap().version;
    let all = f.inbox.settings_history(&ada, query(200)).await.unwrap();
    assert_eq!(all.len() as u64, v0);
    let sections: BTreeSet<&str> = all
        .iter()
        .flat_map(|c| c.sections.iter().map(|s| s.section.as_str()))
        .collect();
    for expected in ["channels.sales", "teams.sales", "agents.ana", "agents.ada"] {
        assert!(sections.contains(expected), "{expected} in {sections:?}");
    }
    assert!(all.iter().all(|c| c.by.is_none() && c.sections.len() == 1));

    // An admin adds a team and moves ana into it.
    let vip = Team::new(f.acme(), id("vip"), "VIP");
    f.inbox.save_team(&ada, &vip).await.unwrap();
    let mut ana_rec = f.store.agent(&f.acme(), &id("ana")).await.unwrap();
    let before = serde_json::to_value(&ana_rec).unwrap();
    ana_rec.teams.push(id("vip"));
    f.inbox.save_agent(&ada, &ana_rec).await.unwrap();
    let last = f.inbox.settings_history(&ada, query(2)).await.unwrap();
    assert_eq!(
        last.iter().map(|c| c.version).collect::<Vec<_>>(),
        [v0 + 2, v0 + 1]
    );
    let (moved, added) = (&last[0], &last[1]);
    assert_eq!(added.sections[0].section, "teams.vip");
    assert_eq!(added.sections[0].before, serde_json::Value::Null);
    assert_eq!(added.sections[0].after["name"], "VIP");
    assert_eq!(moved.by.as_ref(), Some(&ada.agent));
    assert_eq!(moved.sections[0].section, "agents.ana");
    assert_eq!(moved.sections[0].before, before);
    assert_eq!(
        moved.sections[0].after,
        serde_json::to_value(&ana_rec).unwrap()
    );
    let stored = f.store.settings(&f.acme()).await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.document),
        (v0 + 2, TenantSettings::default())
    );
    let events = published(&f);
    assert_eq!(
        events[events.len() - 2..],
        [
            (v0 + 1, vec!["teams.vip".to_string()]),
            (v0 + 2, vec!["agents.ana".to_string()]),
        ]
    );

    // The same record again records nothing.
    f.inbox.save_agent(&ada, &ana_rec).await.unwrap();
    assert_eq!(f.inbox.settings(&ada).await.unwrap().version, v0 + 2);

    // A channel on a number another channel has: refused, nothing stored.
    let stolen = Channel::new(f.acme(), id("extra"), "1002", "+1 555");
    let err = f.inbox.save_channel(&ada, &stolen).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err:?}");
    assert_eq!(f.inbox.settings(&ada).await.unwrap().version, v0 + 2);
    assert_eq!(
        refused(f.store.channel(&f.acme(), &id("extra")).await),
        "not_found"
    );

    // Agents do not provision; another tenant's admin cannot write here.
    let cy = Agent::new(f.acme(), id("cy2"), "Cy Two", Role::Agent);
    assert_eq!(refused(f.inbox.save_agent(&ana, &cy).await), "forbidden");
    assert_eq!(refused(f.inbox.save_agent(&gus, &cy).await), "not_found");
    assert_eq!(f.inbox.settings(&ada).await.unwrap().version, v0 + 2);
    assert_eq!(
        refused(f.store.agent(&f.acme(), &id("cy2")).await),
        "not_found"
    );

    // A settings edit made on the version before a provisioning is stale.
    let err = f.inbox.update_settings(&ada, v0 + 1, sales_rules(5)).await;
    assert_eq!(refused(err), "conflict");
}

/// Agents neither read nor change settings; supervisors read them and
/// their history; admins change them; nobody sees another tenant's.
pub(crate) async fn settings_follow_the_role_matrix<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let (ana, sam, ada, gus) = (
        f.actor("ana"),
        f.actor("sam"),
        f.actor("ada"),
        Actor::new(t("globex"), id("gus")),
    );
    let query = HistoryQuery {
        before: None,
        limit: 10,
    };
    let v0 = f.inbox.settings(&ada).await.unwrap().version;
    let v = f
        .inbox
        .update_settings(&ada, v0, sales_rules(30))
        .await
        .unwrap()
        .version;
    assert_eq!(refused(f.inbox.settings(&ana).await), "forbidden");
    assert_eq!(
        refused(f.inbox.settings_history(&ana, query).await),
        "forbidden"
    );
    let change = f.inbox.update_settings(&ana, v, sales_rules(5)).await;
    assert_eq!(refused(change), "forbidden");
    assert_eq!(f.inbox.settings(&sam).await.unwrap().version, v);
    assert_eq!(
        f.inbox.settings_history(&sam, query).await.unwrap()[0].version,
        v
    );
    let change = f.inbox.update_settings(&sam, v, sales_rules(5)).await;
    assert_eq!(refused(change), "forbidden");
    // globex's admin sees globex's settings (only its provisioning) and
    // no history of acme.
    let theirs = f.inbox.settings(&gus).await.unwrap();
    assert_eq!(theirs.document, TenantSettings::default());
    let history = f.inbox.settings_history(&gus, query).await.unwrap();
    assert_eq!(history.len() as u64, theirs.version);
    assert!(history
        .iter()
        .flat_map(|c| &c.sections)
        .all(|s| s.after["tenant"] == "globex"));
    // An edit made on acme's version by globex's admin is about globex.
    let theirs = f.inbox.settings(&gus).await.unwrap().version;
    assert_ne!(theirs, v);
    let err = f
        .inbox
        .update_settings(&gus, v, TenantSettings::default())
        .await;
    assert_eq!(refused(err), "conflict");
    assert_eq!(
        f.store.settings(&f.acme()).await.unwrap().unwrap().version,
        v
    );
}

/// A message ingested after a change is decided by the new settings, on
/// the instance that made it and, once it reloads (as its settings
/// follower does on the change's event), on another over the same store;
/// an instance started later loads them from the store.
pub(crate) async fn a_settings_change_decides_the_next_message<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let store = store.as_dyn();
    let f = Fixture::new(store.clone()).await.unwrap();
    let other = Fixture::instance(store.clone(), InboxConfig::default(), "i2");
    let c1 = says(&other, "1001", "w1", "34611111111", "hi").await;
    assert_eq!(stored(&f, &c1).await.team, None);
    f.edit_settings(|s| *s = sales_rules(30)).await.unwrap();
    let c2 = says(&f, "1001", "w2", "34622222222", "hi").await;
    assert_eq!(stored(&f, &c2).await.team, Some(id("sales")));
    // The other instance runs the old settings until it hears of the
    // change (its follower reloads on the event: see the PostgreSQL
    // multi-instance test for the bus).
    let c = says(&other, "1001", "w5", "34655555555", "hi").await;
    assert_eq!(stored(&f, &c).await.team, None);
    other.inbox.reload_settings(&f.acme()).await.unwrap();
    let c3 = says(&other, "1001", "w3", "34633333333", "hi").await;
    assert_eq!(stored(&f, &c3).await.team, Some(id("sales")));
    // A new instance (a restart) reads them from the store.
    let restarted = Fixture::instance(store, InboxConfig::default(), "i3");
    let tenants = restarted.inbox.load_settings().await.unwrap();
    assert_eq!(tenants, f.store.settings_versions().await.unwrap().len());
    let c4 = says(&restarted, "1001", "w4", "34644444444", "hi").await;
    assert_eq!(stored(&f, &c4).await.team, Some(id("sales")));
    assert!(stored(&f, &c4).await.sla.is_some());
}

/// SLA due times already given keep their time when the policy changes;
/// conversations started after the change get the new one.
pub(crate) async fn sla_changes_apply_to_targets_started_after_them<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::with_settings(store.as_dyn(), sales_rules(30))
        .await
        .unwrap();
    let t0 = Fixture::start();
    let due = |c: &Conversation| {
        let sla = c.sla.as_ref().unwrap();
        sla.target(crate::sla::SlaTargetKind::FirstResponse)
            .unwrap()
            .due_at
    };
    let before = says(&f, "1001", "w1", "34611111111", "hi").await;
    f.edit_settings(|s| *s = sales_rules(10)).await.unwrap();
    let after = says(&f, "1001", "w2", "34622222222", "hi").await;
    assert_eq!(due(&stored(&f, &before).await), t0 + TimeDelta::minutes(30));
    assert_eq!(due(&stored(&f, &after).await), t0 + TimeDelta::minutes(10));
    // Its breach timer is not moved either.
    let timers = f
        .store
        .due_timers(t0 + TimeDelta::hours(1), 100)
        .await
        .unwrap();
    let breach_of = |c: &ConversationId| {
        timers
            .iter()
            .filter(|t| &t.conversation == c)
            .map(|t| t.due_at)
            .max()
    };
    assert_eq!(breach_of(&before), Some(t0 + TimeDelta::minutes(30)));
    assert_eq!(breach_of(&after), Some(t0 + TimeDelta::minutes(10)));
}

/// A dry run explains what a message would do, under the stored settings
/// or a draft, and changes nothing: no contact, conversation, event,
/// message, timer or send; supervisors and admins only.
pub(crate) async fn a_dry_run_explains_and_changes_nothing<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::with_settings(store.as_dyn(), sales_rules(30))
        .await
        .unwrap();
    let t0 = Fixture::start();
    let (ana, sam) = (f.actor("ana"), f.actor("sam"));
    let sample = f.inbound("1001", "sample-1", "34699999999", Content::text("hi"));
    let events_before = f
        .store
        .events_since(&f.acme(), 0, 1000)
        .await
        .unwrap()
        .len();
    let refusal = f.inbox.explain(&ana, Running, sample.clone()).await;
    assert_eq!(refusal.unwrap_err().code(), "forbidden");

    let x = f
        .inbox
        .explain(&sam, Running, sample.clone())
        .await
        .unwrap();
    let v = f.inbox.settings(&sam).await.unwrap().version;
    assert_eq!((x.settings_version, x.opened), (Some(v), true));
    assert_eq!(x.conversation.team, Some(id("sales")));
    let fired = x.events.iter().find_map(|e| match e {
        EventKind::RuleFired { rule, outcome, .. } => Some((rule.as_str(), outcome.clone())),
        _ => None,
    });
    assert_eq!(fired, Some(("sales line", vec!["team sales".to_string()])));
    let sla = x.conversation.sla.as_ref().unwrap();
    assert_eq!(sla.policy, "std");
    let first = sla
        .target(crate::sla::SlaTargetKind::FirstResponse)
        .unwrap();
    assert_eq!(first.due_at, t0 + TimeDelta::minutes(30));
    assert!(x.timers.contains(&(
        crate::timer::TimerKind::SlaBreach(crate::sla::SlaTargetKind::FirstResponse),
        t0 + TimeDelta::minutes(30)
    )));

    // A draft is explained without being stored.
    let draft = doc(
        "routing:\n  rules:\n    - name: all to support\n      then: [{route_to_team: support}]\n",
    );
    let x = f
        .inbox
        .explain(&sam, Draft(Box::new(draft)), sample.clone())
        .await
        .unwrap();
    assert_eq!(
        (x.settings_version, x.conversation.team),
        (None, Some(id("support")))
    );
    assert!(x.conversation.sla.is_none());
    let bad = doc("routing:\n  rules:\n    - name: r\n      then: [{route_to_team: suport}]\n");
    let refusal = f
        .inbox
        .explain(&sam, Draft(Box::new(bad)), sample.clone())
        .await;
    assert_eq!(refusal.unwrap_err().code(), "invalid_settings");

    // Nothing of it happened: no event, contact, timer or send, and the
    // draft did not replace what runs.
    let due = f
        .store
        .due_timers(t0 + TimeDelta::days(2), 100)
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");
    let events = f.store.events_since(&f.acme(), 0, 1000).await.unwrap();
    assert_eq!(events.len(), events_before);
    let contact = ContactIdentity::wa("34699999999");
    assert!(f
        .store
        .find_contact(&f.acme(), &contact)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        f.store.settings(&f.acme()).await.unwrap().unwrap().version,
        v
    );
    assert!(f.transport.sent().is_empty());
    assert!(f
        .bus
        .published()
        .iter()
        .all(|e| e.kind.name() == "settings_changed"));

    // An existing conversation: as if its customer wrote again now, under
    // a draft with a rule for every message.
    let c = says(&f, "1001", "w1", "34611111111", "hola").await;
    assert_eq!(stored(&f, &c).await.team, Some(id("sales")));
    let draft = doc("routing:\n  rules:\n    - name: every message\n      on: [message_received]\n      then: [{set_priority: high}]\n");
    let x = f
        .inbox
        .explain_conversation(&sam, Draft(Box::new(draft)), &c)
        .await
        .unwrap();
    assert!(!x.opened);
    assert_eq!(x.conversation.id, c);
    assert_eq!(x.conversation.priority, Priority::High);
    assert_eq!(stored(&f, &c).await.priority, Priority::Normal);
}

/// A past version is rebuilt from the history (provisioning since left
/// out) and a dry run explains a message under it; a version never stored
/// is refused.
pub(crate) async fn a_dry_run_explains_a_past_version<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let (ana, sam) = (f.actor("ana"), f.actor("sam"));
    let v0 = f.inbox.settings(&sam).await.unwrap().version;
    let sales = f.edit_settings(|s| *s = sales_rules(30)).await.unwrap();
    let vip = Team::new(f.acme(), id("vip"), "VIP");
    f.inbox.provision_team(&vip).await.unwrap();
    let to_support = doc("routing:\n  rules:\n    - name: all\n      then: [{route_to_team: support}]\ntimers: {max_snooze: 3d}\n");
    let now = f.edit_settings(|s| *s = to_support.clone()).await.unwrap();
    assert_eq!(now.version, sales.version + 2);

    let at = |v| f.inbox.settings_at(&sam, v);
    assert_eq!(at(sales.version).await.unwrap(), sales_rules(30));
    assert_eq!(at(sales.version + 1).await.unwrap(), sales_rules(30));
    assert_eq!(at(now.version).await.unwrap(), to_support);
    assert_eq!(at(v0).await.unwrap(), TenantSettings::default());
    assert_eq!(refused(at(now.version + 1).await), "invalid_input");
    assert_eq!(refused(f.inbox.settings_at(&ana, v0).await), "forbidden");

    let sample = f.inbound("1001", "sample-1", "34699999999", Content::text("hi"));
    let explain = |v| f.inbox.explain(&sam, Version(v), sample.clone());
    let then = explain(sales.version).await.unwrap();
    assert_eq!(then.settings_version, Some(sales.version));
    assert_eq!(then.conversation.team, Some(id("sales")));
    assert_eq!(then.conversation.sla.as_ref().unwrap().policy, "std");
    let before = explain(v0).await.unwrap();
    assert_eq!(before.conversation.team, None);
    let running = f
        .inbox
        .explain(&sam, Running, sample.clone())
        .await
        .unwrap();
    assert_eq!(running.conversation.team, Some(id("support")));
    assert_eq!(refused(explain(now.version + 1).await), "invalid_input");
}

/// A tenant that lists its templates offers its agents the sendable ones
/// and sends only those: an unknown one, one
/// held back by Meta's review, or one with the wrong parameters is refused
/// before anything is stored or queued; an approved one goes out, and
/// outside the 24-hour window too.
pub(crate) async fn templates_are_checked_against_the_tenant_list_when_sent<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34611111111", "hola").await;
    f.edit_settings(|s| {
        *s = doc(concat!(
            "templates:\n",
            "  - {name: order_update, language: en_US, parameters: [{component: {type: body}, count: 1}], status: APPROVED}\n",
            "  - {name: promo, language: en_US, parameters: [], status: PAUSED, category: MARKETING}\n",
            "  - {name: seguimiento, language: es_ES, parameters: []}\n",
        ))
    })
    .await
    .unwrap();
    let ana = f.actor("ana");
    // What agents are offered: the sendable ones, in the settings' order.
    let offered: Vec<String> = (f.inbox.templates(&ana).await.unwrap().iter())
        .map(|t| format!("{}@{}", t.name, t.language))
        .collect();
    assert_eq!(offered, ["order_update@en_US", "seguimiento@es_ES"]);
    let v = claim_now(&f, &ana, &c).await;
    f.advance(TimeDelta::hours(25));
    let send = |name: &str, language: &str, params: serde_json::Value, key: &str| Reply {
        content: Content::Template {
            name: name.into(),
            language: language.into(),
            components: params,
        },
        idempotency_key: key.into(),
        reply_to: None,
    };
    let one =
        serde_json::json!([{"type": "body", "parameters": [{"type": "text", "text": "A-17"}]}]);
    let refusal = |r: Result<crate::inbox::ActionOutcome, Error>| {
        let e = r.unwrap_err();
        (e.code(), e.to_string())
    };
    let (code, text) = refusal(
        f.inbox
            .reply(
                &ana,
                &c,
                v,
                send("promo", "en_US", serde_json::json!([]), "k1"),
            )
            .await,
    );
    assert_eq!(code, "invalid_content");
    assert!(
        text.contains("PAUSED") && text.contains("approved"),
        "{text}"
    );
    let (code, text) = refusal(
        f.inbox
            .reply(
                &ana,
                &c,
                v,
                send("order_update", "es_ES", one.clone(), "k2"),
            )
            .await,
    );
    assert_eq!(code, "invalid_content");
    assert!(text.contains("it exists in en_US"), "{text}");
    let (code, _) = refusal(
        f.inbox
            .reply(
                &ana,
                &c,
                v,
                send("order_update", "en_US", serde_json::json!([]), "k3"),
            )
            .await,
    );
    assert_eq!(code, "invalid_content");
    assert_eq!(stored(&f, &c).await.version, v);
    assert!(f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .iter()
        .all(|m| m.direction == Direction::Inbound));

    let out = f
        .inbox
        .reply(&ana, &c, v, send("order_update", "en_US", one, "k4"))
        .await
        .unwrap();
    assert!(out.message.unwrap().content.is_template());
    let v = stored(&f, &c).await.version;
    let hand_written = send("seguimiento", "es_ES", serde_json::json!([]), "k5");
    f.inbox.reply(&ana, &c, v, hand_written).await.unwrap();
}

/// Agents use the tenant's canned responses, their teams' and their own,
/// the most specific of a shortcut winning, filled in for a conversation
/// they can see.
pub(crate) async fn canned_responses_follow_their_owner<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34611111111", "hola").await;
    f.edit_settings(|s| {
        *s = doc(concat!(
            "canned_responses:\n",
            "  - {shortcut: hi, text: 'Hello {{contact.phone}}, {{agent.name}} here.'}\n",
            "  - {shortcut: hours, text: 'We open at 9.'}\n",
            "  - {shortcut: hours, text: 'Sales opens at 8.', owner: {team: sales}}\n",
            "  - {shortcut: mine, text: 'Ana signing off.', owner: {agent: ana}}\n",
            "  - {shortcut: help, text: 'Support can help.', owner: {team: support}}\n",
        ))
    })
    .await
    .unwrap();
    let shortcuts = |list: Vec<crate::settings::CannedResponse>| {
        list.into_iter()
            .map(|c| format!("{}: {}", c.shortcut, c.text))
            .collect::<Vec<_>>()
    };
    let ana = f.inbox.canned_responses(&f.actor("ana")).await.unwrap();
    assert_eq!(
        shortcuts(ana),
        [
            "hi: Hello {{contact.phone}}, {{agent.name}} here.",
            "hours: Sales opens at 8.",
            "mine: Ana signing off.",
        ]
    );
    let cy = f.inbox.canned_responses(&f.actor("cy")).await.unwrap();
    assert_eq!(
        shortcuts(cy),
        [
            "help: Support can help.",
            "hi: Hello {{contact.phone}}, {{agent.name}} here.",
            "hours: We open at 9.",
        ]
    );
    let text = f
        .inbox
        .render_canned(&f.actor("ana"), &c, "hi")
        .await
        .unwrap();
    assert_eq!(text, "Hello 34611111111, Ana here.");
    // cy sees the conversation (no team yet) but `mine` is ana's alone;
    // another tenant's admin does not find the conversation.
    let err = f.inbox.render_canned(&f.actor("cy"), &c, "mine").await;
    assert_eq!(refused(err), "invalid_input");
    let gus = Actor::new(t("globex"), id("gus"));
    assert_eq!(
        refused(f.inbox.render_canned(&gus, &c, "hi").await),
        "not_found"
    );
}

/// A snooze further ahead than the tenant's limit is refused and changes
/// nothing; within it, it goes through.
pub(crate) async fn snoozes_stay_within_the_tenant_limit<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34611111111", "hola").await;
    f.edit_settings(|s| *s = doc("timers: {max_snooze: 7d}"))
        .await
        .unwrap();
    let ana = f.actor("ana");
    let v = claim_now(&f, &ana, &c).await;
    let too_far = Fixture::start() + TimeDelta::days(8);
    let err = f.inbox.snooze(&ana, &c, v, too_far).await.unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("7days"), "{err}");
    assert_eq!(stored(&f, &c).await.version, v);
    let ok = f
        .inbox
        .snooze(&ana, &c, v, Fixture::start() + TimeDelta::days(7));
    assert_eq!(
        ok.await.unwrap().conversation.status,
        ConversationStatus::Snoozed
    );
}

/// An instance that never heard of a change (its event lost) catches up on
/// its tick within [`crate::SETTINGS_RECHECK`], not before.
pub(crate) async fn a_lost_change_event_is_caught_up_by_the_tick<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let store = store.as_dyn();
    let f = Fixture::new(store.clone()).await.unwrap();
    let other = Fixture::instance(store, InboxConfig::default(), "i2");
    let t0 = Fixture::start();
    other.inbox.tick(t0, 100).await.unwrap();
    let c = says(&other, "1001", "w0", "34600000000", "hi").await;
    assert_eq!(stored(&f, &c).await.team, None);
    f.edit_settings(|s| *s = sales_rules(30)).await.unwrap();
    let recheck = crate::SETTINGS_RECHECK;
    other.clock.set(t0 + recheck / 2);
    other.inbox.tick(t0 + recheck / 2, 100).await.unwrap();
    let c = says(&other, "1001", "w1", "34611111111", "hi").await;
    assert_eq!(stored(&f, &c).await.team, None, "not rechecked yet");
    other.clock.set(t0 + recheck);
    other.inbox.tick(t0 + recheck, 100).await.unwrap();
    let c = says(&other, "1001", "w2", "34622222222", "hi").await;
    assert_eq!(stored(&f, &c).await.team, Some(id("sales")));
}
