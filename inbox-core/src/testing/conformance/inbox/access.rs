//! Sessions, passwords and API keys through the inbox: kept in the store
//! (every instance shares them, they survive restarts), expired by the
//! inbox's clock, refused at once when revoked, allowed by role, scoped by
//! tenant, and never shown in `Debug`.

use crate::inbox::NewApiKey;
use crate::metrics::LiveQuery;
use crate::testing::conformance::support::*;
use crate::Secret;

const HOUR: Duration = Duration::from_secs(3600);
const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

/// An unguessable-looking token (the suites need them repeatable).
fn token(tag: &str) -> Secret {
    Secret::new(format!("{tag}-{}", "0123456789abcdef".repeat(3)))
}

fn a(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

async fn open(f: &Fixture, agent: &str, tok: &Secret) -> SessionRecord {
    let tenant = f.actor(static_name(agent)).tenant;
    (f.inbox
        .open_session(&tenant, &a(agent), tok, HOUR, Some("Firefox\u{7}/128")))
    .await
    .unwrap()
}

/// The fixture's agents by name, as the `'static` strings `Fixture::actor`
/// takes.
fn static_name(agent: &str) -> &'static str {
    ["ana", "ben", "cy", "sam", "ada", "gus"]
        .into_iter()
        .find(|n| *n == agent)
        .unwrap()
}

fn unauthenticated(r: Result<Actor, Error>) {
    match r {
        Err(Error::Unauthenticated) => {}
        other => panic!("expected unauthenticated, got {other:?}"),
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    r.unwrap_err().code()
}

/// `"ok"`, or the error's code.
fn outcome<T>(r: Result<T, Error>) -> &'static str {
    r.map_or_else(|e| e.code(), |_| "ok")
}

/// A session opened on one instance works on another over the same store
/// (a restart); it expires by the inbox's clock; its use is recorded at
/// most once a minute; signing out ends it everywhere; expired ones are
/// purged.
pub(crate) async fn sessions_survive_restarts_and_expire_by_the_clock<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let (ana, ana_id) = (f.actor("ana"), a("ana"));
    let tok = token("ana");
    let s = open(&f, "ana", &tok).await;
    assert_eq!(s.expires_at, Fixture::start() + TimeDelta::hours(1));
    assert_eq!(s.user_agent.as_deref(), Some("Firefox/128"));
    assert_eq!(
        f.inbox.session_actor(tok.expose()).await.unwrap(),
        f.actor("ana")
    );
    let g = Fixture::instance(f.store.clone(), InboxConfig::default(), "b");
    assert_eq!(
        g.inbox.session_actor(tok.expose()).await.unwrap(),
        f.actor("ana")
    );
    // Used: recorded once, then not again within the minute.
    let seen = |s: Vec<SessionRecord>| s[0].last_seen_at;
    let mine = || f.inbox.sessions(&ana, Some(&ana_id));
    assert_eq!(seen(mine().await.unwrap()), Some(Fixture::start()));
    f.advance(TimeDelta::seconds(30));
    f.inbox.session_actor(tok.expose()).await.unwrap();
    assert_eq!(seen(mine().await.unwrap()), Some(Fixture::start()));
    f.advance(TimeDelta::seconds(30));
    f.inbox.session_actor(tok.expose()).await.unwrap();
    assert_eq!(seen(mine().await.unwrap()), Some(f.inbox.now()));
    // Expired by each inbox's own clock.
    f.advance(TimeDelta::minutes(59));
    unauthenticated(f.inbox.session_actor(tok.expose()).await);
    g.advance(TimeDelta::minutes(59));
    assert!(g.inbox.session_actor(tok.expose()).await.is_ok());
    g.advance(TimeDelta::minutes(1));
    unauthenticated(g.inbox.session_actor(tok.expose()).await);
    assert_eq!(f.inbox.purge_sessions().await.unwrap(), 1);
    assert!(f.store.sessions(&f.acme(), None).await.unwrap().is_empty());
    // Signing out on one instance ends the session on the other.
    let tok = token("ben");
    open(&f, "ben", &tok).await;
    g.inbox.session_actor(tok.expose()).await.unwrap();
    f.inbox.sign_out(tok.expose()).await.unwrap();
    unauthenticated(g.inbox.session_actor(tok.expose()).await);
    f.inbox.sign_out(tok.expose()).await.unwrap();
    unauthenticated(f.inbox.session_actor("never-issued").await);
}

