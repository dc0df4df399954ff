//! Reports through the inbox: a fixed day driven by the simulated clock,
//! with every expected figure computed by hand.

use crate::metrics::{Distribution, MetricsQuery};
use crate::testing::conformance::support::*;
use chrono::NaiveDate;

/// Volumes, first response and resolution (avg, nearest-rank median and
/// p90), reopen and ownership, missed conversations, days, hours, channels,
/// tags and per-agent figures, with filters; the same on every store.
pub(crate) async fn metrics_match_hand_computed_values<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let t0 = Fixture::start(); // Monday 2 March 2026, 09:00 UTC
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let (ana, sam) = (f.actor("ana"), f.actor("sam"));

    // A on sales at 09:00, answered by ana at 09:10 (600 s).
    let a = says(&f, "1001", "a1", "34670001", "hola").await;
    f.clock.set(at(10));
    let v = f.version(&a).await.unwrap();
    let claimed = f.inbox.claim(&ana, &a, v).await.unwrap();
    f.inbox
        .reply(
            &ana,
            &a,
            claimed.conversation.version,
            Reply::text("¡Hola!", "r-a"),
        )
        .await
        .unwrap();
    // B on support at 09:20, answered by sam at 09:50 (1800 s), resolved at
    // 10:30 (4200 s after it opened).
    f.clock.set(at(20));
    let b = says(&f, "1002", "b1", "34670002", "help").await;
    f.clock.set(at(50));
    f.inbox
        .reply(
            &sam,
            &b,
            f.version(&b).await.unwrap(),
            Reply::text("On it", "r-b"),
        )
        .await
        .unwrap();
    // A resolved at 10:00.
    f.clock.set(at(60));
    f.inbox
        .set_status(
            &ana,
            &a,
            f.version(&a).await.unwrap(),
            ConversationStatus::Resolved,
        )
        .await
        .unwrap();
    f.clock.set(at(90));
    f.inbox
        .set_status(
            &sam,
            &b,
            f.version(&b).await.unwrap(),
            ConversationStatus::Resolved,
        )
        .await
        .unwrap();
    // C on sales at 11:00, tagged vip, never answered.
    f.clock.set(at(120));
    let c = says(&f, "1001", "c1", "34670003", "precio?").await;
    f.inbox
        .tag(&sam, &c, f.version(&c).await.unwrap(), &["VIP"], &[])
        .await
        .unwrap();
    // A writes again at 12:00: reopened, waiting.
    f.clock.set(at(180));
    f.customer_says("1001", "a2", "34670001", "one more thing")
        .await
        .unwrap();
    // D on sales the next day at 09:00, claimed by ben, not answered.
    f.clock.set(at(24 * 60));
    let d = says(&f, "1001", "d1", "34670004", "hi").await;
    f.inbox
        .claim(&f.actor("ben"), &d, f.version(&d).await.unwrap())
        .await
        .unwrap();
    // Now: Tuesday 10:00.
    f.clock.set(at(25 * 60));

    let query = MetricsQuery {
        from: at(-60),
        to: at(48 * 60),
        channel: None,
        team: None,
        agent: None,
        tag: None,
        now: at(0), // replaced by the inbox's clock
        missed_after: Duration::from_secs(30 * 60),
    };
    let r = f.inbox.metrics(&sam, query.clone()).await.unwrap();
    assert_eq!(
        (r.opened, r.resolved, r.reopened, r.with_owner),
        (4, 1, 1, 3)
    );
    // Waiting over 30 minutes at 10:00 on Tuesday: A (since 12:00 Monday),
    // C (since 11:00 Monday), D (since 09:00 Tuesday). B is resolved.
    assert_eq!(r.missed, 3);
    assert_eq!(
        r.first_response,
        Distribution {
            count: 2,
            avg_secs: Some(1200.0),
            median_secs: Some(600),
            p90_secs: Some(1800),
        }
    );
    assert_eq!(
        r.resolution,
        Distribution {
            count: 1,
            avg_secs: Some(4200.0),
            median_secs: Some(4200),
            p90_secs: Some(4200),
        }
    );
    assert!((r.reopen_rate() - 0.25).abs() < 1e-9);
    assert!((r.ownership_rate() - 0.75).abs() < 1e-9);
    let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let tuesday = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    assert_eq!(
        r.by_day.iter().map(|(d, n)| (*d, *n)).collect::<Vec<_>>(),
        [(monday, 3), (tuesday, 1)]
    );
    assert_eq!(
        r.by_hour.iter().map(|(h, n)| (*h, *n)).collect::<Vec<_>>(),
        [(9, 3), (11, 1)]
    );
    assert_eq!(
        r.by_channel
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect::<Vec<_>>(),
        [("sales".to_string(), 3), ("support".to_string(), 1)]
    );
    assert_eq!(r.by_tag.get("vip"), Some(&1));
    let agents: Vec<_> = r
        .agents
        .iter()
        .map(|a| {
            (
                a.agent.to_string(),
                a.handled,
                a.open,
                a.first_response.count,
                a.first_response.avg_secs,
            )
        })
        .collect();
    assert_eq!(
        agents,
        [
            ("ana".to_string(), 1, 1, 1, Some(600.0)),
            ("ben".to_string(), 1, 1, 0, None),
            ("sam".to_string(), 1, 0, 1, Some(1800.0)),
        ]
    );

    // Filters.
    let with = |q: MetricsQuery| f.inbox.metrics(&sam, q);
    let sales = with(MetricsQuery {
        channel: Some(id("sales")),
        ..query.clone()
    })
    .await
    .unwrap();
    assert_eq!((sales.opened, sales.first_response.count), (3, 1));
    let by_ana = with(MetricsQuery {
        agent: Some(id("ana")),
        ..query.clone()
    })
    .await
    .unwrap();
    assert_eq!((by_ana.opened, by_ana.reopened), (1, 1));
    let vip = with(MetricsQuery {
        tag: Some("vip".into()),
        ..query.clone()
    })
    .await
    .unwrap();
    assert_eq!((vip.opened, vip.missed, vip.with_owner), (1, 1, 0));
    let tue = with(MetricsQuery {
        from: at(24 * 60),
        ..query.clone()
    })
    .await
    .unwrap();
    assert_eq!(tue.opened, 1);
    // The range is [from, to): D, opened at the very end, is left out.
    let before_d = with(MetricsQuery {
        to: at(24 * 60),
        ..query.clone()
    })
    .await
    .unwrap();
    assert_eq!(before_d.opened, 3);
    let empty = with(MetricsQuery {
        from: at(72 * 60),
        to: at(96 * 60),
        ..query.clone()
    })
    .await
    .unwrap();
    assert_eq!(empty.opened, 0);
    assert_eq!(empty.first_response, Distribution::default());
    // Another tenant sees none of it; agents may not report.
    let globex = f
        .inbox
        .metrics(&f.actor("gus"), query.clone())
        .await
        .unwrap();
    assert_eq!(globex.opened, 0);
    assert!(matches!(
        f.inbox.metrics(&ana, query.clone()).await,
        Err(Error::Forbidden { .. })
    ));
    // A backwards range is refused.
    assert!(matches!(
        with(MetricsQuery {
            from: at(60),
            to: at(0),
            ..query.clone()
        })
        .await,
        Err(Error::InvalidInput { .. })
    ));

    // CSV export of the tables.
    let csv = r.to_csv().unwrap();
    let summary = &csv.iter().find(|(n, _)| *n == "summary").unwrap().1;
    assert!(summary.contains("opened,4\n"), "{summary}");
    assert!(
        summary.contains("first_response_median_secs,600\n"),
        "{summary}"
    );
    let agents_csv = &csv.iter().find(|(n, _)| *n == "agents").unwrap().1;
    assert!(
        agents_csv.starts_with("agent,handled,open,"),
        "{agents_csv}"
    );
    assert!(
        agents_csv.contains("sam,1,0,1800.0,1800,1800,1,0,,,\n"),
        "{agents_csv}"
    );
}

