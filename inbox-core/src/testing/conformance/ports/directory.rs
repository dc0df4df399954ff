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
