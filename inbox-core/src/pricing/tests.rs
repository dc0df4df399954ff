//! The estimate's table of cases, the rate card's check, and the cost
//! report's arithmetic.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, TeamId, TenantId};
use crate::model::{Conversation, Pricing, TemplateCategory};
use crate::settings::TenantSettings;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn h(hours: i64) -> DateTime<Utc> {
    t0() + TimeDelta::hours(hours)
}

fn card() -> RateCard {
    let yaml = "pricing:\n  currency: USD\n  rates:\n    marketing: {default: 0.025, markets: {BR: 0.0625}}\n    utility: {default: 0.004}\n    Authentication: {default: '0.0135'}\n";
    let policy = TenantSettings::from_yaml(yaml)
        .unwrap()
        .compile_stored()
        .unwrap();
    policy.rate_card.unwrap()
}

/// A conversation whose customer service window closes at `window`.
fn conversation(window: Option<DateTime<Utc>>) -> Conversation {
    let mut c = Conversation::new(
        TenantId::new("t").unwrap(),
        ConversationId::new("c").unwrap(),
        ChannelId::new("ch").unwrap(),
        ContactId::new("k").unwrap(),
        t0(),
    );
    c.window_expires_at = window;
    c
}

fn template(category: Option<&str>) -> Sending {
    Sending::Template {
        category: category.map(TemplateCategory::from),
    }
}

/// A case's given: what is sent, when the window closes (hours after
/// `t0`), the entry point, when it is sent (hours), the market.
type Given = (
    Sending,
    Option<i64>,
    Option<EntryPoint>,
    i64,
    Option<&'static str>,
);

/// A case's answer: billed, category, reason, rate.
type Expected = (
    Option<bool>,
    Option<&'static str>,
    PriceReason,
    Option<&'static str>,
);

#[test]
fn the_estimate_follows_per_message_pricing() {
    use PriceReason::{Category, InsideWindow, OutsideWindow, UnknownCategory, WindowClosed};
    let free_entry = PriceReason::EntryPoint;
    let card = card();
    let referred = |answered: Option<i64>| EntryPoint {
        referral_at: t0(),
        answered_at: answered.map(h),
    };
    let (free_form, utility, marketing) = (
        Sending::FreeForm,
        template(Some("UTILITY")),
        template(Some("MARKETING")),
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, Given, Expected)> = vec![
        ("free-form in the window", (free_form.clone(), Some(24), None, 1, None), (Some(false), Some("service"), InsideWindow, None)),
        ("free-form, window closed", (free_form.clone(), Some(24), None, 25, None), (None, Some("service"), WindowClosed, None)),
        ("free-form, never opened", (free_form.clone(), None, None, 1, None), (None, Some("service"), WindowClosed, None)),
        ("utility in the window", (utility.clone(), Some(24), None, 2, None), (Some(false), Some("utility"), InsideWindow, None)),
        ("utility outside", (utility.clone(), Some(24), None, 30, None), (Some(true), Some("utility"), OutsideWindow, Some("0.004"))),
        ("marketing in the window", (marketing.clone(), Some(24), None, 2, None), (Some(true), Some("marketing"), Category, Some("0.025"))),
        ("marketing to Brazil", (template(Some("marketing")), None, None, 2, Some("BR")), (Some(true), Some("marketing"), Category, Some("0.0625"))),
        ("marketing, market not in the card", (marketing.clone(), None, None, 2, Some("MX")), (Some(true), Some("marketing"), Category, Some("0.025"))),
        ("authentication", (template(Some("AUTHENTICATION")), None, None, 2, None), (Some(true), Some("authentication"), Category, Some("0.0135"))),
        ("unknown category", (template(None), Some(24), None, 2, None), (None, None, UnknownCategory, None)),
        ("a new category", (template(Some("MARKETING_LITE")), Some(24), None, 2, None), (None, None, UnknownCategory, None)),
        ("entry point, answered in time", (marketing.clone(), Some(24), Some(referred(Some(1))), 60, None), (Some(false), Some("marketing"), free_entry, None)),
        ("entry point, this send answers", (marketing.clone(), Some(24), Some(referred(None)), 23, None), (Some(false), Some("marketing"), free_entry, None)),
        ("entry point, free-form", (free_form.clone(), Some(24), Some(referred(Some(1))), 2, None), (Some(false), Some("service"), free_entry, None)),
        ("entry point, free-form after the window", (free_form.clone(), Some(24), Some(referred(Some(1))), 30, None), (None, Some("service"), WindowClosed, None)),
        ("entry point not answered in 24 h", (marketing.clone(), Some(24), Some(referred(None)), 30, None), (Some(true), Some("marketing"), Category, Some("0.025"))),
        ("entry point answered late", (template(Some("UTILITY")), Some(48), Some(referred(Some(25))), 30, None), (Some(false), Some("utility"), InsideWindow, None)),
        ("entry point over after 72 h", (marketing.clone(), Some(24), Some(referred(Some(1))), 72, None), (Some(true), Some("marketing"), Category, Some("0.025"))),
    ];
    for (what, (sending, window, entry, now, market), (billed, category, reason, rate)) in cases {
        let c = conversation(window.map(h));
        let e = estimate(&sending, &c, entry.as_ref(), Some(&card), market, h(now));
        assert_eq!(
            (
                e.billed,
                e.category.as_deref(),
                e.reason,
                e.rate.map(|r| r.to_string())
            ),
            (billed, category, reason, rate.map(String::from)),
            "{what}"
        );
        assert_eq!(e.currency.is_some(), rate.is_some(), "{what}");
    }
    // Without a rate card: the same answers, no rates.
    let e = estimate(&marketing, &conversation(None), None, None, None, h(1));
    assert_eq!((e.billed, e.rate, e.currency), (Some(true), None, None));
}

