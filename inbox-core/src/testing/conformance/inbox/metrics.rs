//! Reports through the inbox: a fixed day driven by the simulated clock,
//! with every expected figure computed by hand.

use crate::metrics::{AgentMetrics, Distribution, MetricsQuery, MetricsReport};
use crate::testing::conformance::support::*;
use chrono::NaiveDate;

/// A query of everything from `from` to `to`, counting conversations
/// waiting longer than `missed_after` as missed.
fn query(from: DateTime<Utc>, to: DateTime<Utc>, missed_after: Duration) -> MetricsQuery {
    // (`now` is replaced by the inbox's clock)
    MetricsQuery {
        missed_after,
        ..MetricsQuery::over(from, to, Fixture::start())
    }
}

/// A distribution of `count` durations with these average, median and p90.
fn dist(count: u64, avg: f64, median: i64, p90: i64) -> Distribution {
    Distribution {
        count,
        avg_secs: Some(avg),
        median_secs: Some(median),
        p90_secs: Some(p90),
    }
}

/// What `of` picks of each agent's figures, in the report's order.
fn per_agent<T>(r: &MetricsReport, of: impl Fn(&AgentMetrics) -> T) -> Vec<T> {
    r.agents.iter().map(of).collect()
}

/// The CSV table `name` of a report.
fn csv_table(r: &MetricsReport, name: &str) -> String {
    let tables = r.to_csv().unwrap();
    tables.into_iter().find(|(n, _)| *n == name).unwrap().1
}

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
    claim_now(&f, &ana, &a).await;
    reply_now(&f, &ana, &a, "¡Hola!", "r-a").await;
    // B on support at 09:20, answered by sam at 09:50 (1800 s), resolved at
    // 10:30 (4200 s after it opened).
    f.clock.set(at(20));
    let b = says(&f, "1002", "b1", "34670002", "help").await;
    f.clock.set(at(50));
    reply_now(&f, &sam, &b, "On it", "r-b").await;
    // A resolved at 10:00.
    f.clock.set(at(60));
    set_status_now(&f, &ana, &a, ConversationStatus::Resolved).await;
    f.clock.set(at(90));
    set_status_now(&f, &sam, &b, ConversationStatus::Resolved).await;
    // C on sales at 11:00, tagged vip, never answered.
    f.clock.set(at(120));
    let c = says(&f, "1001", "c1", "34670003", "precio?").await;
    let v = f.version(&c).await.unwrap();
    f.inbox.tag(&sam, &c, v, &["VIP"], &[]).await.unwrap();
    // A writes again at 12:00: reopened, waiting.
    f.clock.set(at(180));
    let again = f.customer_says("1001", "a2", "34670001", "one more thing");
    again.await.unwrap();
    // D on sales the next day at 09:00, claimed by ben, not answered.
    f.clock.set(at(24 * 60));
    let d = says(&f, "1001", "d1", "34670004", "hi").await;
    claim_now(&f, &f.actor("ben"), &d).await;
    // Now: Tuesday 10:00.
    f.clock.set(at(25 * 60));

    let query = query(at(-60), at(48 * 60), Duration::from_secs(30 * 60));
    let r = f.inbox.metrics(&sam, query.clone()).await.unwrap();
    assert_eq!(
        (r.opened, r.resolved, r.reopened, r.with_owner),
        (4, 1, 1, 3)
    );
    // Waiting over 30 minutes at 10:00 on Tuesday: A (since 12:00 Monday),
    // C (since 11:00 Monday), D (since 09:00 Tuesday). B is resolved.
    assert_eq!(r.missed, 3);
    assert_eq!(r.first_response, dist(2, 1200.0, 600, 1800));
    assert_eq!(r.resolution, dist(1, 4200.0, 4200, 4200));
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
    let names = per_agent(&r, |a| a.agent.to_string());
    assert_eq!(names, ["ana", "ben", "sam"]);
    assert_eq!(
        per_agent(&r, |a| (a.handled, a.open)),
        [(1, 1), (1, 1), (1, 0)]
    );
    let first = per_agent(&r, |a| (a.first_response.count, a.first_response.avg_secs));
    assert_eq!(first, [(1, Some(600.0)), (0, None), (1, Some(1800.0))]);

    // Filters.
    let with = |q: MetricsQuery| f.inbox.metrics(&sam, q);
    let base = || query.clone();
    let sales = MetricsQuery {
        channel: Some(id("sales")),
        ..base()
    };
    let sales = with(sales).await.unwrap();
    assert_eq!((sales.opened, sales.first_response.count), (3, 1));
    let by_ana = with(MetricsQuery {
        agent: Some(id("ana")),
        ..base()
    });
    let by_ana = by_ana.await.unwrap();
    assert_eq!((by_ana.opened, by_ana.reopened), (1, 1));
    let vip = with(MetricsQuery {
        tag: Some("vip".into()),
        ..base()
    });
    let vip = vip.await.unwrap();
    assert_eq!((vip.opened, vip.missed, vip.with_owner), (1, 1, 0));
    let tue = with(MetricsQuery {
        from: at(24 * 60),
        ..base()
    });
    assert_eq!(tue.await.unwrap().opened, 1);
    // The range is [from, to): D, opened at the very end, is left out.
    let before_d = with(MetricsQuery {
        to: at(24 * 60),
        ..base()
    });
    assert_eq!(before_d.await.unwrap().opened, 3);
    let later = MetricsQuery {
        from: at(72 * 60),
        to: at(96 * 60),
        ..base()
    };
    let empty = with(later).await.unwrap();
    assert_eq!(empty.opened, 0);
    assert_eq!(empty.first_response, Distribution::default());
    // Another tenant sees none of it; agents may not report.
    let globex = f.inbox.metrics(&f.actor("gus"), query.clone()).await;
    assert_eq!(globex.unwrap().opened, 0);
    let by_agent = f.inbox.metrics(&ana, query.clone()).await;
    assert!(matches!(by_agent, Err(Error::Forbidden { .. })));
    // A backwards range is refused.
    let backwards = with(MetricsQuery {
        from: at(60),
        to: at(0),
        ..base()
    });
    assert!(matches!(backwards.await, Err(Error::InvalidInput { .. })));

    // CSV export of the tables.
    let summary = csv_table(&r, "summary");
    assert!(summary.contains("opened,4\n"), "{summary}");
    let median = "first_response_median_secs,600\n";
    assert!(summary.contains(median), "{summary}");
    let agents_csv = csv_table(&r, "agents");
    let header = "agent,handled,open,";
    assert!(agents_csv.starts_with(header), "{agents_csv}");
    let sam_row = "sam,1,0,1800.0,1800,1800,1,0,,,\n";
    assert!(agents_csv.contains(sam_row), "{agents_csv}");
}