/// Signing out of the last live session sets the agent offline; with
/// another live session (another device) their presence stays; an expired
/// session does not count as live.
pub(crate) async fn signing_out_of_the_last_session_goes_offline<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let presence = |agent: &'static str| {
        let (store, acme) = (f.store.clone(), f.acme());
        async move { store.agent(&acme, &a(agent)).await.unwrap().presence }
    };
    for agent in ["ana", "ben", "cy"] {
        online(&f, agent).await;
    }
    let (laptop, phone) = (token("ana-laptop"), token("ana-phone"));
    open(&f, "ana", &laptop).await;
    open(&f, "ana", &phone).await;
    f.inbox.sign_out(laptop.expose()).await.unwrap();
    assert_eq!(presence("ana").await, Presence::Online, "the phone is on");
    f.inbox.sign_out(phone.expose()).await.unwrap();
    assert_eq!(presence("ana").await, Presence::Offline);
    // Ben's earlier session has expired: it does not keep him online.
    let (old, new) = (token("ben-old"), token("ben-new"));
    open(&f, "ben", &old).await;
    f.advance(TimeDelta::minutes(61));
    open(&f, "ben", &new).await;
    f.inbox.sign_out(new.expose()).await.unwrap();
    assert_eq!(presence("ben").await, Presence::Offline);
    // A token nobody was given ends nothing and sets no one offline.
    f.inbox.sign_out(token("cy").expose()).await.unwrap();
    assert_eq!(presence("cy").await, Presence::Online);
}

/// Who may sign in, and with what: deactivated agents and service
/// accounts not; tokens too short refused; a deactivated agent's sessions
/// refused; a password change ends the agent's other sessions.
pub(crate) async fn passwords_change_and_end_other_sessions<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let (acme, ana) = (f.acme(), a("ana"));
    f.inbox
        .provision_password(&acme, &ana, Some(PHC))
        .await
        .unwrap();
    let hash = f.inbox.password_hash(&acme, &ana).await.unwrap().unwrap();
    assert_eq!(hash.expose(), PHC);
    for (tenant, agent) in [
        (acme.clone(), "nobody"),
        (t("globex"), "ana"),
        (acme.clone(), "ben"),
    ] {
        assert_eq!(
            f.inbox.password_hash(&tenant, &a(agent)).await.unwrap(),
            None
        );
    }
    let bad = f
        .inbox
        .provision_password(&acme, &ana, Some("hunter2"))
        .await;
    assert_eq!(code(bad), "invalid_input");
    let short = f
        .inbox
        .open_session(&acme, &ana, &Secret::new("abc"), HOUR, None)
        .await;
    assert_eq!(code(short), "invalid_input");
    // ana changes her own password from session 1: session 2 ends.
    let (t1, t2) = (token("ana-1"), token("ana-2"));
    open(&f, "ana", &t1).await;
    open(&f, "ana", &t2).await;
    let ended = f
        .inbox
        .set_password(
            &f.actor("ana"),
            &ana,
            Some("$argon2id$new"),
            Some(t1.expose()),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);
    f.inbox.session_actor(t1.expose()).await.unwrap();
    unauthenticated(f.inbox.session_actor(t2.expose()).await);
    let hash = f.inbox.password_hash(&acme, &ana).await.unwrap().unwrap();
    assert_eq!(hash.expose(), "$argon2id$new");
    // The admin resets it: every session of hers ends.
    let ended = f
        .inbox
        .set_password(&f.actor("ada"), &ana, Some(PHC), None)
        .await;
    assert_eq!(ended.unwrap(), 1);
    unauthenticated(f.inbox.session_actor(t1.expose()).await);
    // Provisioning again at a restart signs nobody out.
    let t3 = token("ana-3");
    open(&f, "ana", &t3).await;
    f.inbox
        .provision_password(&acme, &ana, Some(PHC))
        .await
        .unwrap();
    f.inbox.session_actor(t3.expose()).await.unwrap();
    // Deactivated: refused at once, and no new session or password check.
    let me = f.store.agent(&acme, &ana).await.unwrap();
    f.inbox
        .provision_agent(&Agent {
            active: false,
            ..me
        })
        .await
        .unwrap();
    unauthenticated(f.inbox.session_actor(t3.expose()).await);
    assert_eq!(f.inbox.password_hash(&acme, &ana).await.unwrap(), None);
    let again = f
        .inbox
        .open_session(&acme, &ana, &token("ana-4"), HOUR, None)
        .await;
    assert_eq!(code(again), "invalid_input");
}

