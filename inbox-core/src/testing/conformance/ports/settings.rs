//! The [`Settings`] contract: one versioned document per tenant, a stale
//! put refused whole, a history newest first, tenants apart.

use crate::settings::TenantSettings;
use crate::testing::conformance::support::*;

/// A document with something in every kind of section, to see it come back
/// exactly as it was put.
fn document(rule: &str) -> TenantSettings {
    TenantSettings::from_yaml(&format!(
        r#"
routing:
  teams: {{sales: {{strategy: round_robin}}}}
  calendars: {{office: {{zone: Europe/Madrid, weekdays: ["09:00-18:00"], holidays: [2026-12-25]}}}}
  rules:
    - name: {rule}
      when: {{text: {{contains: [precio, "¿cuánto?"]}}}}
      then: [{{route_to_team: sales}}, {{note: "caf\u00e9 \"quoted\""}}]
sla:
  calendar: office
  policies: [{{id: std, first_response_secs: 600, warn_at_percent: 80}}]
timers: {{follow_up_after: 1d}}
canned_responses: [{{shortcut: hi, text: "Hola {{{{contact.name}}}}"}}]
templates: [{{name: order_update, language: es, parameters: [{{component: {{type: body}}, count: 2}}]}}]
"#
    ))
    .expect("the test document parses")
}

fn section(name: &str, after: serde_json::Value) -> SectionChange {
    SectionChange {
        section: name.into(),
        before: serde_json::Value::Null,
        after,
    }
}

async fn put<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    expected: u64,
    doc: &TenantSettings,
    minute: i64,
) -> Result<StoredSettings, Error> {
    let tenant = t(tenant);
    let by = AgentId::new("ana").unwrap();
    let sections = [section("routing", serde_json::json!({"v": expected + 1}))];
    store
        .put_settings(SettingsPut {
            tenant: &tenant,
            expected,
            document: doc,
            sections: &sections,
            at: at(minute),
            by: Some(&by),
            directory: None,
        })
        .await
}

fn query(before: Option<u64>, limit: u32) -> HistoryQuery {
    HistoryQuery { before, limit }
}

fn expect_settings_conflict(err: Error, seen: u64, current: u64) {
    match err {
        Error::Conflict(c) => {
            assert_eq!(c.entity, Entity::Settings);
            assert_eq!((c.seen, c.current), (seen, current));
        }
        other => panic!("expected a settings conflict, got {other:?}"),
    }
}

/// None before the first put; each put is the next version, read back
/// exactly as it was put, with when and by whom.
pub(crate) async fn settings_are_stored_versioned_and_read_back<S: Store + ?Sized>(store: Arc<S>) {
    assert_eq!(store.settings(&t("acme")).await.unwrap(), None);
    let first = put(&*store, "acme", 0, &document("one"), 1).await.unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.document, document("one"));
    let second = put(&*store, "acme", 1, &document("two"), 2).await.unwrap();
    assert_eq!(second.version, 2);
    let stored = store.settings(&t("acme")).await.unwrap().unwrap();
    assert_eq!(stored, second);
    assert_eq!(stored.document, document("two"));
    assert_eq!(stored.updated_at, at(2));
    assert_eq!(stored.updated_by, Some(AgentId::new("ana").unwrap()));
    assert_eq!(
        store.settings_versions().await.unwrap(),
        vec![(t("acme"), 2)]
    );
}

/// A put on a version that is not the stored one is a conflict and stores
/// nothing, history included; of concurrent puts on one version, one wins.
pub(crate) async fn stale_settings_puts_are_refused_and_store_nothing<S: Store + ?Sized>(
    store: Arc<S>,
) {
    put(&*store, "acme", 0, &document("one"), 1).await.unwrap();
    let again = put(&*store, "acme", 0, &document("late"), 2).await;
    expect_settings_conflict(again.unwrap_err(), 0, 1);
    let ahead = put(&*store, "acme", 5, &document("ahead"), 2).await;
    expect_settings_conflict(ahead.unwrap_err(), 5, 1);
    let stored = store.settings(&t("acme")).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.document), (1, document("one")));
    let history = store
        .settings_history(&t("acme"), query(None, 10))
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    let racers = join_all((0..8).map(|i| {
        let store = store.clone();
        async move { put(&*store, "acme", 1, &document(&format!("racer {i}")), 3).await }
    }))
    .await;
    assert_eq!(racers.iter().filter(|r| r.is_ok()).count(), 1, "{racers:?}");
    let stored = store.settings(&t("acme")).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    let history = store
        .settings_history(&t("acme"), query(None, 10))
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
}