/// SLA compliance per policy and target, on both stores.
pub(crate) async fn metrics_report_sla_compliance<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let settings = Fixture::first_response_sla(1800);
    let f = Fixture::with_settings(store.as_dyn(), settings)
        .await
        .unwrap();
    let t0 = Fixture::start();
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    // X answered in 10 minutes: met.
    let x = says(&f, "1001", "x1", "34680001", "hi").await;
    f.clock.set(at(10));
    reply_now(&f, &f.actor("ana"), &x, "hello", "r-x").await;
    // Y (09:10) never answered: breached at 09:40.
    let _y = says(&f, "1001", "y1", "34680002", "hello?").await;
    f.clock.set(at(45));
    tick(&f, at(45)).await;
    // Z opened just now: undecided.
    f.customer_says("1002", "z1", "34680003", "hey")
        .await
        .unwrap();
    let hour = query(at(-60), at(60), Duration::from_secs(3600));
    let r = f.inbox.metrics(&f.actor("sam"), hour).await.unwrap();
    assert_eq!(r.opened, 3);
    assert_eq!(r.sla.len(), 1, "{:?}", r.sla);
    let c = &r.sla[0];
    assert_eq!(
        (c.policy.as_str(), c.target.as_str(), c.met, c.breached),
        ("std", "first_response", 1, 1)
    );
    assert_eq!(c.rate(), Some(0.5));
    let sla = csv_table(&r, "sla");
    assert!(sla.contains("std,first_response,1,1,0.5000\n"), "{sla}");
}

