//! Views and search through the inbox, limited to what each agent may see.

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
