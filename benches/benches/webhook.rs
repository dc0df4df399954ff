//! Verify + decode of a realistic webhook mix, next to bare
//! `serde_json::Value` parsing of the same bytes; and our verify + decode
//! next to a peer's plain typed parse (#28 goal 5).
//!
//! `cargo bench -p inbox-benches --bench webhook`
//!
//! Group `decode_vs_peer`: the bodies are the realistic mix
//! ([`webhook_mix`]) and the adapter's real-world fixtures
//! ([`webhook_fixtures`]), kept only when the crates.io `whatsapp` crate's
//! typed payload (`whatsapp::models::webhooks::NotificationPayload`) parses
//! them. `peer_typed_parse` parses each into that type (no signature);
//! `ours_verify_decode` is [`Webhook::verify_and_decode`] on the same body,
//! signed. After criterion, both loops are timed again in alternation
//! (`std::time::Instant`, 21 rounds, median of each) so that a machine
//! shared with other work slows both alike; the last line printed is
//! `decode ours_verify_decode_vs_peer_parse=<ours / peer>`, from those
//! medians. Criterion's own median estimates, when it wrote them, are
//! printed on the line before. With `DECODE_PER_BODY=1`, each body's
//! time, ours and the peer's, is printed too (before those lines), the
//! largest differences first.