/// Business-hours durations, next response times and per-agent replies and
/// notes, over two days of a 09:00–17:00 weekday calendar; the same on every
/// store.
pub(crate) async fn metrics_business_hours_and_next_responses<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let hours = "routing: {calendars: {hours: {zone: UTC, weekdays: [\"09:00-17:00\"]}}}\nsla: {calendar: hours}";
    let settings = crate::settings::TenantSettings::from_yaml(hours).unwrap();
    let f = Fixture::with_settings(store.as_dyn(), settings)
        .await
        .unwrap();
    let t0 = Fixture::start(); // Monday 09:00 UTC
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let day = 24 * 60;
    let (ana, sam, ben) = (f.actor("ana"), f.actor("sam"), f.actor("ben"));
    let reply = |who, c, key: &'static str| reply_now(&f, who, c, "ok", key);
    let note = |who, c, key: &'static str| {
        let f = &f;
        async move {
            let v = f.version(c).await.unwrap();
            f.inbox.note(who, c, v, "fyi", key).await.unwrap();
        }
    };

    // The customer writes `body` at `minute`.
    let write = |minute: i64, pnid: &'static str, ext: &'static str, wa: &'static str, body| {
        f.clock.set(at(minute));
        says(&f, pnid, ext, wa, body)
    };

    // P: the customer writes on Monday at 16:30; ana answers on Tuesday at
    // 09:30: 17 h on the wall, 30 + 30 min of business hours.
    let p = write(450, "1001", "p1", "34690001", "hola").await;
    f.clock.set(at(day + 30));
    claim_now(&f, &ana, &p).await;
    reply(&ana, &p, "p-r1").await;
    // Tuesday 10:00 again, answered at 10:20: a next response of 20 min.
    write(day + 60, "1001", "p2", "34690001", "y el envío?").await;
    f.clock.set(at(day + 80));
    reply(&ana, &p, "p-r2").await;
    for (who, key) in [(&ana, "p-n1"), (&ben, "p-n2")] {
        note(who, &p, key).await;
    }
    // Q: Tuesday 11:00 on support, sam answers at 11:05 (5 min), the
    // customer writes at 11:10 and 11:20, sam answers at 11:40 (30 min from
    // the older one); two notes by sam.
    let q = write(day + 120, "1002", "q1", "34690002", "help").await;
    f.clock.set(at(day + 125));
    claim_now(&f, &sam, &q).await;
    reply(&sam, &q, "q-r1").await;
    for (m, wamid) in [(130, "q2"), (140, "q3")] {
        write(day + m, "1002", wamid, "34690002", "still there?").await;
    }
    f.clock.set(at(day + 160));
    reply(&sam, &q, "q-r2").await;
    for key in ["q-n1", "q-n2"] {
        note(&sam, &q, key).await;
    }

    // Tuesday 16:50, answered on Wednesday at 09:10: 16 h 20 min on the
    // wall, 10 + 10 min of business hours.
    write(day + 470, "1001", "p3", "34690001", "gracias").await;
    f.clock.set(at(2 * day + 10));
    reply(&ana, &p, "p-r3").await;
    // Resolved on Wednesday at 09:20: 40 h 50 min on the wall; 30 min +
    // 8 h + 20 min of business hours.
    f.clock.set(at(2 * day + 20));
    set_status_now(&f, &ana, &p, ConversationStatus::Resolved).await;

    f.clock.set(at(2 * day + 60));
    let query = query(t0, at(3 * day), Duration::from_secs(3600));
    let r = f.inbox.metrics(&sam, query.clone()).await.unwrap();
    assert_eq!(r.opened, 2);
    assert_eq!(r.first_response, dist(2, 30750.0, 300, 61200));
    assert_eq!(r.first_response_business, dist(2, 1950.0, 300, 3600));
    // Next responses: 1200 and 58800 (P), 1800 (Q).
    assert_eq!(r.next_response, dist(3, 20600.0, 1800, 58800));
    assert_eq!(r.next_response_business, dist(3, 1400.0, 1200, 1800));
    assert_eq!(r.resolution, dist(1, 147000.0, 147000, 147000));
    assert_eq!(r.resolution_business, dist(1, 31800.0, 31800, 31800));
    let names = per_agent(&r, |a| a.agent.to_string());
    assert_eq!(names, ["ana", "ben", "sam"]);
    let load = per_agent(&r, |a| (a.handled, a.open));
    assert_eq!(load, [(1, 0), (0, 0), (1, 1)]);
    let written = per_agent(&r, |a| (a.replies, a.notes));
    assert_eq!(written, [(3, 1), (0, 1), (2, 2)]);
    let next = per_agent(&r, |a| (a.next_response.count, a.next_response.avg_secs));
    assert_eq!(next, [(2, Some(30000.0)), (0, None), (1, Some(1800.0))]);
    // Narrowed to support: Q alone, and only what was written there.
    let on_support = MetricsQuery {
        channel: Some(id("support")),
        ..query.clone()
    };
    let support = f.inbox.metrics(&sam, on_support).await.unwrap();
    assert_eq!(support.next_response, dist(1, 1800.0, 1800, 1800));
    let written = per_agent(&support, |a| (a.agent.to_string(), a.replies, a.notes));
    assert_eq!(written, [("sam".to_string(), 2, 2)]);
    let summary = csv_table(&r, "summary");
    let median = "next_response_business_median_secs,1200\n";
    assert!(summary.contains(median), "{summary}");
    let agents_csv = csv_table(&r, "agents");
    assert!(agents_csv.contains("ben,0,0,,,,0,1,,,\n"), "{agents_csv}");
}

