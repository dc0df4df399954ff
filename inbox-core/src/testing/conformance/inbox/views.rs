//! Views and search through the inbox, limited to what each agent may see.

use crate::testing::conformance::support::*;

/// Views: mine, unassigned, team, all, each limited to what the agent may
/// see, with cursor pagination.
pub(crate) async fn views_respect_visibility<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let mut convs = Vec::new();
    for i in 0..9 {
        let c = says(
            &f,
            "1001",
            &format!("w{i}"),
            &format!("3469600000{i}"),
            "hi",
        )
        .await;
        f.advance(TimeDelta::minutes(1));
        convs.push(c);
    }
    let team = |i: usize| {
        if i < 3 {
            "sales"
        } else if i < 6 {
            "support"
        } else {
            "none"
        }
    };
    for (i, c) in convs.iter().enumerate() {
        if team(i) != "none" {
            let v = f.version(c).await.unwrap();
            f.inbox
                .assign(
                    &f.actor("sam"),
                    c,
                    v,
                    Assignee::Team(TeamId::new(team(i)).unwrap()),
                    "route",
                )
                .await
                .unwrap();
        }
    }
    f.inbox
        .claim(
            &f.actor("ana"),
            &convs[0],
            f.version(&convs[0]).await.unwrap(),
        )
        .await
        .unwrap();
    let ids = |p: &crate::query::Page<Conversation>| {
        p.items
            .iter()
            .map(|c| c.id.clone())
            .collect::<BTreeSet<_>>()
    };
    let ana = f.actor("ana");
    let mine = f
        .inbox
        .list(&ana, &ViewQuery::new(View::Mine))
        .await
        .unwrap();
    assert_eq!(ids(&mine), BTreeSet::from([convs[0].clone()]));
    let unassigned = f
        .inbox
        .list(&ana, &ViewQuery::new(View::Unassigned))
        .await
        .unwrap();
    let expected: BTreeSet<_> = [1, 2, 6, 7, 8].iter().map(|&i| convs[i].clone()).collect();
    assert_eq!(ids(&unassigned), expected);
    let all = f
        .inbox
        .list(&ana, &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert_eq!(
        all.items.len(),
        6,
        "ana sees sales and unrouted, not support"
    );
    assert_eq!(
        f.inbox
            .list(
                &ana,
                &ViewQuery::new(View::Team(TeamId::new("support").unwrap()))
            )
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    let sam_all = f
        .inbox
        .list(&f.actor("sam"), &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert_eq!(sam_all.items.len(), 9);
    let gus_all = f
        .inbox
        .list(&f.actor("gus"), &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert!(gus_all.items.is_empty());
    // Pages of 2, latest activity first, cover everything once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f
            .inbox
            .list(
                &f.actor("sam"),
                &ViewQuery::new(View::All).limit(2).after(after),
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut expected_order = convs.clone();
    expected_order.reverse();
    assert_eq!(seen, expected_order);
}

/// A contact's history spans conversations and numbers.
pub(crate) async fn contact_history_spans_channels<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let c1 = says(&f, "1001", "w1", "34697000000", "buy").await;
    f.inbox
        .set_status(&f.actor("ana"), &c1, 1, ConversationStatus::Resolved)
        .await
        .unwrap();
    f.advance(TimeDelta::days(30));
    let c2 = says(&f, "1001", "w2", "34697000000", "buy again").await;
    let c3 = says(&f, "1002", "w3", "34697000000", "broken").await;
    assert!(c1 != c2 && c2 != c3);
    let contact = f.store.conversation(&f.acme(), &c1).await.unwrap().contact;
    let d = f.inbox.contact(&f.actor("sam"), &contact).await.unwrap();
    let ids: Vec<ConversationId> = d.conversations.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&c1) && ids.contains(&c2) && ids.contains(&c3));
    assert_eq!(
        f.inbox
            .contact(&f.actor("gus"), &contact)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
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
    let say = |pnid: &'static str,
               ext: &'static str,
               wa: &'static str,
               name: &'static str,
               text: &'static str| {
        let mut m = f.inbound(pnid, ext, wa, Content::text(text));
        m.profile_name = Some(name.to_string());
        f.inbox.ingest(InboundEvent::Message(m))
    };
    let IngestOutcome::Stored {
        conversation: marta,
        ..
    } = say(
        "1001",
        "w1",
        "34611000001",
        "Marta Ruiz",
        "My order #1042 hasn't arrived",
    )
    .await
    .unwrap()
    else {
        panic!()
    };
    f.advance(TimeDelta::minutes(1));
    let IngestOutcome::Stored {
        conversation: jon, ..
    } = say(
        "1001",
        "w2",
        "34622000002",
        "Jon",
        "Do you ship to Portugal?",
    )
    .await
    .unwrap()
    else {
        panic!()
    };
    f.advance(TimeDelta::minutes(1));
    let IngestOutcome::Stored {
        conversation: kim, ..
    } = say(
        "1002",
        "w3",
        "34633000003",
        "Kim",
        "Refund please, 100% broken",
    )
    .await
    .unwrap()
    else {
        panic!()
    };
    f.inbox
        .note(
            &f.actor("ana"),
            &marta,
            1,
            "Courier says the parcel is lost",
            "n1",
        )
        .await
        .unwrap();
    f.inbox
        .assign(
            &f.actor("sam"),
            &kim,
            1,
            Assignee::Team(TeamId::new("support").unwrap()),
            "refunds",
        )
        .await
        .unwrap();
    f.inbox
        .assign(
            &f.actor("sam"),
            &marta,
            2,
            Assignee::Team(TeamId::new("sales").unwrap()),
            "orders",
        )
        .await
        .unwrap();
    let all = ViewQuery::new(View::All);
    let found = |actor: &'static str, text: &'static str| {
        let inbox = f.inbox.clone();
        let actor = f.actor(actor);
        let q = all.clone();
        async move {
            inbox
                .search(&actor, text, &q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|h| h.conversation.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("sam", "order 1042").await, vec![marta.clone()]);
    assert_eq!(
        found("sam", "ORD").await,
        vec![marta.clone()],
        "the last word matches as a prefix"
    );
    assert!(
        found("sam", "ord 1042").await.is_empty(),
        "other words match whole"
    );
    assert_eq!(found("sam", "portugal").await, vec![jon.clone()]);
    assert_eq!(
        found("sam", "courier lost").await,
        vec![marta.clone()],
        "notes are searched"
    );
    assert_eq!(
        found("sam", "marta ruiz").await,
        vec![marta.clone()],
        "contact names"
    );
    assert_eq!(
        found("sam", "2200").await,
        vec![jon.clone()],
        "digits anywhere in the number"
    );
    assert_eq!(found("sam", "+34 611").await, vec![marta.clone()]);
    // The hit carries the most recent matching message.
    let hit = f
        .inbox
        .search(&f.actor("sam"), "lost", &all)
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(hit.message.as_ref().is_some_and(|m| m.is_note()));
    assert!(!hit.contact_matched);
    let by_name = f
        .inbox
        .search(&f.actor("sam"), "kim", &all)
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(by_name.contact_matched && by_name.message.is_none());
    // Visibility: Ana (sales) does not find the support conversation; Cy
    // (support) does not find sales'; other tenants find nothing.
    assert_eq!(found("sam", "refund").await, vec![kim.clone()]);
    assert!(found("ana", "refund").await.is_empty());
    assert_eq!(found("cy", "refund").await, vec![kim.clone()]);
    assert!(found("cy", "1042").await.is_empty());
    assert!(found("gus", "order").await.is_empty());
    // Views narrow the search.
    let mine = f
        .inbox
        .search(&f.actor("sam"), "order", &ViewQuery::new(View::Mine))
        .await
        .unwrap();
    assert!(mine.items.is_empty());
}

/// Search pages by cursor in latest-activity order, and treats SQL, regex
/// and tsquery metacharacters as separators, never as operators.
pub(crate) async fn search_pages_and_never_interprets_operators<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let mut convs = Vec::new();
    for i in 0..7 {
        let c = says(
            &f,
            "1001",
            &format!("w{i}"),
            &format!("3464400000{i}"),
            &format!("hello there, ticket {i}"),
        )
        .await;
        f.advance(TimeDelta::minutes(1));
        convs.push(c);
    }
    let odd = says(
        &f,
        "1001",
        "wx",
        "34655500000",
        "50% off? (really) [yes] .* a|b & c zq:* !x 'quote' \\ ; DROP TABLE x; --",
    )
    .await;
    let sam = f.actor("sam");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f
            .inbox
            .search(
                &sam,
                "hello",
                &ViewQuery::new(View::All).limit(3).after(after),
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|h| h.conversation.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    convs.reverse();
    assert_eq!(seen, convs);
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
        assert_eq!(
            hits.items
                .iter()
                .map(|h| h.conversation.id.clone())
                .collect::<Vec<_>>(),
            vec![odd.clone()],
            "{text:?}"
        );
    }
    for text in ["' OR 1=1 --", "%", ".*", "_", "\\"] {
        match f.inbox.search(&sam, text, &q).await {
            Ok(page) => assert!(page.items.is_empty(), "{text:?} matched {:?}", page.items),
            Err(e) => assert_eq!(e.code(), "invalid_input", "{text:?}: {e}"),
        }
    }
    assert_eq!(
        f.inbox.search(&sam, "  ", &q).await.unwrap_err().code(),
        "invalid_input"
    );
}
