//! Views and search through the inbox, limited to what each agent may see.

use crate::search::{SearchField, SearchMatch};
use crate::testing::conformance::support::*;

/// Views: mine, unassigned, team, all, each limited to what the agent may
/// see, with cursor pagination.
pub(crate) async fn views_respect_visibility<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let mut convs = Vec::new();
    for i in 0..9 {
        let c = nth_says(&f, i, "3469600000", "hi").await;
        f.advance(TimeDelta::minutes(1));
        convs.push(c);
    }
    let team_of = |i: usize| {
        if i < 3 {
            "sales"
        } else if i < 6 {
            "support"
        } else {
            "none"
        }
    };
    let sam = f.actor("sam");
    for (i, c) in convs.iter().enumerate() {
        if team_of(i) != "none" {
            let v = f.version(c).await.unwrap();
            let routed = f.inbox.assign(&sam, c, v, team(team_of(i)), "route");
            routed.await.unwrap();
        }
    }
    let ana = f.actor("ana");
    let v = f.version(&convs[0]).await.unwrap();
    f.inbox.claim(&ana, &convs[0], v).await.unwrap();
    let list = |actor: &'static str, view: View| {
        let (inbox, actor) = (f.inbox.clone(), f.actor(actor));
        async move { inbox.list(&actor, &ViewQuery::new(view)).await }
    };
    let ids = |p: crate::query::Page<Conversation>| {
        let ids = p.items.into_iter().map(|c| c.id);
        ids.collect::<BTreeSet<_>>()
    };
    let mine = list("ana", View::Mine).await.unwrap();
    assert_eq!(ids(mine), BTreeSet::from([convs[0].clone()]));
    let unassigned = list("ana", View::Unassigned).await.unwrap();
    let expected: BTreeSet<_> = [1, 2, 6, 7, 8].iter().map(|&i| convs[i].clone()).collect();
    assert_eq!(ids(unassigned), expected);
    let all = list("ana", View::All).await.unwrap();
    let why = "ana sees sales and unrouted, not support";
    assert_eq!(all.items.len(), 6, "{why}");
    let support = list("ana", View::Team(id("support"))).await;
    assert_eq!(refused(support), "forbidden");
    assert_eq!(list("sam", View::All).await.unwrap().items.len(), 9);
    assert!(list("gus", View::All).await.unwrap().items.is_empty());
    // The counts of each view are what it lists.
    let counts = f
        .inbox
        .view_counts(&ana, &ViewQuery::new(View::All))
        .await
        .unwrap();
    let teams = BTreeMap::from([(id("sales"), 3)]);
    assert_eq!(
        (counts.mine, counts.unassigned, counts.all, &counts.teams),
        (1, 5, 6, &teams),
        "{why}"
    );
    let tagged = ViewQuery {
        tag: Some("vip".into()),
        ..ViewQuery::new(View::Team(id("support")))
    };
    let sam_counts = f.inbox.view_counts(&sam, &tagged).await.unwrap();
    assert_eq!(
        (sam_counts.all, sam_counts.teams.get(&id("support"))),
        (0, Some(&0))
    );
    let sam_counts = f
        .inbox
        .view_counts(&sam, &ViewQuery::new(View::All))
        .await
        .unwrap();
    let every_team: Vec<_> = sam_counts
        .teams
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        every_team,
        vec![(id("sales"), 3), (id("support"), 3)],
        "sam sees every team"
    );
    let forbidden = f
        .inbox
        .view_counts(&ana, &ViewQuery::new(View::Team(id("support"))))
        .await;
    assert_eq!(refused(forbidden), "forbidden");
    // Pages of 2, latest activity first, cover everything once.
    let seen = every_page(|after| {
        let (inbox, sam) = (f.inbox.clone(), sam.clone());
        let q = ViewQuery::new(View::All).limit(2).after(after);
        async move {
            let page = inbox.list(&sam, &q).await.unwrap();
            (page.items.into_iter().map(|c| c.id).collect(), page.next)
        }
    });
    let mut expected_order = convs.clone();
    expected_order.reverse();
    assert_eq!(seen.await, expected_order);
}

