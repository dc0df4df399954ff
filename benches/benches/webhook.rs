//! Verify + decode of a realistic webhook mix, next to bare
//! `serde_json::Value` parsing of the same bytes.
//!
//! `cargo bench -p inbox-benches --bench webhook`

use chrono::Utc;
use criterion::{criterion_main, Criterion, Throughput};
use std::hint::black_box;

use inbox_benches::webhook_mix;
use inbox_whatsapp::{sign, Secret, Webhook, WebhookConfig};

fn bench(c: &mut Criterion) {
    let secret = Secret::new("bench-app-secret");
    let bodies = webhook_mix(100);
    let signed: Vec<(String, Vec<u8>)> = bodies
        .iter()
        .map(|b| (sign(&secret, b), b.clone()))
        .collect();
    let bytes: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    let hook = Webhook::new(WebhookConfig::new("verify", secret));
    let now = Utc::now();

    let mut g = c.benchmark_group("webhook_mix_100");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("serde_json_value_parse", |b| {
        b.iter(|| {
            for body in &bodies {
                let v: serde_json::Value =
                    serde_json::from_slice(black_box(body)).unwrap_or_default();
                black_box(v);
            }
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(inbox_whatsapp::decode_webhook(black_box(body), now).ok());
            }
        })
    });
    g.bench_function("verify_and_decode", |b| {
        b.iter(|| {
            for (sig, body) in &signed {
                black_box(hook.verify_and_decode(Some(sig), black_box(body), now).ok());
            }
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
