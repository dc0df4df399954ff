//! `Inbox::tick` on the memory store with 1,000,000 open (snoozed)
//! conversations of which 1,000 are due at each tick.
//!
//! `cargo bench -p inbox-benches --bench tick`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{criterion_main, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};

use inbox_core::model::{Channel, Conversation, ConversationStatus, Tenant};
use inbox_core::ports::{Changeset, Conversations, ManualClock, SequentialIds, Write};
use inbox_core::testing::{RecordingBus, RecordingTransport};
use inbox_core::timer::{timer_changes, TimerPolicy};
use inbox_core::{ChannelId, ContactId, ConversationId, Inbox, InboxConfig, Ports, TenantId};
use inbox_store_memory::MemoryStore;

const CONVERSATIONS: i64 = 1_000_000;
const DUE_PER_TICK: i64 = 1_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let store = Arc::new(MemoryStore::new());
    let config = InboxConfig::default();
    let inbox = Inbox::new(
        Ports {
            store: store.clone(),
            transport: Arc::new(RecordingTransport::new()),
            bus: Arc::new(RecordingBus::new()),
            clock: Arc::new(ManualClock::new(start)),
            ids: Arc::new(SequentialIds::default()),
        },
        config.clone(),
    );
    let tenant = TenantId::new("bench").unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        inbox
            .provision_tenant(&Tenant::new(tenant.clone(), "Bench"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ch = ChannelId::new("main").unwrap_or_else(|e| panic!("{e}"));
        inbox
            .provision_channel(&Channel::new(tenant.clone(), ch.clone(), "1", "+1"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let t0 = Instant::now();
        for i in 0..CONVERSATIONS {
            let mut conv = Conversation::new(
                tenant.clone(),
                ConversationId::new(format!("c{i}")).unwrap_or_else(|e| panic!("{e}")),
                ch.clone(),
                ContactId::new(format!("k{i}")).unwrap_or_else(|e| panic!("{e}")),
                start,
            );
            conv.status = ConversationStatus::Snoozed;
            // 1,000 wake up in each minute.
            conv.snoozed_until = Some(start + TimeDelta::minutes(1 + i / DUE_PER_TICK));
            conv.version = 1;
            let timers = timer_changes(None, &conv, &TimerPolicy::default());
            store
                .commit(Changeset {
                    conversation: Some(Write {
                        value: conv,
                        expected_version: None,
                    }),
                    timers,
                    ..Changeset::new(tenant.clone())
                })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        eprintln!(
            "seeded {CONVERSATIONS} snoozed conversations in {:.1?}",
            t0.elapsed()
        );
    });
    let mut minute = 0i64;
    let mut g = c.benchmark_group("tick");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("1M_open_1000_due", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                minute += 1;
                let now = start + TimeDelta::minutes(minute);
                let t = Instant::now();
                let r = rt
                    .block_on(inbox.tick(now, 10_000))
                    .unwrap_or_else(|e| panic!("{e}"));
                total += t.elapsed();
                assert!(
                    minute > CONVERSATIONS / DUE_PER_TICK || r.woken == DUE_PER_TICK as u32,
                    "{r:?}"
                );
            }
            total
        })
    });
    g.finish();
}

/// Runs the benchmarks: what `criterion_group!(benches, bench)` writes, with
/// the doc comment criterion 0.7's macro leaves out.
pub fn benches() {
    bench(&mut Criterion::default().configure_from_args());
}

criterion_main!(benches);