use chrono::Utc;
use criterion::{Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

use inbox_benches::{webhook_fixtures, webhook_mix};
use inbox_whatsapp::{sign, Secret, Webhook, WebhookConfig};
use whatsapp::models::webhooks::NotificationPayload;

fn bench_mix(c: &mut Criterion) {
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

/// The peer's plain typed parse of one body.
fn peer_parse(body: &[u8]) -> bool {
    serde_json::from_slice::<NotificationPayload>(body)
        .map(black_box)
        .is_ok()
}

/// The bodies both sides are measured on, signed, and the hook that
/// verifies them.
struct Peered {
    hook: Webhook,
    signed: Vec<(String, Vec<u8>)>,
    names: Vec<String>,
}

impl Peered {
    fn new() -> Self {
        let secret = Secret::new("bench-app-secret");
        let mut candidates: Vec<(String, Vec<u8>)> = webhook_mix(100)
            .into_iter()
            .enumerate()
            .map(|(i, b)| (format!("mix[{i}]"), b))
            .collect();
        candidates.extend(webhook_fixtures());
        let total = candidates.len();
        let mut refused = Vec::new();
        let mut signed = Vec::new();
        let mut names = Vec::new();
        for (name, body) in candidates {
            if peer_parse(&body) {
                signed.push((sign(&secret, &body), body));
                names.push(name);
            } else {
                refused.push(name);
            }
        }
        eprintln!(
            "decode_vs_peer: the peer parses {} of {total} bodies ({} bytes); refused: {}",
            signed.len(),
            signed.iter().map(|(_, b)| b.len()).sum::<usize>(),
            refused.join(" ")
        );
        Self {
            hook: Webhook::new(WebhookConfig::new("verify", secret)),
            signed,
            names,
        }
    }

    fn peer(&self) {
        for (_, body) in &self.signed {
            black_box(peer_parse(black_box(body)));
        }
    }

    fn ours(&self, now: chrono::DateTime<Utc>) {
        for (sig, body) in &self.signed {
            let r = self.hook.verify_and_decode(Some(sig), black_box(body), now);
            black_box(r.ok());
        }
    }
}

fn bench_peer(c: &mut Criterion, peered: &Peered) {
    let now = Utc::now();
    let bytes: u64 = peered.signed.iter().map(|(_, b)| b.len() as u64).sum();
    let mut g = c.benchmark_group("decode_vs_peer");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("peer_typed_parse", |b| b.iter(|| peered.peer()));
    g.bench_function("ours_verify_decode", |b| b.iter(|| peered.ours(now)));
    g.finish();
}

/// With `DECODE_PER_BODY` set: each body's time, ours and the peer's
/// (median of 9 rounds of 300 passes), the costliest differences first, so
/// that the bodies where ours loses most are seen.
fn per_body(peered: &Peered) {
    let now = Utc::now();
    let time = |f: &dyn Fn()| {
        let mut s: Vec<Duration> = (0..9)
            .map(|_| {
                let t = Instant::now();
                (0..300).for_each(|_| f());
                t.elapsed()
            })
            .collect();
        median_per_pass(&mut s, 300)
    };
    let mut rows: Vec<(f64, f64, &str, usize)> = peered
        .signed
        .iter()
        .zip(&peered.names)
        .map(|((sig, body), name)| {
            let p = time(&|| {
                black_box(peer_parse(black_box(body)));
            });
            let o = time(&|| {
                black_box(
                    peered
                        .hook
                        .verify_and_decode(Some(sig), black_box(body), now)
                        .ok(),
                );
            });
            (o, p, name.as_str(), body.len())
        })
        .collect();
    rows.sort_by(|a, b| (b.0 - b.1).total_cmp(&(a.0 - a.1)));
    for (o, p, name, len) in rows {
        println!(
            "decode body {name} bytes={len} ours_us={:.2} peer_us={:.2} ratio={:.2}",
            o * 1e6,
            p * 1e6,
            o / p
        );
    }
}

/// The median of `rounds` timings of `passes` passes of `f`, per pass.
fn median_per_pass(samples: &mut [Duration], passes: u32) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() / f64::from(passes)
}

/// Both loops timed in alternation; (peer, ours) seconds per pass over the
/// bodies.
fn interleaved(peered: &Peered, rounds: usize, passes: u32) -> (f64, f64) {
    let now = Utc::now();
    let (mut peer, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..passes {
            peered.peer();
        }
        peer.push(t.elapsed());
        let t = Instant::now();
        for _ in 0..passes {
            peered.ours(now);
        }
        ours.push(t.elapsed());
    }
    (
        median_per_pass(&mut peer, passes),
        median_per_pass(&mut ours, passes),
    )
}

/// Criterion's median estimate (ns) of `decode_vs_peer/<id>`, when it
/// wrote one where it writes by default.
fn criterion_median(id: &str) -> Option<f64> {
    let base = std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(|t| std::path::PathBuf::from(t).join("criterion"))
        })
        .or_else(|| {
            // target/release/deps/webhook-… → target/criterion
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.join("criterion"))
        })?;
    let text = std::fs::read_to_string(
        base.join("decode_vs_peer")
            .join(id)
            .join("new/estimates.json"),
    )
    .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("median")?.get("point_estimate")?.as_f64()
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    bench_mix(&mut c);
    let peered = Peered::new();
    bench_peer(&mut c, &peered);
    c.final_summary();
    if measuring && std::env::var_os("DECODE_PER_BODY").is_some() {
        per_body(&peered);
    }
    // Under `cargo test --benches` one short round only proves it runs.
    let (rounds, passes) = if measuring { (21, 200) } else { (1, 1) };
    let (peer, ours) = interleaved(&peered, rounds, passes);
    if measuring {
        if let (Some(p), Some(o)) = (
            criterion_median("peer_typed_parse"),
            criterion_median("ours_verify_decode"),
        ) {
            println!(
                "decode criterion medians: peer_typed_parse={:.1} µs ours_verify_decode={:.1} µs ratio={:.3}",
                p / 1e3,
                o / 1e3,
                o / p
            );
        }
    }
    println!(
        "decode interleaved medians ({} bodies, {rounds} rounds of {passes} passes): peer_typed_parse={:.1} µs ours_verify_decode={:.1} µs",
        peered.signed.len(),
        peer * 1e6,
        ours * 1e6
    );
    println!("decode ours_verify_decode_vs_peer_parse={:.3}", ours / peer);
}