/// A store's reports equal the reference definition
/// ([`MetricsReport::compute`] over every conversation and message read
/// back) over a seeded random fortnight across a month's end: customers
/// writing on two numbers, claims, transfers between teams, replies, notes, tags, status
/// changes and timer runs under SLA targets, then reports over random
/// ranges (an hour to the whole span, in four time zones) with every
/// filter the API offers. A store that keeps rollups (instead of reading
/// the rows when asked) must keep them exactly, as the conversations move
/// between filters.
pub(crate) async fn metrics_equal_the_reference_on_random_days<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let mut settings = Fixture::first_response_sla(1800);
    settings.sla.policies[0].next_response_secs = Some(1200);
    settings.sla.policies[0].resolution_secs = Some(5400);
    let f = Fixture::with_settings(store.as_dyn(), settings)
        .await
        .unwrap();
    let actors = ["ana", "ben", "sam", "cy"].map(|a| f.actor(a));
    let (numbers, teams) = (["1001", "1002"], ["sales", "support"]);
    let mut dice = crate::testing::Seeded::new(0x2545_F491_4F6C_DD1D);
    let mut seen: Vec<ConversationId> = Vec::new();
    // From late March into April, so some reports span a month's end.
    let begin = Fixture::start() + TimeDelta::days(22);
    let mut now = begin;
    for step in 0..240u64 {
        now += TimeDelta::minutes(dice.below(3 * 60) as i64);
        f.clock.set(now);
        random_step(&f, &mut dice, &actors, step, &mut seen, (numbers, teams)).await;
        if step % 60 == 59 {
            compare_reports(&f, &seen, &mut dice, begin).await;
        }
    }
    compare_reports(&f, &seen, &mut dice, begin).await;
    // The days went through every figure a report has.
    let all = query(begin, now, Duration::from_secs(3600));
    let r = f.inbox.metrics(&f.actor("sam"), all).await.unwrap();
    let agents = |p: fn(&crate::metrics::AgentMetrics) -> bool| r.agents.iter().any(p);
    assert!(r.resolved > 0 && r.reopened > 0 && r.missed > 0, "{r:?}");
    assert!(
        r.first_response.count > 0 && r.next_response.count > 0,
        "{r:?}"
    );
    assert!(r.by_tag.len() == 2 && r.by_channel.len() == 2, "{r:?}");
    assert!(agents(|a| a.notes > 0) && agents(|a| a.open > 0), "{r:?}");
    assert!(
        r.sla.iter().any(|s| s.met > 0) && r.sla.iter().any(|s| s.breached > 0),
        "{r:?}"
    );
}

