//! The [`Directory`] contract: tenants, channels, agents and teams.

use crate::testing::conformance::support::*;

/// Tenants, channels, agents and teams are stored and read back; missing
/// ones are not found; phone number ids are unique across tenants.
pub(crate) async fn directory_round_trip<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    assert_eq!(store.tenant(&t("acme")).await.unwrap().name, "acme");
    assert_eq!(
        store.tenant(&t("nope")).await.unwrap_err().code(),
        "not_found"
    );

    let team = Team::new(t("acme"), TeamId::new("sales").unwrap(), "Sales");
    store.upsert_team(&team).await.unwrap();
    let mut renamed = team.clone();
    renamed.name = "Sales EU".into();
    store.upsert_team(&renamed).await.unwrap();
    assert_eq!(store.team(&t("acme"), &team.id).await.unwrap(), renamed);
    assert_eq!(store.teams(&t("acme")).await.unwrap(), vec![renamed]);

    let ana = Agent::new(t("acme"), AgentId::new("ana").unwrap(), "Ana", Role::Agent)
        .in_team(team.id.clone())
        .with_capacity(4);
    store.upsert_agent(&ana).await.unwrap();
    assert_eq!(store.agent(&t("acme"), &ana.id).await.unwrap(), ana);
    assert_eq!(store.agents(&t("acme")).await.unwrap(), [ana]);

    let ch = store
        .channel_by_phone_number_id("1002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ch.tenant.as_str(), ch.id.as_str()), ("acme", "support"));
    assert!(store
        .channel_by_phone_number_id("9999")
        .await
        .unwrap()
        .is_none());
    let chans: Vec<String> = store
        .channels(&t("acme"))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(chans, ["sales", "support"]);

    // Another tenant cannot take a number that is already in use.
    let stolen = Channel::new(t("globex"), ChannelId::new("x").unwrap(), "1001", "x");
    let err = store.upsert_channel(&stolen).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
    // A channel of a missing tenant is refused.
    let orphan = Channel::new(t("nope"), ChannelId::new("x").unwrap(), "5555", "x");
    assert_eq!(
        store.upsert_channel(&orphan).await.unwrap_err().code(),
        "not_found"
    );
    let orphan_agent = Agent::new(t("nope"), AgentId::new("x").unwrap(), "X", Role::Agent);
    assert_eq!(
        store.upsert_agent(&orphan_agent).await.unwrap_err().code(),
        "not_found"
    );
}

/// Directory reads never cross tenants.
pub(crate) async fn directory_is_scoped_by_tenant<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let ana = Agent::new(t("acme"), AgentId::new("ana").unwrap(), "Ana", Role::Admin);
    store.upsert_agent(&ana).await.unwrap();
    store
        .upsert_team(&Team::new(t("acme"), TeamId::new("sales").unwrap(), "S"))
        .await
        .unwrap();
    let globex = t("globex");
    let refusals = [
        refused(store.agent(&globex, &ana.id).await),
        refused(store.team(&globex, &id("sales")).await),
        refused(store.channel(&globex, &id("sales")).await),
    ];
    assert_eq!(refusals, ["not_found"; 3]);
    assert!(store.agents(&globex).await.unwrap().is_empty());
    assert!(store.teams(&globex).await.unwrap().is_empty());
}

