//! The cost report through the inbox: messages priced by status webhooks,
//! counted by the store, priced by the rate card; every figure by hand.

use crate::pricing::{CostLine, CostQuery, PricingSection};
use crate::testing::conformance::support::*;

/// What a status webhook says of a message's price.
fn pricing(category: &str, kind: Option<&str>) -> Pricing {
    Pricing {
        model: Some("PMP".into()),
        category: Some(category.into()),
        kind: kind.map(Into::into),
        billable: None,
    }
}

/// A `sent` status for our message `m` on number `pnid` with `pricing`.
async fn priced(f: &Fixture, pnid: &str, m: &Message, pricing: Pricing) {
    let status = InboundEvent::Status(InboundStatus {
        pricing: Some(pricing),
        phone_number_id: pnid.into(),
        external_id: format!("wamid.{}", m.id),
        our_message_id: Some(m.id.to_string()),
        recipient: None,
        status: DeliveryStatus::Sent,
        timestamp: f.clock.now(),
        error: None,
    });
    let out = f.inbox.ingest(status).await.unwrap();
    assert!(
        matches!(out, IngestOutcome::StatusApplied { .. }),
        "{out:?}"
    );
}

/// The stored version of `actor`'s tenant's conversation `c`.
async fn version(f: &Fixture, actor: &Actor, c: &ConversationId) -> u64 {
    f.store
        .conversation(&actor.tenant, c)
        .await
        .unwrap()
        .version
}

/// `actor` replies `body` to `c` (at its stored version).
async fn answer(f: &Fixture, actor: &Actor, c: &ConversationId, body: &str, key: &str) -> Message {
    let v = version(f, actor, c).await;
    let out = f.inbox.reply(actor, c, v, Reply::text(body, key)).await;
    out.unwrap().message.unwrap()
}

/// `(billed, free, other, unrated, cost)` of a line.
fn figures(l: &CostLine) -> (u64, u64, u64, u64, Option<String>) {
    (
        l.billed,
        l.free,
        l.other,
        l.unrated,
        l.cost.map(|c| c.to_string()),
    )
}

/// The line of `key` among `lines`.
fn line<'a>(lines: &'a [CostLine], key: Option<&str>) -> &'a CostLine {
    let found = lines.iter().find(|l| l.key.as_deref() == key);
    found.unwrap_or_else(|| panic!("no line {key:?} in {lines:?}"))
}