/// An API key is a service account with its role: shown once, checked by
/// its secret, its use recorded, never offered or assigned conversations,
/// left out of the live snapshot, refused at once when revoked.
pub(crate) async fn api_keys_act_as_service_accounts<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let ada = f.actor("ada");
    let secret = token("zapier");
    let made = f
        .inbox
        .create_api_key(&ada, "Zapier", Role::Supervisor, &secret)
        .await
        .unwrap();
    let NewApiKey { record, key } = made;
    let id = record.id.clone();
    assert!(
        id.as_str().starts_with("key_") && id.as_str().len() == 16,
        "{id}"
    );
    assert_eq!(key.expose(), format!("ik_{id}_{}", secret.expose()));
    assert_eq!(
        (record.role, record.created_by.clone()),
        (Role::Supervisor, Some(a("ada")))
    );
    let twice = f
        .inbox
        .create_api_key(&ada, "Again", Role::Agent, &secret)
        .await;
    assert_eq!(code(twice), "duplicate");
    // It acts as its service agent, with its role.
    let actor = f.inbox.api_key_actor(key.expose()).await.unwrap();
    assert_eq!(actor, Actor::new(f.acme(), id.agent()));
    let me = f.inbox.me(&actor).await.unwrap();
    assert!(
        me.service && me.active && me.role == Role::Supervisor,
        "{me:?}"
    );
    assert_eq!(code(f.inbox.api_keys(&actor).await), "forbidden");
    f.inbox
        .live_snapshot(&actor, LiveQuery::at(f.inbox.now()))
        .await
        .unwrap();
    let listed = f.inbox.api_keys(&ada).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(f.inbox.now()));
    // A wrong secret, another form, another id: refused alike.
    let wrong = format!("ik_{id}_{}", token("other").expose());
    for presented in [
        wrong.as_str(),
        "ik_",
        "Bearer x",
        &key.expose()[1..],
        "ik_key_000000000000_abc",
    ] {
        unauthenticated(f.inbox.api_key_actor(presented).await);
    }
    // Never offered work: not assignable, not in the snapshot, even online.
    f.inbox
        .set_presence(&actor, Presence::Online)
        .await
        .unwrap();
    let (c, _) = f
        .customer_says("1001", "w1", "34600000001", "hola")
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    let to = Assignee::Agent(id.agent());
    let assigned = f.inbox.assign(&f.actor("sam"), &c, v, to, "try").await;
    assert_eq!(code(assigned), "invalid_input");
    let snapshot = (f.inbox.live_snapshot(&ada, LiveQuery::at(f.inbox.now())))
        .await
        .unwrap();
    assert!(
        snapshot.agents.iter().all(|l| l.agent != id.agent()),
        "{snapshot:?}"
    );
    let pw = f
        .inbox
        .set_password(&ada, &id.agent(), Some(PHC), None)
        .await;
    assert_eq!(code(pw), "invalid_input");
    let session = f
        .inbox
        .open_session(&f.acme(), &id.agent(), &token("s"), HOUR, None)
        .await;
    assert_eq!(code(session), "invalid_input");
    // Revoked: refused at once, on every instance; its actor can do nothing.
    let revoked = f.inbox.revoke_api_key(&ada, &id).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(f.inbox.now()));
    unauthenticated(f.inbox.api_key_actor(key.expose()).await);
    let g = Fixture::instance(f.store.clone(), InboxConfig::default(), "b");
    unauthenticated(g.inbox.api_key_actor(key.expose()).await);
    assert_eq!(code(f.inbox.me(&actor).await), "forbidden");
    let again = f.inbox.revoke_api_key(&ada, &id).await.unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at);
}