/// One random thing of a working day (refusals, like not the owner or
/// resolved, are part of it).
async fn random_step(
    f: &Fixture,
    dice: &mut crate::testing::Seeded,
    actors: &[Actor; 4],
    step: u64,
    seen: &mut Vec<ConversationId>,
    (numbers, teams): ([&str; 2], [&str; 2]),
) {
    let actor = &actors[dice.below(4) as usize];
    if seen.is_empty() || dice.below(10) < 3 {
        let number = numbers[dice.below(2) as usize];
        let who = format!("3461{:04}", dice.below(6));
        let c = says(f, number, &format!("m{step}"), &who, "hola").await;
        if !seen.contains(&c) {
            seen.push(c);
        }
        return;
    }
    // Mostly the recent conversations, as in a real inbox.
    let recent = dice.below(seen.len().min(10) as u64) as usize;
    let c = seen[seen.len() - 1 - recent].clone();
    let v = f.version(&c).await.unwrap();
    let _ = match dice.below(8) {
        0 => f.inbox.claim(actor, &c, v).await.map(|_| ()),
        1 => {
            let to = team(teams[dice.below(2) as usize]);
            f.inbox
                .transfer(actor, &c, v, to, "yours")
                .await
                .map(|_| ())
        }
        2 => {
            let body = reply("ok", &format!("r{step}"));
            f.inbox.reply(actor, &c, v, body).await.map(|_| ())
        }
        3 => {
            let key = format!("r{step}");
            let owner = stored(f, &c).await.assignee;
            match actors.iter().find(|a| owner.as_ref() == Some(&a.agent)) {
                Some(owner) => {
                    let body = reply("on it", &key);
                    f.inbox.reply(owner, &c, v, body).await.map(|_| ())
                }
                None => f
                    .claim_and_reply(actor, &c, "on it", &key)
                    .await
                    .map(|_| ()),
            }
        }
        4 => {
            let key = format!("n{step}");
            f.inbox.note(actor, &c, v, "fyi", &key).await.map(|_| ())
        }
        5 => {
            let tag = ["vip", "refund"][dice.below(2) as usize];
            let (add, remove): (&[&str], &[&str]) = match dice.below(3) {
                0 => (&[], &[tag]),
                _ => (&[tag], &[]),
            };
            f.inbox.tag(actor, &c, v, add, remove).await.map(|_| ())
        }
        6 => {
            let status = [
                ConversationStatus::Pending,
                ConversationStatus::Resolved,
                ConversationStatus::Resolved,
                ConversationStatus::Open,
            ][dice.below(4) as usize];
            f.inbox.set_status(actor, &c, v, status).await.map(|_| ())
        }
        _ => {
            tick(f, f.inbox.now()).await;
            Ok(())
        }
    };
}

/// Reports over random ranges, filters and zones against the reference.
async fn compare_reports(
    f: &Fixture,
    seen: &[ConversationId],
    dice: &mut crate::testing::Seeded,
    start: DateTime<Utc>,
) {
    let mut conversations = Vec::new();
    let mut messages = Vec::new();
    for c in seen {
        conversations.push(stored(f, c).await);
        messages.extend(messages_of(f, c).await);
    }
    let now = f.inbox.now();
    let span = (now - start).num_minutes().max(1) as u64;
    let sam = f.actor("sam");
    for i in 0..24u64 {
        let from = start + TimeDelta::minutes(dice.below(span) as i64 - 90);
        let to = match i {
            0 => now + TimeDelta::hours(1),
            _ => from + TimeDelta::minutes(1 + dice.below(span) as i64),
        };
        let mut q = query(from, to, Duration::from_secs(dice.below(3 * 86_400)));
        q.time_zone = Some(
            ["UTC", "Europe/Madrid", "Asia/Kolkata", "America/St_Johns"][dice.below(4) as usize]
                .parse()
                .unwrap(),
        );
        match i % 7 {
            1 => q.channel = Some(id("support")),
            2 => q.team = Some(id("sales")),
            3 => q.agent = Some(id("ana")),
            4 => q.tag = Some("vip".into()),
            5 => (q.team, q.agent) = (Some(id("support")), Some(id("ben"))),
            6 => (q.tag, q.team) = (Some("refund".into()), Some(id("sales"))),
            _ => {}
        }
        let got = f.inbox.metrics(&sam, q.clone()).await.unwrap();
        q.now = now;
        let expected = MetricsReport::compute(&q, &conversations, &messages);
        assert_eq!(got, expected, "{q:?}");
    }
}
