//! Rollups give the reference report: random conversations summed into
//! tallies by bucket, merged over random ranges, against
//! [`MetricsReport::compute`].

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use std::collections::BTreeMap;

use super::*;
use crate::ids::{ContactId, ConversationId, MessageId, TenantId};
use crate::model::{Content, Origin, ReplyContext, ResponseTime};
use crate::sla::{SlaState, SlaTarget, SlaTargetKind};

/// A tiny xorshift: the data of one case from its seed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len() as u64) as usize]
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 30, 22, 10, 0).unwrap()
}

/// `n` random conversations over about 70 days, and their messages.
fn data(seed: u64, n: usize) -> (Vec<Conversation>, Vec<Message>) {
    let mut d = Dice(seed | 1);
    let (mut conversations, mut messages) = (Vec::new(), Vec::new());
    let tenant = TenantId::new("t").unwrap();
    for i in 0..n {
        let created = start() + TimeDelta::seconds(d.below(70 * 86_400) as i64);
        let mut c = Conversation::new(
            tenant.clone(),
            ConversationId::new(format!("c{i}")).unwrap(),
            ChannelId::new(d.pick(&["main", "sales"])).unwrap(),
            ContactId::new(format!("k{i}")).unwrap(),
            created,
        );
        c.imported = d.below(20) == 0;
        c.status = match d.below(4) {
            0 => ConversationStatus::Open,
            1 => ConversationStatus::Pending,
            _ => ConversationStatus::Resolved,
        };
        c.team = (d.below(3) > 0).then(|| TeamId::new(d.pick(&["a", "b"])).unwrap());
        c.assignee = (d.below(4) > 0).then(|| AgentId::new(d.pick(&["ana", "bo", "cy"])).unwrap());
        for _ in 0..d.below(3) {
            let tag = d.pick(&["vip", "refund", "new"]).to_string();
            if !c.tags.contains(&tag) {
                c.tags.push(tag);
            }
        }
        if d.below(3) > 0 {
            c.first_response_at = Some(created + TimeDelta::seconds(d.below(4000) as i64));
            c.first_response_business_secs = Some(d.below(2000) as i64);
        }
        if c.status == ConversationStatus::Resolved || d.below(5) == 0 {
            c.resolved_at = Some(created + TimeDelta::seconds(d.below(90_000) as i64));
            c.resolution_business_secs = Some(d.below(30_000) as i64);
        }
        c.reopen_count = (d.below(5) == 0) as u32;
        if c.status.is_active() && d.below(2) == 0 {
            c.waiting_since = Some(created + TimeDelta::seconds(d.below(80 * 86_400) as i64));
        }
        if d.below(2) == 0 {
            c.sla = Some(sla(&mut d, created));
        }
        for j in 0..d.below(5) {
            messages.push(message(&mut d, &c, j));
        }
        conversations.push(c);
    }
    (conversations, messages)
}

fn sla(d: &mut Dice, at: DateTime<Utc>) -> SlaState {
    let kinds = [
        SlaTargetKind::FirstResponse,
        SlaTargetKind::NextResponse,
        SlaTargetKind::Resolution,
    ];
    let targets = (0..d.below(4))
        .map(|_| SlaTarget {
            kind: kinds[d.below(3) as usize],
            started_at: at,
            due_at: at,
            warn_at: at,
            warned: false,
            state: match d.below(3) {
                0 => SlaTargetState::Met { at },
                1 => SlaTargetState::Breached { at },
                _ => SlaTargetState::Active,
            },
        })
        .collect();
    SlaState {
        policy: d.pick(&["std", "vip"]).to_string(),
        targets,
    }
}

fn message(d: &mut Dice, c: &Conversation, j: u64) -> Message {
    let author = match d.below(3) {
        0 => Author::Customer(c.contact.clone()),
        _ => Author::Agent(AgentId::new(d.pick(&["ana", "bo", "dee"])).unwrap()),
    };
    let direction = match (&author, d.below(3)) {
        (Author::Customer(_), _) => Direction::Inbound,
        (_, 0) => Direction::Note,
        _ => Direction::Outbound,
    };
    let response = (direction == Direction::Outbound && d.below(2) == 0).then(|| ResponseTime {
        secs: d.below(5000) as i64,
        business_secs: d.below(3000) as i64,
        first: d.below(3) == 0,
    });
    Message {
        tenant: c.tenant.clone(),
        id: MessageId::new(format!("{}-{j}", c.id)).unwrap(),
        conversation: c.id.clone(),
        channel: c.channel.clone(),
        direction,
        author,
        content: Content::text("hi"),
        external_id: None,
        idempotency_key: None,
        context: ReplyContext::default(),
        mentions: vec![],
        sent_at: c.created_at,
        created_at: c.created_at,
        delivery: None,
        response,
        origin: Origin::default(),
    }
}