/// SLA compliance per policy and target, on both stores.
pub(crate) async fn metrics_report_sla_compliance<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let config = Fixture::first_response_sla(1800);
    let f = Fixture::with_config(store.as_dyn(), config).await.unwrap();
    let t0 = Fixture::start();
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    // X answered in 10 minutes: met.
    let x = says(&f, "1001", "x1", "34680001", "hi").await;
    f.clock.set(at(10));
    f.inbox
        .reply(
            &f.actor("ana"),
            &x,
            f.version(&x).await.unwrap(),
            Reply::text("hello", "r-x"),
        )
        .await
        .unwrap();
    // Y (09:10) never answered: breached at 09:40.
    let _y = says(&f, "1001", "y1", "34680002", "hello?").await;
    f.clock.set(at(45));
    f.inbox.tick(at(45), 100).await.unwrap();
    // Z opened just now: undecided.
    f.customer_says("1002", "z1", "34680003", "hey")
        .await
        .unwrap();
    let r = f
        .inbox
        .metrics(
            &f.actor("sam"),
            MetricsQuery {
                from: at(-60),
                to: at(60),
                channel: None,
                team: None,
                agent: None,
                tag: None,
                now: at(0),
                missed_after: Duration::from_secs(3600),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.opened, 3);
    assert_eq!(r.sla.len(), 1, "{:?}", r.sla);
    let c = &r.sla[0];
    assert_eq!(
        (c.policy.as_str(), c.target.as_str(), c.met, c.breached),
        ("std", "first_response", 1, 1)
    );
    assert_eq!(c.rate(), Some(0.5));
    let csv = r.to_csv().unwrap();
    let sla = &csv.iter().find(|(n, _)| *n == "sla").unwrap().1;
    assert!(sla.contains("std,first_response,1,1,0.5000\n"), "{sla}");
}