/// A contact's history spans conversations and numbers.
pub(crate) async fn contact_history_spans_channels<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let (f, c1) = opened(store, "34697000000", "buy").await;
    let ana = f.actor("ana");
    let resolved = f
        .inbox
        .set_status(&ana, &c1, 1, ConversationStatus::Resolved);
    resolved.await.unwrap();
    f.advance(TimeDelta::days(30));
    let c2 = says(&f, "1001", "w2", "34697000000", "buy again").await;
    let c3 = says(&f, "1002", "w3", "34697000000", "broken").await;
    assert!(c1 != c2 && c2 != c3);
    let contact = stored(&f, &c1).await.contact;
    let d = f.inbox.contact(&f.actor("sam"), &contact).await.unwrap();
    let ids: Vec<ConversationId> = d.conversations.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&c1) && ids.contains(&c2) && ids.contains(&c3));
    let gus = f.actor("gus");
    assert_eq!(refused(f.inbox.contact(&gus, &contact).await), "not_found");
}

/// Search finds message and note words (the last one as a prefix), contact
/// names and numbers; each agent only within what they may see; never
/// across tenants.
pub(crate) async fn search_finds_words_names_and_numbers_within_visibility<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let mut opened = Vec::new();
    for (i, (pnid, wa, name, text)) in [
        (
            "1001",
            "34611000001",
            "Marta Ruiz",
            "My order #1042 hasn't arrived",
        ),
        ("1001", "34622000002", "Jon", "Do you ship to Portugal?"),
        ("1002", "34633000003", "Kim", "Refund please, 100% broken"),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            f.advance(TimeDelta::minutes(1));
        }
        let mut m = f.inbound(pnid, &format!("w{}", i + 1), wa, Content::text(text));
        m.profile_name = Some(name.to_string());
        opened.push(ingested(&f, InboundEvent::Message(m)).await);
    }
    let [marta, jon, kim]: [ConversationId; 3] = opened.try_into().unwrap();
    let lost = "Courier says the parcel is lost";
    f.inbox
        .note(&f.actor("ana"), &marta, 1, lost, "n1")
        .await
        .unwrap();
    for (c, v, to, why) in [
        (&kim, 1, "support", "refunds"),
        (&marta, 2, "sales", "orders"),
    ] {
        f.inbox
            .assign(&f.actor("sam"), c, v, team(to), why)
            .await
            .unwrap();
    }
    let all = ViewQuery::new(View::All);
    let search = |actor: &'static str, text: &'static str, q: ViewQuery| {
        let (inbox, actor) = (f.inbox.clone(), f.actor(actor));
        async move { inbox.search(&actor, text, &q).await.unwrap().items }
    };
    let found = |actor: &'static str, text: &'static str| {
        let hits = search(actor, text, all.clone());
        async move {
            hits.await
                .into_iter()
                .map(|h| h.conversation.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("sam", "order 1042").await, vec![marta.clone()]);
    let prefix = "the last word matches as a prefix";
    assert_eq!(found("sam", "ORD").await, vec![marta.clone()], "{prefix}");
    let whole = "other words match whole";
    assert!(found("sam", "ord 1042").await.is_empty(), "{whole}");
    assert_eq!(found("sam", "portugal").await, vec![jon.clone()]);
    let notes = "notes are searched";
    assert_eq!(
        found("sam", "courier lost").await,
        vec![marta.clone()],
        "{notes}"
    );
    let names = "contact names";
    assert_eq!(
        found("sam", "marta ruiz").await,
        vec![marta.clone()],
        "{names}"
    );
    let digits = "digits anywhere in the number";
    assert_eq!(found("sam", "2200").await, vec![jon.clone()], "{digits}");
    assert_eq!(found("sam", "+34 611").await, vec![marta.clone()]);
    // The hit carries the most recent matching message.
    let hit = search("sam", "lost", all.clone()).await.remove(0);
    assert!(hit.message.as_ref().is_some_and(|m| m.is_note()));
    assert!(!hit.contact_matched);
    let by_name = search("sam", "kim", all.clone()).await.remove(0);
    assert!(by_name.contact_matched && by_name.message.is_none());
    // Visibility: Ana (sales) does not find the support conversation; Cy
    // (support) does not find sales'; other tenants find nothing.
    assert_eq!(found("sam", "refund").await, vec![kim.clone()]);
    assert!(found("ana", "refund").await.is_empty());
    assert_eq!(found("cy", "refund").await, vec![kim.clone()]);
    assert!(found("cy", "1042").await.is_empty());
    assert!(found("gus", "order").await.is_empty());
    // Views narrow the search.
    let mine = search("sam", "order", ViewQuery::new(View::Mine)).await;
    assert!(mine.is_empty());
}

/// Search pages by cursor in latest-activity order, and treats SQL, regex
/// and tsquery metacharacters as separators, never as operators.
pub(crate) async fn search_pages_and_never_interprets_operators<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let mut convs = Vec::new();
    for i in 0..7 {
        let text = format!("hello there, ticket {i}");
        let c = nth_says(&f, i, "3464400000", &text).await;
        f.advance(TimeDelta::minutes(1));
        convs.push(c);
    }
    let odd = "50% off? (really) [yes] .* a|b & c zq:* !x 'quote' \\ ; DROP TABLE x; --";
    let odd = says(&f, "1001", "wx", "34655500000", odd).await;
    let sam = f.actor("sam");
    let seen = every_page(|after| {
        let (inbox, sam) = (f.inbox.clone(), sam.clone());
        let q = ViewQuery::new(View::All).limit(3).after(after);
        async move {
            let page = inbox.search(&sam, "hello", &q).await.unwrap();
            assert!(page.items.len() <= 3);
            (
                page.items.into_iter().map(|h| h.conversation.id).collect(),
                page.next,
            )
        }
    });
    convs.reverse();
    assert_eq!(seen.await, convs);
    let q = ViewQuery::new(View::All);
    for text in [
        "50%",
        "(really)",
        "[yes]",
        "a|b",
        "zq:*",
        "'quote'",
        "DROP TABLE",
        "b & c",
    ] {
        let hits = f.inbox.search(&sam, text, &q).await.unwrap();
        let ids: Vec<_> = hits
            .items
            .iter()
            .map(|h| h.conversation.id.clone())
            .collect();
        assert_eq!(ids, vec![odd.clone()], "{text:?}");
    }
    for text in ["' OR 1=1 --", "%", ".*", "_", "\\"] {
        match f.inbox.search(&sam, text, &q).await {
            Ok(page) => assert!(page.items.is_empty(), "{text:?} matched {:?}", page.items),
            Err(e) => assert_eq!(e.code(), "invalid_input", "{text:?}: {e}"),
        }
    }
    assert_eq!(
        refused(f.inbox.search(&sam, "  ", &q).await),
        "invalid_input"
    );
}