/// Others' sessions and passwords and every API key operation are the
/// admin's; every agent may list and end their own sessions and change
/// their own password. Refusals change nothing.
pub(crate) async fn access_follows_the_role_matrix<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let cy_token = token("cy");
    let cy_session = open(&f, "cy", &cy_token).await;
    let made = (f
        .inbox
        .create_api_key(&f.actor("ada"), "CRM", Role::Agent, &token("crm")))
    .await
    .unwrap();
    let key = made.record.id;
    for (name, admin) in [("ana", false), ("sam", false), ("ada", true)] {
        let me = f.actor(name);
        let own = token(name);
        open(&f, name, &own).await;
        assert_eq!(
            f.inbox.sessions(&me, Some(&me.agent)).await.unwrap().len(),
            1
        );
        let k = token(&format!("k-{name}"));
        let others = [
            outcome(f.inbox.sessions(&me, None).await),
            outcome(f.inbox.sessions(&me, Some(&a("cy"))).await),
            outcome(f.inbox.revoke_session(&me, &cy_session.token_hash).await),
            outcome(f.inbox.set_password(&me, &a("cy"), Some(PHC), None).await),
            outcome(f.inbox.api_keys(&me).await),
            outcome(f.inbox.revoke_api_key(&me, &key).await),
            outcome(f.inbox.create_api_key(&me, "x", Role::Agent, &k).await),
            outcome(f.inbox.revoke_sessions(&me, &a("cy")).await),
        ];
        if admin {
            assert_eq!(others, ["ok"; 8], "{name}");
            unauthenticated(f.inbox.session_actor(cy_token.expose()).await);
            unauthenticated(f.inbox.api_key_actor(made.key.expose()).await);
        } else {
            assert_eq!(others, ["forbidden"; 8], "{name}");
            // Nothing changed.
            f.inbox.session_actor(cy_token.expose()).await.unwrap();
            f.inbox.api_key_actor(made.key.expose()).await.unwrap();
            assert_eq!(f.store.api_keys(&f.acme()).await.unwrap().len(), 1);
        }
        // Their own: always.
        f.inbox
            .set_password(&me, &me.agent, Some(PHC), Some(own.expose()))
            .await
            .unwrap();
        assert_eq!(f.inbox.revoke_sessions(&me, &me.agent).await.unwrap(), 1);
        unauthenticated(f.inbox.session_actor(own.expose()).await);
    }
}

/// Another tenant's sessions, agents and keys are not found; lists hold
/// the tenant's own only; a token or key works in its own tenant only.
pub(crate) async fn access_is_scoped_by_tenant<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let (ada, gus) = (f.actor("ada"), f.actor("gus"));
    let ana_token = token("ana");
    let ana_session = open(&f, "ana", &ana_token).await;
    open(&f, "gus", &token("gus")).await;
    let acme_key = f
        .inbox
        .create_api_key(&ada, "A", Role::Admin, &token("acme-key"))
        .await
        .unwrap();
    let globex_key = f
        .inbox
        .create_api_key(&gus, "G", Role::Agent, &token("globex-key"))
        .await
        .unwrap();
    let not_found = |r: Result<(), Error>| assert_eq!(code(r), "not_found");
    not_found(f.inbox.revoke_session(&gus, &ana_session.token_hash).await);
    not_found(f.inbox.revoke_sessions(&gus, &a("ana")).await.map(|_| ()));
    not_found(
        f.inbox
            .set_password(&gus, &a("ana"), Some(PHC), None)
            .await
            .map(|_| ()),
    );
    not_found(
        f.inbox
            .revoke_api_key(&gus, &acme_key.record.id)
            .await
            .map(|_| ()),
    );
    assert!(f
        .inbox
        .sessions(&gus, Some(&a("ana")))
        .await
        .unwrap()
        .is_empty());
    let theirs = f.inbox.sessions(&gus, None).await.unwrap();
    assert!(theirs.iter().all(|s| s.tenant == t("globex")) && theirs.len() == 1);
    let keys = f.inbox.api_keys(&gus).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| &k.id).collect::<Vec<_>>(),
        [&globex_key.record.id]
    );
    // Each credential names its own tenant's actor, and nothing changed.
    assert_eq!(
        f.inbox
            .session_actor(ana_token.expose())
            .await
            .unwrap()
            .tenant,
        f.acme()
    );
    let actor = f.inbox.api_key_actor(acme_key.key.expose()).await.unwrap();
    assert_eq!(actor.tenant, f.acme());
    let actor = f
        .inbox
        .api_key_actor(globex_key.key.expose())
        .await
        .unwrap();
    assert_eq!(actor.tenant, t("globex"));
    // An acme admin key cannot reach globex's keys.
    let acme_admin = f.inbox.api_key_actor(acme_key.key.expose()).await.unwrap();
    not_found(
        f.inbox
            .revoke_api_key(&acme_admin, &globex_key.record.id)
            .await
            .map(|_| ()),
    );
}