#[test]
fn the_entry_point_is_found_in_the_messages() {
    use crate::model::{Author, Content, Direction, Message, ReplyContext};
    let c = conversation(None);
    let message = |id: &str, direction, at: i64, referral: bool| Message {
        tenant: c.tenant.clone(),
        id: crate::ids::MessageId::new(id).unwrap(),
        conversation: c.id.clone(),
        channel: c.channel.clone(),
        direction,
        author: Author::System,
        content: Content::text("x"),
        external_id: None,
        idempotency_key: None,
        context: ReplyContext {
            referral: referral.then(|| serde_json::json!({"source_type": "ad"})),
            ..ReplyContext::default()
        },
        mentions: vec![],
        sent_at: h(at),
        created_at: h(at),
        delivery: None,
        response: None,
        origin: Default::default(),
    };
    assert_eq!(
        EntryPoint::find(&[message("a", Direction::Inbound, 0, false)]),
        None
    );
    let messages = [
        message("a", Direction::Outbound, 0, false),
        message("b", Direction::Inbound, 1, true),
        message("n", Direction::Note, 2, false),
        message("c", Direction::Outbound, 3, false),
        message("d", Direction::Outbound, 4, false),
    ];
    assert_eq!(
        EntryPoint::find(&messages),
        Some(EntryPoint {
            referral_at: h(1),
            answered_at: Some(h(3))
        })
    );
}

#[test]
fn the_rate_card_is_checked_field_by_field() {
    let yaml = "pricing:\n  currency: usd\n  rates:\n    marketing: {default: -0.01, markets: {BR: 0.06, UK: 0.05, ES: -1}}\n    utility: {markets: {IN: 0.001}}\n    MARKETING: {default: 0.02}\n";
    let err = TenantSettings::from_yaml(yaml)
        .unwrap()
        .compile_stored()
        .unwrap_err();
    let crate::Error::InvalidSettings { problems } = err else {
        panic!("{err}")
    };
    let paths: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.path.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            (
                "pricing.currency",
                "\"usd\" is not an ISO 4217 currency code (three capital letters, e.g. USD)"
            ),
            ("pricing.rates.marketing.default", "-0.01 is negative"),
            ("pricing.rates.marketing.markets.ES", "-1 is negative"),
            (
                "pricing.rates.marketing.markets.UK",
                "\"UK\" is not a country code (ISO 3166-1 alpha-2 in capitals, e.g. BR)"
            ),
            (
                "pricing.rates.marketing",
                "the same category is listed twice (case aside)"
            ),
            (
                "pricing.rates.utility.default",
                "required (the rate of markets not listed)"
            ),
        ]
    );
    let no_currency =
        TenantSettings::from_yaml("pricing: {rates: {utility: {default: 1}}}").unwrap();
    let err = no_currency.compile_stored().unwrap_err().to_string();
    assert!(
        err.contains("pricing.currency: required with rates"),
        "{err}"
    );
    // A bad amount is a shape problem, named by its path.
    let err =
        TenantSettings::from_yaml("pricing: {currency: EUR, rates: {utility: {default: cheap}}}")
            .unwrap_err();
    assert!(
        err.to_string().contains("pricing.rates.utility.default"),
        "{err}"
    );
    // Empty by default, and left out when written.
    let empty = TenantSettings::default();
    assert!(empty.compile_stored().unwrap().rate_card.is_none());
    assert!(!empty.to_yaml().unwrap().contains("pricing"));
    let s =
        TenantSettings::from_yaml("pricing: {currency: EUR, rates: {utility: {default: 0.0082}}}")
            .unwrap();
    assert_eq!(TenantSettings::from_yaml(&s.to_yaml().unwrap()).unwrap(), s);
}