/// What `text` finds for Sam (who sees everything) in `q`: the hits.
async fn hits_for(f: &Fixture, text: &str, q: &ViewQuery) -> Vec<crate::search::SearchHit> {
    f.inbox
        .search(&f.actor("sam"), text, q)
        .await
        .unwrap()
        .items
}

/// The conversations `text` finds for Sam in `q`, latest first.
async fn found_in(f: &Fixture, text: &str, q: &ViewQuery) -> Vec<ConversationId> {
    let hits = hits_for(f, text, q).await;
    hits.into_iter().map(|h| h.conversation.id).collect()
}

/// A highlight: `field` (and `key`) with `words`.
fn matched(field: SearchField, key: Option<&str>, words: &[&str]) -> SearchMatch {
    SearchMatch {
        field,
        key: key.map(String::from),
        words: words.iter().map(|w| w.to_string()).collect(),
    }
}

/// Search ignores case and accents, either way round, in messages and
/// contact names, and says which words matched as they are written.
pub(crate) async fn search_ignores_case_and_accents<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let mut opened = Vec::new();
    for (i, (wa, name, text)) in [
        ("34611100001", "João Silva", "Olá, meu telefone mudou"),
        ("34611100002", "Inés", "¿Cuál es el teléfono de la tienda?"),
        ("34611100003", "MARTIN MULLER", "Ich wohne in München"),
        ("34611100004", "Zoë", "JOAO told me to write"),
    ]
    .into_iter()
    .enumerate()
    {
        f.advance(TimeDelta::minutes(1));
        let mut m = f.inbound("1001", &format!("a{i}"), wa, Content::text(text));
        m.profile_name = Some(name.to_string());
        opened.push(ingested(&f, InboundEvent::Message(m)).await);
    }
    let [joao, ines, martin, zoe]: [ConversationId; 4] = opened.try_into().unwrap();
    let all = ViewQuery::new(View::All);
    for text in ["joao", "João", "JOÃO", "jOãO"] {
        let want = vec![zoe.clone(), joao.clone()];
        assert_eq!(found_in(&f, text, &all).await, want, "{text:?}");
    }
    assert_eq!(found_in(&f, "telefono", &all).await, vec![ines.clone()]);
    assert_eq!(found_in(&f, "TELÉFONO", &all).await, vec![ines.clone()]);
    let typing = "the last word as a prefix, accents aside";
    let both = vec![ines.clone(), joao.clone()];
    assert_eq!(found_in(&f, "télef", &all).await, both, "{typing}");
    assert_eq!(found_in(&f, "MUNCHEN", &all).await, vec![martin.clone()]);
    assert_eq!(found_in(&f, "müller", &all).await, vec![martin.clone()]);
    assert_eq!(found_in(&f, "zoe", &all).await, vec![zoe.clone()]);
    assert_eq!(found_in(&f, "ines", &all).await, vec![ines.clone()]);
    // What matched, as written.
    let hits = hits_for(&f, "joao", &all).await;
    assert_eq!(
        hits[0].matches,
        [matched(SearchField::Message, None, &["JOAO"])]
    );
    assert!(!hits[0].contact_matched);
    assert_eq!(
        hits[1].matches,
        [matched(SearchField::ContactName, None, &["João"])]
    );
    assert!(hits[1].contact_matched && hits[1].message.is_none());
    let hits = hits_for(&f, "telef", &all).await;
    assert_eq!(
        hits[0].matches,
        [matched(SearchField::Message, None, &["teléfono"])]
    );
    assert_eq!(
        hits[1].matches,
        [matched(SearchField::Message, None, &["telefone"])]
    );
}