/// Tokens, key secrets and their hashes never show in `Debug` (records,
/// the new key, errors).
pub(crate) async fn secrets_never_show_in_debug<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let tok = token("ana");
    let session = open(&f, "ana", &tok).await;
    let secret = token("key");
    let made = (f
        .inbox
        .create_api_key(&f.actor("ada"), "K", Role::Agent, &secret))
    .await
    .unwrap();
    f.inbox
        .provision_password(&f.acme(), &a("ana"), Some(PHC))
        .await
        .unwrap();
    let hash = f.inbox.password_hash(&f.acme(), &a("ana")).await.unwrap();
    let listed = f.inbox.sessions(&f.actor("ada"), None).await.unwrap();
    let keys = f.inbox.api_keys(&f.actor("ada")).await.unwrap();
    let err = f
        .inbox
        .session_actor(tok.expose().get(1..).unwrap())
        .await
        .unwrap_err();
    let printed = format!("{session:?} {made:?} {hash:?} {listed:?} {keys:?} {err:?} {err}");
    let hidden = [
        tok.expose().to_string(),
        secret.expose().to_string(),
        made.key.expose().to_string(),
        session.token_hash.to_hex(),
        made.record.key_hash.to_hex(),
        PHC.to_string(),
    ];
    for h in hidden {
        assert!(!printed.contains(&h), "{h} shows in {printed}");
    }
    assert!(
        printed.contains(made.record.id.as_str()),
        "the public id shows"
    );
    // Serialised for an API, a key shows no hash; a session's id is its hash.
    let json = serde_json::to_string(&made.record).unwrap();
    assert!(!json.contains(&made.record.key_hash.to_hex()) && !json.contains(secret.expose()));
    let json = serde_json::to_value(&session).unwrap();
    assert_eq!(json["id"], session.token_hash.to_hex());
    assert!(!json.to_string().contains(tok.expose()));
}

/// A tenant's own secrets (connectors' credentials): admins store and
/// remove them, supervisors see which are set, agents neither; each tenant
/// sees its own only; a bad name is refused and stores nothing.
pub(crate) async fn tenant_secrets_follow_roles_and_tenants<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let sealed = SealedSecret {
        key_id: "k1".into(),
        sealed: vec![1, 2, 3],
    };
    let (ada, sam, ana, gus) = (
        f.actor("ada"),
        f.actor("sam"),
        f.actor("ana"),
        f.actor("gus"),
    );
    for who in [&sam, &ana] {
        let refused = f
            .inbox
            .put_tenant_secret(who, "hubspot.token", Some(&sealed))
            .await;
        assert_eq!(code(refused), "forbidden", "{who:?}");
    }
    f.inbox
        .put_tenant_secret(&ada, "hubspot.token", Some(&sealed))
        .await
        .unwrap();
    for bad in ["", "HubSpot.Token", "a/b", &"x".repeat(65)] {
        let refused = f.inbox.put_tenant_secret(&ada, bad, Some(&sealed)).await;
        assert_eq!(code(refused), "invalid_input", "{bad:?}");
    }
    assert_eq!(
        f.inbox.tenant_secret_names(&sam).await.unwrap(),
        ["hubspot.token"]
    );
    assert_eq!(
        code(f.inbox.tenant_secret_names(&ana).await.map(|_| ())),
        "forbidden"
    );
    assert!(f.inbox.tenant_secret_names(&gus).await.unwrap().is_empty());
    // Globex's admin removing "the same" name removes globex's, not acme's.
    f.inbox
        .put_tenant_secret(&gus, "hubspot.token", None)
        .await
        .unwrap();
    assert_eq!(
        f.inbox.tenant_secret_names(&ada).await.unwrap(),
        ["hubspot.token"]
    );
    f.inbox
        .put_tenant_secret(&ada, "hubspot.token", None)
        .await
        .unwrap();
    assert!(f.inbox.tenant_secret_names(&ada).await.unwrap().is_empty());
}