fn pricing(category: &str, kind: Option<&str>) -> Option<Pricing> {
    Some(Pricing {
        model: Some("PMP".into()),
        category: Some(category.into()),
        kind: kind.map(Into::into),
        billable: None,
    })
}

fn tally(
    agent: Option<&str>,
    market: Option<&str>,
    pricing: Option<Pricing>,
    count: u64,
) -> MessageTally {
    MessageTally {
        channel: ChannelId::new("sales").unwrap(),
        team: Some(TeamId::new("sales").unwrap()),
        agent: agent.map(|a| AgentId::new(a).unwrap()),
        market: market.map(Into::into),
        pricing,
        count,
    }
}

#[test]
fn costs_are_counts_times_rates_exactly() {
    let q = CostQuery {
        from: t0(),
        to: h(24),
    };
    let tallies = [
        tally(
            Some("ana"),
            Some("BR"),
            pricing("marketing", Some("regular")),
            3,
        ),
        tally(
            Some("ana"),
            Some("ES"),
            pricing("marketing", Some("regular")),
            2,
        ),
        tally(
            Some("ana"),
            Some("BR"),
            pricing("marketing", Some("free_entry_point")),
            1,
        ),
        tally(None, None, pricing("utility", None), 10),
        tally(
            Some("ben"),
            None,
            pricing("service", Some("free_customer_service")),
            7,
        ),
        tally(
            Some("ben"),
            None,
            pricing("marketing_lite", Some("regular")),
            4,
        ),
        tally(Some("ben"), None, pricing("marketing", Some("new_kind")), 5),
        tally(Some("ben"), None, None, 6),
        tally(
            Some("ana"),
            Some("BR"),
            pricing("marketing", Some("regular")),
            1,
        ),
    ];
    let r = CostReport::compute(&q, &tallies, Some(&card()));
    assert_eq!(r.currency.as_deref(), Some("USD"));
    assert_eq!(r.unpriced, 6);
    // 4 × 0.0625 + 2 × 0.025 + 10 × 0.004 = 0.34; marketing_lite has no rate.
    let t = &r.total;
    assert_eq!((t.billed, t.free, t.other, t.unrated), (20, 8, 5, 4));
    assert_eq!(t.cost.unwrap().to_string(), "0.34");
    let line = |lines: &[CostLine], key: Option<&str>| {
        let l = lines.iter().find(|l| l.key.as_deref() == key).unwrap();
        (l.billed, l.free, l.cost.map(|c| c.to_string()))
    };
    assert_eq!(line(&r.by_agent, Some("ana")), (6, 1, Some("0.3".into())));
    assert_eq!(line(&r.by_agent, None), (10, 0, Some("0.04".into())));
    assert_eq!(line(&r.by_market, Some("BR")), (4, 1, Some("0.25".into())));
    assert_eq!(
        line(&r.by_category, Some("marketing")),
        (6, 1, Some("0.3".into()))
    );
    assert_eq!(
        line(&r.by_category, Some("service")),
        (0, 7, Some("0".into()))
    );
    assert_eq!(r.by_channel.len(), 1);
    let csv = r.to_csv().unwrap();
    assert!(csv.starts_with("group,key,billed,free,other,unrated,cost,currency,unpriced\ntotal,,20,8,5,4,0.34,USD,6\n"), "{csv}");
    assert!(csv.contains("\nagent,ana,6,1,0,0,0.3,USD,\n"), "{csv}");
    // Without a rate card: the counts, no costs.
    let counts = CostReport::compute(&q, &tallies, None);
    assert_eq!(
        (
            counts.total.billed,
            counts.total.cost,
            counts.total.unrated,
            counts.currency
        ),
        (20, None, 0, None)
    );
}