/// The history lists every change newest first, each with its sections,
/// and pages by version.
pub(crate) async fn settings_history_is_newest_first_and_paged<S: Store + ?Sized>(store: Arc<S>) {
    for v in 0..3 {
        put(&*store, "acme", v, &document(&format!("v{v}")), v as i64)
            .await
            .unwrap();
    }
    let history = store
        .settings_history(&t("acme"), query(None, 10))
        .await
        .unwrap();
    let versions: Vec<u64> = history.iter().map(|c| c.version).collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(history[0].at, at(2));
    assert_eq!(history[0].by, Some(AgentId::new("ana").unwrap()));
    assert_eq!(
        history[0].sections,
        [section("routing", serde_json::json!({"v": 3}))]
    );
    let page = store
        .settings_history(&t("acme"), query(Some(3), 1))
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].version, 2);
    let last = store
        .settings_history(&t("acme"), query(Some(1), 10))
        .await
        .unwrap();
    assert!(last.is_empty());
}

/// One tenant's settings and history are never another's; each tenant
/// counts its own versions.
pub(crate) async fn settings_are_scoped_by_tenant<S: Store + ?Sized>(store: Arc<S>) {
    put(&*store, "acme", 0, &document("acme"), 1).await.unwrap();
    assert_eq!(store.settings(&t("globex")).await.unwrap(), None);
    assert!(store
        .settings_history(&t("globex"), query(None, 10))
        .await
        .unwrap()
        .is_empty());
    let globex = put(&*store, "globex", 0, &document("globex"), 2)
        .await
        .unwrap();
    assert_eq!(globex.version, 1);
    let acme = store.settings(&t("acme")).await.unwrap().unwrap();
    assert_eq!(acme.document, document("acme"));
    let versions = store.settings_versions().await.unwrap();
    assert_eq!(versions, vec![(t("acme"), acme.version), (t("globex"), 1)]);
}

/// A put's directory record is written with its version or not at all: a
/// stale put writes no record, a refused record (a phone number id taken,
/// an unknown tenant) writes no version.
pub(crate) async fn a_put_writes_its_directory_record_or_nothing<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let doc = document("one");
    let team = Team::new(acme.clone(), TeamId::new("vip").unwrap(), "VIP");
    let sections = [section("teams.vip", serde_json::json!({"name": "VIP"}))];
    let with = |expected, write| SettingsPut {
        tenant: &acme,
        expected,
        document: &doc,
        sections: &sections,
        at: at(1),
        by: None,
        directory: Some(write),
    };
    let stale = store
        .put_settings(with(3, DirectoryWrite::Team(&team)))
        .await;
    expect_settings_conflict(stale.unwrap_err(), 3, 0);
    let missing = store.team(&acme, &team.id).await.unwrap_err();
    assert_eq!(missing.code(), "not_found");

    let taken = Channel::new(acme.clone(), ChannelId::new("extra").unwrap(), "1002", "+1");
    let err = store
        .put_settings(with(0, DirectoryWrite::Channel(&taken)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err:?}");
    assert_eq!(store.settings(&acme).await.unwrap(), None);
    assert!(store
        .settings_history(&acme, query(None, 10))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .channel_by_phone_number_id("1002")
            .await
            .unwrap()
            .unwrap()
            .id
            .as_str(),
        "support"
    );

    let stored = store
        .put_settings(with(0, DirectoryWrite::Team(&team)))
        .await
        .unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(store.team(&acme, &team.id).await.unwrap(), team);
    let history = store
        .settings_history(&acme, query(None, 10))
        .await
        .unwrap();
    assert_eq!(history[0].sections, sections);

    let moved = Channel::new(
        acme.clone(),
        ChannelId::new("support").unwrap(),
        "1003",
        "+1",
    );
    store
        .put_settings(with(1, DirectoryWrite::Channel(&moved)))
        .await
        .unwrap();
    assert_eq!(
        store.channel_by_phone_number_id("1003").await.unwrap(),
        Some(moved.clone())
    );
    assert_eq!(
        store.channel_by_phone_number_id("1002").await.unwrap(),
        None
    );

    let nowhere = t("initech");
    let ghost = Team::new(nowhere.clone(), TeamId::new("x").unwrap(), "X");
    let put = SettingsPut {
        tenant: &nowhere,
        ..with(0, DirectoryWrite::Team(&ghost))
    };
    assert_eq!(
        store.put_settings(put).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(store.settings(&nowhere).await.unwrap(), None);
}