/// Search covers a contact's display name, tags and attribute values
/// (not their names), its user id, and the conversation's tags, each with
/// its highlight; and resolved conversations when the statuses ask for
/// them.
pub(crate) async fn search_covers_tags_attributes_user_ids_and_resolved<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let sam = f.actor("sam");
    let bowl = says(&f, "1001", "b1", "34622200001", "hello").await;
    let k = stored(&f, &bowl).await.contact;
    let update = crate::inbox::ContactUpdate {
        add_tags: vec!["VIP".into()],
        attributes: [("city", "São Paulo"), ("crm", "ACME-77")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        display_name: Some("Açaí Bowl Co".into()),
        ..Default::default()
    };
    let v = f.store.contact(&f.acme(), &k).await.unwrap().version;
    f.inbox.update_contact(&sam, &k, v, update).await.unwrap();
    f.advance(TimeDelta::minutes(1));
    let bsuid = "US.13491208655302741918";
    let mut m = f.inbound("1001", "b2", "x", Content::text("hi there"));
    m.from = ContactIdentity::user(bsuid);
    let hidden = ingested(&f, InboundEvent::Message(m)).await;
    let v = f.version(&hidden).await.unwrap();
    let tags = ["devolução-pendente", "urgent"];
    f.inbox.tag(&sam, &hidden, v, &tags, &[]).await.unwrap();
    f.advance(TimeDelta::minutes(1));
    let parcel = says(&f, "1002", "b3", "34622200003", "my parcel never came").await;
    set_status_now(&f, &sam, &parcel, ConversationStatus::Resolved).await;

    let all = ViewQuery::new(View::All);
    let hits = hits_for(&f, "sao paulo", &all).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].conversation.id, bowl);
    assert!(hits[0].contact_matched && hits[0].message.is_none());
    let city = matched(SearchField::Attribute, Some("city"), &["São", "Paulo"]);
    assert_eq!(hits[0].matches, [city]);
    let crm = matched(SearchField::Attribute, Some("crm"), &["ACME", "77"]);
    assert_eq!(hits_for(&f, "acme 77", &all).await[0].matches, [crm]);
    let name = matched(SearchField::ContactName, None, &["Açaí"]);
    assert_eq!(hits_for(&f, "acai", &all).await[0].matches, [name]);
    let tag = matched(SearchField::Tag, None, &["vip"]);
    assert_eq!(hits_for(&f, "vip", &all).await[0].matches, [tag]);
    let together = "a contact's fields are taken together";
    assert_eq!(
        found_in(&f, "vip sao", &all).await,
        vec![bowl.clone()],
        "{together}"
    );
    let names = "attribute names are not searched";
    assert!(found_in(&f, "city", &all).await.is_empty(), "{names}");

    let hits = hits_for(&f, "devolucao", &all).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].conversation.id, hidden);
    assert!(!hits[0].contact_matched && hits[0].message.is_none());
    let tag = matched(SearchField::Tag, None, &["devolução-pendente"]);
    assert_eq!(hits[0].matches, [tag]);
    let tagged = "a conversation's tags are taken together";
    assert_eq!(
        found_in(&f, "urgent pend", &all).await,
        vec![hidden.clone()],
        "{tagged}"
    );
    let hits = hits_for(&f, &format!("  {bsuid} "), &all).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].conversation.id, hidden);
    assert_eq!(
        hits[0].matches,
        [matched(SearchField::UserId, None, &[bsuid])]
    );
    let hits = hits_for(&f, "+34 622 2000", &all).await;
    let number = matched(SearchField::Number, None, &["346222000"]);
    assert_eq!(hits[0].conversation.id, bowl);
    assert_eq!(hits[0].matches, [number]);

    // Resolved conversations: found when the statuses include them.
    assert!(found_in(&f, "parcel", &all).await.is_empty());
    let every = [
        ConversationStatus::Open,
        ConversationStatus::Pending,
        ConversationStatus::Snoozed,
        ConversationStatus::Resolved,
    ];
    for q in [all.clone().statuses(&every), all.clone().statuses(&[])] {
        assert_eq!(found_in(&f, "parcel", &q).await, vec![parcel.clone()]);
        let by_number = found_in(&f, "22200003", &q).await;
        assert_eq!(by_number, vec![parcel.clone()]);
        let latest_first = vec![parcel.clone(), hidden.clone(), bowl.clone()];
        assert_eq!(found_in(&f, "customer", &q).await, latest_first);
    }
    let resolved = all.clone().statuses(&[ConversationStatus::Resolved]);
    assert_eq!(
        found_in(&f, "parcel", &resolved).await,
        vec![parcel.clone()]
    );
    assert!(found_in(&f, "vip", &resolved).await.is_empty());
}