fn contributions(conversations: &[Conversation], messages: &[Message]) -> Vec<Contribution> {
    let mut by_conversation: BTreeMap<&ConversationId, Vec<Message>> = BTreeMap::new();
    for m in messages {
        by_conversation
            .entry(&m.conversation)
            .or_default()
            .push(m.clone());
    }
    conversations
        .iter()
        .filter_map(|c| Contribution::of(c, by_conversation.get(&c.id).map_or(&[], |v| v)))
        .collect()
}

/// The tallies of `data` by (level, bucket start, dimension).
type Rollups = BTreeMap<(Level, i64), BTreeMap<Dimension, Tally>>;

fn rollups(contributions: &[Contribution]) -> Rollups {
    let mut out = Rollups::new();
    for k in contributions {
        for dim in k.dimensions() {
            for &level in dim.levels() {
                let bucket = out.entry((level, level.start(k.created_us))).or_default();
                bucket.entry(dim.clone()).or_default().add(k, 1);
            }
        }
    }
    out
}

/// The report from the rollups: whole buckets merged, edges from the
/// conversations themselves.
fn from_rollups(
    q: &MetricsQuery,
    rollups: &Rollups,
    contributions: &[Contribution],
) -> MetricsReport {
    let shape = Shape::of(q).expect("a shape");
    let c = cover(
        q.from.timestamp_micros(),
        q.to.timestamp_micros(),
        shape.finest(),
    );
    let mut held = Vec::new();
    for bucket in &c.buckets {
        for (dim, t) in rollups.get(bucket).into_iter().flatten() {
            if shape.holds(dim) {
                held.push(t.clone());
            }
        }
    }
    let mut edges = Tally::default();
    for (from, to) in &c.edges {
        for k in contributions {
            let inside = k.created_us >= *from && k.created_us < *to;
            if inside && k.dimensions().iter().any(|d| shape.holds(d)) {
                edges.add(k, 1);
            }
        }
    }
    held.push(edges);
    // As the store asks it (waiting instants not merged), and summed whole.
    let report = Tally::report_of(&held, q);
    assert_eq!(report, Tally::sum(&held).report(q));
    report
}