/// Outbound messages sent in the range are counted by number, team,
/// agent, category and the customer's market (from the number's calling
/// code, else the BSUID's country); free, billed, unknown types and
/// unpriced messages apart; costs from the rate card; other tenants and
/// other times left out; supervisors and admins only.
pub(crate) async fn costs_count_priced_messages_by_number_team_agent_and_market<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let card = "currency: USD\nrates:\n  marketing: {default: 0.025, markets: {BR: 0.0625}}\n  utility: {default: 0.004}\n";
    let card: PricingSection = serde_norway::from_str(card).unwrap();
    f.edit_settings(|doc| doc.pricing = card).await.unwrap();
    let (ana, ben, sam) = (f.actor("ana"), f.actor("ben"), f.actor("sam"));
    let t0 = Fixture::start();

    // A: a Spanish number on sales, team sales, ana answers twice.
    let a = says(&f, "1001", "a1", "34670001", "hola").await;
    let v = f.version(&a).await.unwrap();
    f.inbox
        .assign(&sam, &a, v, team("sales"), "")
        .await
        .unwrap();
    claim_now(&f, &ana, &a).await;
    let a_free = answer(&f, &ana, &a, "¡Hola!", "a-r1").await;
    priced(
        &f,
        "1001",
        &a_free,
        pricing("service", Some("free_customer_service")),
    )
    .await;
    let a_offer = answer(&f, &ana, &a, "Offer", "a-r2").await;
    priced(&f, "1001", &a_offer, pricing("marketing", Some("regular"))).await;
    // B: a BSUID-only customer from Brazil on support, team support; sam
    // answers twice, one at a type Meta adds later.
    let mut from_brazil = f.inbound("1002", "b1", "", Content::text("oi"));
    from_brazil.from = ContactIdentity::user("BR.777");
    let b = ingested(&f, InboundEvent::Message(from_brazil)).await;
    let v = f.version(&b).await.unwrap();
    f.inbox
        .assign(&sam, &b, v, team("support"), "")
        .await
        .unwrap();
    let b_offer = answer(&f, &sam, &b, "Oferta", "b-r1").await;
    priced(&f, "1002", &b_offer, pricing("marketing", Some("regular"))).await;
    let b_new = answer(&f, &sam, &b, "Novidade", "b-r2").await;
    priced(&f, "1002", &b_new, pricing("marketing", Some("promo_2027"))).await;
    // C: a +1 number (shared code: no market) on sales, no team; ben
    // answers: a utility message without a type (billed), an
    // authentication one (no rate), one never priced.
    let c = says(&f, "1001", "c1", "15550001", "hi").await;
    claim_now(&f, &ben, &c).await;
    let c_utility = answer(&f, &ben, &c, "Your order", "c-r1").await;
    priced(&f, "1001", &c_utility, pricing("utility", None)).await;
    let c_code = answer(&f, &ben, &c, "Code", "c-r2").await;
    priced(
        &f,
        "1001",
        &c_code,
        pricing("authentication", Some("regular")),
    )
    .await;
    answer(&f, &ben, &c, "Unpriced", "c-r3").await;
    // Two hours later (outside the range): ana again, priced.
    f.clock.set(t0 + TimeDelta::hours(2));
    let late = answer(&f, &ana, &a, "Later", "a-r3").await;
    priced(&f, "1001", &late, pricing("marketing", Some("regular"))).await;
    // Another tenant's priced reply, in the range.
    f.clock.set(t0 + TimeDelta::minutes(30));
    let g = says(&f, "2001", "g1", "34670009", "hello").await;
    let gus = f.actor("gus");
    let v = version(&f, &gus, &g).await;
    f.inbox.claim(&gus, &g, v).await.unwrap();
    let g_offer = answer(&f, &gus, &g, "Offer", "g-r1").await;
    priced(&f, "2001", &g_offer, pricing("marketing", Some("regular"))).await;

    let range = CostQuery {
        from: t0,
        to: t0 + TimeDelta::hours(1),
    };
    assert_eq!(
        refused(f.inbox.costs(&ana, range.clone()).await),
        "forbidden"
    );
    let r = f.inbox.costs(&sam, range.clone()).await.unwrap();
    assert_eq!((r.currency.as_deref(), r.unpriced), (Some("USD"), 1));
    // Billed: A's offer (0.025), B's offer (BR: 0.0625), C's utility
    // (0.004) and code (no rate).
    let cost = |s: &str| Some(s.to_string());
    assert_eq!(figures(&r.total), (4, 1, 1, 1, cost("0.0915")));
    assert_eq!(
        figures(line(&r.by_category, Some("marketing"))),
        (2, 0, 1, 0, cost("0.0875"))
    );
    assert_eq!(
        figures(line(&r.by_category, Some("service"))),
        (0, 1, 0, 0, cost("0"))
    );
    assert_eq!(
        figures(line(&r.by_category, Some("authentication"))),
        (1, 0, 0, 1, cost("0"))
    );
    assert_eq!(
        figures(line(&r.by_channel, Some("sales"))),
        (3, 1, 0, 1, cost("0.029"))
    );
    assert_eq!(
        figures(line(&r.by_channel, Some("support"))),
        (1, 0, 1, 0, cost("0.0625"))
    );
    assert_eq!(
        figures(line(&r.by_team, Some("sales"))),
        (1, 1, 0, 0, cost("0.025"))
    );
    assert_eq!(
        figures(line(&r.by_team, Some("support"))),
        (1, 0, 1, 0, cost("0.0625"))
    );
    assert_eq!(figures(line(&r.by_team, None)), (2, 0, 0, 1, cost("0.004")));
    let agents: Vec<_> = r
        .by_agent
        .iter()
        .map(|l| (l.key.as_deref(), figures(l)))
        .collect();
    assert_eq!(
        agents,
        [
            (Some("ana"), (1, 1, 0, 0, cost("0.025"))),
            (Some("ben"), (2, 0, 0, 1, cost("0.004"))),
            (Some("sam"), (1, 0, 1, 0, cost("0.0625"))),
        ]
    );
    let markets: Vec<_> = r
        .by_market
        .iter()
        .map(|l| (l.key.as_deref(), l.billed + l.free + l.other))
        .collect();
    assert_eq!(markets, [(None, 2), (Some("BR"), 2), (Some("ES"), 2)]);
    // The later message counts in a range that holds it; the other tenant
    // counts only its own.
    let day = CostQuery {
        from: t0,
        to: t0 + TimeDelta::days(1),
    };
    let r = f.inbox.costs(&f.actor("ada"), day.clone()).await.unwrap();
    assert_eq!(figures(&r.total), (5, 1, 1, 1, cost("0.1165")));
    let theirs = f.inbox.costs(&gus, day).await.unwrap();
    assert_eq!(
        (theirs.currency, theirs.total.billed, theirs.total.cost),
        (None, 1, None)
    );
    // A bad range is refused.
    let backwards = CostQuery {
        from: range.to,
        to: range.from,
    };
    assert_eq!(
        refused(f.inbox.costs(&sam, backwards).await),
        "invalid_input"
    );
}