/// What the inbox learns about a channel (signals, history import) is
/// changed only by `update_channel_news`, atomically: concurrent changes
/// all land, a change that says it changed nothing writes nothing, and an
/// upsert of the channel's configuration keeps it. Another tenant's
/// channel is not found.
pub(crate) async fn channel_news_change_atomically_and_survive_upserts<S: Store + ?Sized>(
    store: Arc<S>,
) {
    setup_tenants(&*store).await;
    let sales = ChannelId::new("sales").unwrap();
    let at = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
    let changes = (0..16).map(|i| {
        let store = store.clone();
        let sales = sales.clone();
        async move {
            let slot = format!("account:EVENT_{i}");
            let add = move |c: &mut Channel| {
                let signal = AccountSignal::Account {
                    event: format!("EVENT_{i}"),
                    detail: None,
                };
                c.signals.insert(slot.clone(), SignalSeen { signal, at });
                true
            };
            store.update_channel_news(&t("acme"), &sales, &add).await
        }
    });
    for result in join_all(changes).await {
        result.unwrap();
    }
    let stored = store.channel(&t("acme"), &sales).await.unwrap();
    assert_eq!(stored.signals.len(), 16, "every change landed");
    // Configuration written over it keeps the news, and news changes keep
    // the configuration.
    let mut renamed = Channel::new(t("acme"), sales.clone(), "1001", "1001");
    renamed.name = "Sales line".into();
    store.upsert_channel(&renamed).await.unwrap();
    let stored = store.channel(&t("acme"), &sales).await.unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.signals.len()),
        ("Sales line", 16)
    );
    let import = |c: &mut Channel| {
        c.name = "ignored".into();
        c.history = Some(HistoryImport::default());
        true
    };
    let after = store
        .update_channel_news(&t("acme"), &sales, &import)
        .await
        .unwrap();
    assert_eq!(after.name, "Sales line");
    assert_eq!(after.history, Some(HistoryImport::default()));
    assert_eq!(store.channel(&t("acme"), &sales).await.unwrap(), after);
    // Nothing changed: nothing written.
    let nothing = |c: &mut Channel| {
        c.signals.clear();
        false
    };
    let same = store
        .update_channel_news(&t("acme"), &sales, &nothing)
        .await
        .unwrap();
    assert_eq!(same.signals.len(), 16);
    let elsewhere = store
        .update_channel_news(&t("globex"), &sales, &import)
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), "not_found");
    // The numbers of an account, whatever their tenants, by tenant and id.
    for (tenant, id) in [("globex", "main"), ("acme", "sales")] {
        let mut c = store
            .channel(&t(tenant), &ChannelId::new(id).unwrap())
            .await
            .unwrap();
        c.waba_id = Some("880001".into());
        store.upsert_channel(&c).await.unwrap();
    }
    let of: Vec<String> = (store.channels_of_account("880001").await.unwrap())
        .iter()
        .map(|c| format!("{}/{}", c.tenant, c.id))
        .collect();
    assert_eq!(of, ["acme/sales", "globex/main"]);
    assert!(store
        .channels_of_account("990009")
        .await
        .unwrap()
        .is_empty());
}

/// A bot is an agent like any other in the directory: stored and read
/// back with its `bot` and `service` marks; an agent written before bots
/// existed reads as a person.
pub(crate) async fn bot_agents_round_trip<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let mut faq = Agent::new(
        t("acme"),
        AgentId::new("faq").unwrap(),
        "Helper",
        Role::Agent,
    );
    faq.service = true;
    faq.bot = true;
    faq.presence = Presence::Online;
    store.upsert_agent(&faq).await.unwrap();
    let ana = Agent::new(t("acme"), AgentId::new("ana").unwrap(), "Ana", Role::Agent);
    store.upsert_agent(&ana).await.unwrap();
    assert_eq!(store.agent(&t("acme"), &faq.id).await.unwrap(), faq);
    let read = store.agent(&t("acme"), &ana.id).await.unwrap();
    assert!(!read.bot && !read.service);
    let bots: Vec<String> = store
        .agents(&t("acme"))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.bot)
        .map(|a| a.id.to_string())
        .collect();
    assert_eq!(bots, ["faq"]);
    let old: Agent = serde_json::from_value(serde_json::json!({
        "tenant": "acme", "id": "old", "name": "Old", "role": "agent", "teams": [],
        "skills": [], "capacity": 0, "presence": "offline", "active": true
    }))
    .unwrap();
    assert!(!old.bot);
}