fn query(d: &mut Dice) -> MetricsQuery {
    let from = start() + TimeDelta::seconds(d.below(75 * 86_400) as i64 - 86_400);
    let to = from + TimeDelta::seconds(1 + d.below(60 * 86_400) as i64);
    let now = start() + TimeDelta::days(75);
    let mut q = MetricsQuery::over(from, to, now);
    q.missed_after = std::time::Duration::from_secs(d.below(40 * 86_400));
    q.time_zone = Some(
        d.pick(&["UTC", "Asia/Kolkata", "America/St_Johns", "Asia/Kathmandu"])
            .parse()
            .unwrap(),
    );
    match d.below(6) {
        0 => q.channel = Some(ChannelId::new("sales").unwrap()),
        1 => q.team = Some(TeamId::new("a").unwrap()),
        2 => q.agent = Some(AgentId::new("bo").unwrap()),
        3 => q.tag = Some("vip".into()),
        4 => {
            q.team = Some(TeamId::new("b").unwrap());
            q.agent = Some(AgentId::new("ana").unwrap());
            q.channel = Some(ChannelId::new("main").unwrap());
        }
        _ => {}
    }
    q
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rollups_give_the_reference_report(seed in any::<u64>()) {
        let (conversations, messages) = data(seed, 300);
        let contributions = contributions(&conversations, &messages);
        let rollups = rollups(&contributions);
        let mut d = Dice(seed.rotate_left(17) | 1);
        for _ in 0..12 {
            let q = query(&mut d);
            let want = MetricsReport::compute(&q, &conversations, &messages);
            prop_assert_eq!(from_rollups(&q, &rollups, &contributions), want, "{:?}", q);
        }
    }

    #[test]
    fn taking_a_contribution_away_undoes_it(seed in any::<u64>()) {
        let (conversations, messages) = data(seed, 60);
        let all = contributions(&conversations, &messages);
        let mut both = Tally::default();
        let mut half = Tally::default();
        for (i, k) in all.iter().enumerate() {
            both.add(k, 1);
            if i % 2 == 0 {
                half.add(k, 1);
            }
        }
        for (i, k) in all.iter().enumerate() {
            if i % 2 == 1 {
                both.add(k, -1);
            }
        }
        prop_assert_eq!(&both, &half);
        let mut merged = Tally::default();
        merged.merge(&half, 1);
        merged.merge(&half, -1);
        prop_assert!(merged.is_empty());
    }

    #[test]
    fn a_sum_at_once_equals_merging_one_by_one(seed in any::<u64>()) {
        let (conversations, messages) = data(seed, 120);
        let all = contributions(&conversations, &messages);
        let mut d = Dice(seed.rotate_left(29) | 1);
        let mut parts = vec![Tally::default(); 7];
        for k in &all {
            parts[d.below(7) as usize].add(k, 1);
            // Some taken away again in another part: sums that cancel.
            if d.below(4) == 0 {
                parts[d.below(7) as usize].add(k, -1);
            }
        }
        let mut one_by_one = Tally::default();
        for p in &parts {
            one_by_one.merge(p, 1);
        }
        prop_assert_eq!(Tally::sum(&parts), one_by_one);
    }

    #[test]
    fn a_cover_splits_the_range_exactly(from in -1_000i64..400_000, len in 0i64..5_000_000, day in any::<bool>()) {
        let (from_us, to_us) = (from * 60_000_000, (from + len) * 60_000_000 / 7);
        let finest = if day { Level::Day } else { Level::Hour };
        let c = cover(from_us, to_us, finest);
        let mut parts: Vec<(i64, i64)> = c.edges.clone();
        parts.extend(c.buckets.iter().map(|(l, s)| (*s, l.end(*s))));
        parts.sort();
        let mut at = from_us;
        for (a, b) in &parts {
            prop_assert_eq!(*a, at);
            prop_assert!(b > a);
            at = *b;
        }
        prop_assert!(at == to_us || (to_us <= from_us && parts.is_empty()));
        let longest = if day { DAY_US } else { HOUR_US };
        prop_assert!(c.edges.iter().all(|(a, b)| b - a < longest));
        prop_assert!(c.buckets.iter().all(|(l, _)| *l >= finest));
    }
}

#[test]
fn a_year_is_months_and_a_few_days() {
    let from = Utc.with_ymd_and_hms(2026, 1, 3, 10, 30, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap();
    let c = cover(from.timestamp_micros(), to.timestamp_micros(), Level::Hour);
    let months = c.buckets.iter().filter(|(l, _)| *l == Level::Month).count();
    assert_eq!(months, 11, "February to December");
    assert!(c.buckets.len() < 80, "{}", c.buckets.len());
    assert_eq!(c.edges.len(), 1);
}

proptest! {
    // Cheap cases: many, so that each spread of values is seen often.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_histogram_sum_equals_merging_one_by_one(
        parts in proptest::collection::vec(
            proptest::collection::vec((0i64..40, -3i64..4), 0..30),
            0..19,
        ),
        spread in 0u8..4,
    ) {
        // Any number of parts (odd, even, none), sharing values, some
        // counts negative so that sums cancel; values close together
        // (summed in slots), far apart, or at both ends of i64 (merged).
        let value = |v: i64| match spread {
            0 => v,
            1 => v * 1_000_003,
            2 => i64::MAX - v,
            _ => if v % 2 == 0 { i64::MIN + v } else { i64::MAX - v },
        };
        let parts: Vec<Histogram> = parts
            .into_iter()
            .map(|pairs| {
                let mut h = Histogram::default();
                for (v, n) in pairs {
                    h.add(value(v), n);
                }
                h
            })
            .collect();
        let mut one_by_one = Histogram::default();
        for p in &parts {
            one_by_one.merge(p, 1);
        }
        // A reference that shares no code with either: counts per value.
        let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
        for (v, n) in parts.iter().flat_map(|p| p.pairs()) {
            *counts.entry(*v).or_default() += n;
        }
        counts.retain(|_, n| *n != 0);
        let expected: Vec<(i64, i64)> = counts.into_iter().collect();
        let sum = Histogram::sum(&parts);
        prop_assert_eq!(sum.pairs(), expected.as_slice());
        prop_assert_eq!(sum, one_by_one);
    }
}