/// Business-hours durations, next response times and per-agent replies and
/// notes, over two days of a 09:00–17:00 weekday calendar; the same on every
/// store.
pub(crate) async fn metrics_business_hours_and_next_responses<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let config = crate::inbox::InboxConfig {
        sla: crate::sla::SlaSettings {
            calendar: crate::calendar::Calendar::weekdays("UTC", &["09:00-17:00"]).unwrap(),
            ..Default::default()
        },
        ..crate::inbox::InboxConfig::default()
    };
    let f = Fixture::with_config(store.as_dyn(), config).await.unwrap();
    let t0 = Fixture::start(); // Monday 09:00 UTC
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let day = 24 * 60;
    let (ana, sam, ben) = (f.actor("ana"), f.actor("sam"), f.actor("ben"));
    let reply = |who, c, key: &'static str| {
        let f = &f;
        async move {
            let v = f.version(c).await.unwrap();
            f.inbox
                .reply(who, c, v, Reply::text("ok", key))
                .await
                .unwrap();
        }
    };
    let note = |who, c, key: &'static str| {
        let f = &f;
        async move {
            let v = f.version(c).await.unwrap();
            f.inbox.note(who, c, v, "fyi", key).await.unwrap();
        }
    };

    // P: the customer writes on Monday at 16:30; ana answers on Tuesday at
    // 09:30: 17 h on the wall, 30 + 30 min of business hours.
    f.clock.set(at(450));
    let p = says(&f, "1001", "p1", "34690001", "hola").await;
    f.clock.set(at(day + 30));
    f.inbox
        .claim(&ana, &p, f.version(&p).await.unwrap())
        .await
        .unwrap();
    reply(&ana, &p, "p-r1").await;
    // Tuesday 10:00 again, answered at 10:20: a next response of 20 min.
    f.clock.set(at(day + 60));
    f.customer_says("1001", "p2", "34690001", "y el envío?")
        .await
        .unwrap();
    f.clock.set(at(day + 80));
    reply(&ana, &p, "p-r2").await;
    note(&ana, &p, "p-n1").await;
    note(&ben, &p, "p-n2").await;
    // Q: Tuesday 11:00 on support, sam answers at 11:05 (5 min), the
    // customer writes at 11:10 and 11:20, sam answers at 11:40 (30 min from
    // the older one); two notes by sam.
    f.clock.set(at(day + 120));
    let q = says(&f, "1002", "q1", "34690002", "help").await;
    f.clock.set(at(day + 125));
    f.inbox
        .claim(&sam, &q, f.version(&q).await.unwrap())
        .await
        .unwrap();
    reply(&sam, &q, "q-r1").await;
    for (m, wamid) in [(130, "q2"), (140, "q3")] {
        f.clock.set(at(day + m));
        f.customer_says("1002", wamid, "34690002", "still there?")
            .await
            .unwrap();
    }
    f.clock.set(at(day + 160));
    reply(&sam, &q, "q-r2").await;
    note(&sam, &q, "q-n1").await;
    note(&sam, &q, "q-n2").await;

    // Tuesday 16:50, answered on Wednesday at 09:10: 16 h 20 min on the
    // wall, 10 + 10 min of business hours.
    f.clock.set(at(day + 470));
    f.customer_says("1001", "p3", "34690001", "gracias")
        .await
        .unwrap();
    f.clock.set(at(2 * day + 10));
    reply(&ana, &p, "p-r3").await;
    // Resolved on Wednesday at 09:20: 40 h 50 min on the wall; 30 min +
    // 8 h + 20 min of business hours.
    f.clock.set(at(2 * day + 20));
    f.inbox
        .set_status(
            &ana,
            &p,
            f.version(&p).await.unwrap(),
            ConversationStatus::Resolved,
        )
        .await
        .unwrap();

    f.clock.set(at(2 * day + 60));
    let query = MetricsQuery {
        from: t0,
        to: at(3 * day),
        channel: None,
        team: None,
        agent: None,
        tag: None,
        now: t0,
        missed_after: Duration::from_secs(3600),
    };
    let r = f.inbox.metrics(&sam, query.clone()).await.unwrap();
    let dist = |count, avg: f64, median, p90| Distribution {
        count,
        avg_secs: Some(avg),
        median_secs: Some(median),
        p90_secs: Some(p90),
    };
    assert_eq!(r.opened, 2);
    assert_eq!(r.first_response, dist(2, 30750.0, 300, 61200));
    assert_eq!(r.first_response_business, dist(2, 1950.0, 300, 3600));
    // Next responses: 1200 and 58800 (P), 1800 (Q).
    assert_eq!(r.next_response, dist(3, 20600.0, 1800, 58800));
    assert_eq!(r.next_response_business, dist(3, 1400.0, 1200, 1800));
    assert_eq!(r.resolution, dist(1, 147000.0, 147000, 147000));
    assert_eq!(r.resolution_business, dist(1, 31800.0, 31800, 31800));
    let agents: Vec<_> = r
        .agents
        .iter()
        .map(|a| {
            (
                a.agent.to_string(),
                a.handled,
                a.open,
                a.replies,
                a.notes,
                a.next_response.count,
                a.next_response.avg_secs,
            )
        })
        .collect();
    assert_eq!(
        agents,
        [
            ("ana".to_string(), 1, 0, 3, 1, 2, Some(30000.0)),
            ("ben".to_string(), 0, 0, 0, 1, 0, None),
            ("sam".to_string(), 1, 1, 2, 2, 1, Some(1800.0)),
        ]
    );
    // Narrowed to support: Q alone, and only what was written there.
    let support = f
        .inbox
        .metrics(
            &sam,
            MetricsQuery {
                channel: Some(id("support")),
                ..query.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(support.next_response, dist(1, 1800.0, 1800, 1800));
    assert_eq!(
        support
            .agents
            .iter()
            .map(|a| (a.agent.to_string(), a.replies, a.notes))
            .collect::<Vec<_>>(),
        [("sam".to_string(), 2, 2)]
    );
    let csv = r.to_csv().unwrap();
    let summary = &csv.iter().find(|(n, _)| *n == "summary").unwrap().1;
    assert!(
        summary.contains("next_response_business_median_secs,1200\n"),
        "{summary}"
    );
    let agents_csv = &csv.iter().find(|(n, _)| *n == "agents").unwrap().1;
    assert!(agents_csv.contains("ben,0,0,,,,0,1,,,\n"), "{agents_csv}");
}
