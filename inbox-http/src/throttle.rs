//! Against password guessing: rate limits per account and per client
//! address (`governor`, on the inbox's clock), lockouts that grow with
//! consecutive failures, and a gate that bounds how many password hashes
//! run at once (each Argon2id check holds 19 MiB while it runs).

use chrono::{DateTime, Utc};
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::RateLimiter;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use inbox_core::ports::Clock;
use inbox_core::{AgentId, TenantId};

use super::auth::HashMemory;
use super::settings::{Lockout, SignInLimits};

/// Whose password is being guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Account {
    /// An agent with a password, of a tenant (the same agent id in
    /// another tenant is another account).
    Agent(TenantId, AgentId),
    /// Any name that is no agent (one shared key, so made-up names cannot
    /// grow the limiter's memory).
    Unknown,
}

/// Where guesses come from: an IPv4 address, an IPv6 /64 (one subscriber
/// gets a whole /64), or unknown (no peer address: all such share a key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(Option<IpAddr>);

impl Address {
    /// The key of a client address.
    pub fn of(ip: Option<IpAddr>) -> Self {
        Self(ip.map(|ip| match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(bits.into())
                }
            },
        }))
    }
}

/// The inbox's clock as `governor` wants it: time since the limiter began.
#[derive(Clone)]
struct InboxClock {
    clock: Arc<dyn Clock>,
    epoch: DateTime<Utc>,
}

impl GovernorClock for InboxClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        (self.clock.now() - self.epoch)
            .to_std()
            .unwrap_or(Duration::ZERO)
    }
}

type Limiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, InboxClock, NoOpMiddleware<Duration>>;

/// Consecutive failures of one key.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
    locked_until: DateTime<Utc>,
}

/// Failures per key, and the lockouts they earned.
#[derive(Debug)]
struct Lockouts<K> {
    policy: Lockout,
    capacity: usize,
    keys: HashMap<K, Failures>,
}

impl<K: std::hash::Hash + Eq + Clone> Lockouts<K> {
    fn new(policy: Lockout, capacity: usize) -> Self {
        Self {
            policy,
            capacity: capacity.max(1),
            keys: HashMap::new(),
        }
    }

    /// How long `key` is still locked out.
    fn remaining(&self, key: &K, now: DateTime<Utc>) -> Option<Duration> {
        let f = self.keys.get(key)?;
        (f.locked_until > now).then(|| (f.locked_until - now).to_std().unwrap_or_default())
    }

    fn failed(&mut self, key: &K, now: DateTime<Utc>) {
        let forget =
            chrono::TimeDelta::from_std(self.policy.forget_after).unwrap_or(chrono::TimeDelta::MAX);
        if !self.keys.contains_key(key) && self.keys.len() >= self.capacity {
            self.prune(now, forget);
        }
        let f = self.keys.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: now,
        });
        if now.signed_duration_since(f.last) > forget {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        let lock = chrono::TimeDelta::from_std(self.policy.after(f.count))
            .unwrap_or(chrono::TimeDelta::MAX);
        f.locked_until = now.checked_add_signed(lock).unwrap_or(now);
    }

    fn succeeded(&mut self, key: &K) {
        self.keys.remove(key);
    }

    /// Forgets quiet keys; if still full, the quietest.
    fn prune(&mut self, now: DateTime<Utc>, forget: chrono::TimeDelta) {
        self.keys
            .retain(|_, f| f.locked_until > now || now.signed_duration_since(f.last) <= forget);
        if self.keys.len() >= self.capacity {
            let mut by_age: Vec<(DateTime<Utc>, K)> =
                self.keys.iter().map(|(k, f)| (f.last, k.clone())).collect();
            by_age.sort_by_key(|(last, _)| *last);
            for (_, k) in by_age.into_iter().take(self.capacity / 10 + 1) {
                self.keys.remove(&k);
            }
        }
    }
}

/// Rate limits and lockouts of sign-in, per account and per address.
pub struct Throttle {
    clock: Arc<dyn Clock>,
    account_rate: Limiter<Account>,
    address_rate: Limiter<Address>,
    accounts: Mutex<Lockouts<Account>>,
    addresses: Mutex<Lockouts<Address>>,
    checks: AtomicUsize,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

impl Throttle {
    /// Limits on the inbox's `clock`.
    pub fn new(limits: &SignInLimits, clock: Arc<dyn Clock>) -> Self {
        let governed = InboxClock {
            clock: clock.clone(),
            epoch: clock.now(),
        };
        Self {
            clock,
            account_rate: RateLimiter::new(
                limits.per_account,
                DefaultKeyedStateStore::default(),
                governed.clone(),
            ),
            address_rate: RateLimiter::new(
                limits.per_address,
                DefaultKeyedStateStore::default(),
                governed,
            ),
            accounts: Mutex::new(Lockouts::new(limits.account_lockout, usize::MAX)),
            addresses: Mutex::new(Lockouts::new(
                limits.address_lockout,
                limits.tracked_addresses,
            )),
            checks: AtomicUsize::new(0),
        }
    }

    /// May this attempt go ahead? `Err` says how long to wait. A locked
    /// out account or address is refused before anything is counted.
    pub fn admit(&self, account: &Account, address: Address) -> Result<(), Duration> {
        let now = self.clock.now();
        let locked = [
            lock(&self.accounts).remaining(account, now),
            lock(&self.addresses).remaining(&address, now),
        ];
        if let Some(wait) = locked.into_iter().flatten().max() {
            return Err(wait);
        }
        self.tidy();
        let from_now = self.address_rate.clock().now();
        self.address_rate
            .check_key(&address)
            .map_err(|n| n.wait_time_from(from_now))?;
        self.account_rate
            .check_key(account)
            .map_err(|n| n.wait_time_from(from_now))
    }

    /// Records how an admitted attempt went.
    pub fn record(&self, account: &Account, address: Address, ok: bool) {
        let now = self.clock.now();
        if ok {
            // Only the account starts over: signing in to one's own account
            // does not clear an address guessing others'.
            lock(&self.accounts).succeeded(account);
        } else {
            lock(&self.accounts).failed(account, now);
            lock(&self.addresses).failed(&address, now);
        }
    }

    /// Now and then, drops rate limiter keys that are back to a fresh state.
    fn tidy(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.address_rate.retain_recent();
            self.address_rate.shrink_to_fit();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Job = Box<dyn FnOnce(&mut HashMemory) + Send>;

/// Runs password hashes on a fixed set of threads, a bounded number more
/// waiting. Dedicated threads, not tokio's blocking pool: each Argon2
/// check allocates 19 MiB, and the allocator keeps what a thread freed for
/// that thread's next use; spread over the blocking pool's changing
/// threads, two checks at a time still grew the process by hundreds of MB.
/// Each of the `concurrent` long-lived threads keeps one [`HashMemory`]
/// and lends it to every check it runs, so the peak stays near
/// `concurrent` times 19 MiB.
#[derive(Debug)]
pub struct HashGate {
    admitted: Arc<Semaphore>,
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
    peak: Arc<AtomicUsize>,
}

impl HashGate {
    /// `concurrent` threads (at least one), `waiting` more checks queued.
    pub fn new(concurrent: usize, waiting: usize) -> Self {
        let concurrent = concurrent.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for i in 0..concurrent {
            let (queue, running, peak) = (queue.clone(), running.clone(), peak.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || work(&queue, &running, &peak));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password check thread");
            }
        }
        Self {
            admitted: Arc::new(Semaphore::new(concurrent.saturating_add(waiting))),
            jobs: Mutex::new(jobs),
            peak,
        }
    }

    /// A place in the queue, or `None` when it is full.
    pub fn try_admit(&self) -> Option<Admitted<'_>> {
        let permit = self.admitted.clone().try_acquire_owned().ok()?;
        Some(Admitted { gate: self, permit })
    }

    /// The most hashes that have run at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// A check thread: runs jobs until the gate is dropped.
fn work(queue: &Mutex<std::sync::mpsc::Receiver<Job>>, running: &AtomicUsize, peak: &AtomicUsize) {
    let mut memory = HashMemory::default();
    loop {
        let job = lock(queue).recv();
        let Ok(job) = job else { return };
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        // A panicking check fails its request, not the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)));
        running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An admitted password check, holding its place until it has run.
#[derive(Debug)]
pub struct Admitted<'a> {
    gate: &'a HashGate,
    permit: OwnedSemaphorePermit,
}

impl Admitted<'_> {
    /// Queues `check` for a check thread and waits for it. `None` if it did
    /// not run to the end (it panicked, or no thread could be started).
    /// The place in the queue is held until the check has run, also when
    /// the caller stops waiting (a client that hangs up frees nothing
    /// early).
    pub async fn run<T: Send + 'static>(
        self,
        check: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let permit = self.permit;
        let job: Job = Box::new(move |memory| {
            let out = check(memory);
            drop(permit);
            let _ = tx.send(out);
        });
        lock(&self.gate.jobs).send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a = Address::of("2001:db8:1:2:aaaa::1".parse().ok());
        let b = Address::of("2001:db8:1:2:bbbb::2".parse().ok());
        let c = Address::of("2001:db8:1:3::1".parse().ok());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Address::of("::ffff:192.0.2.1".parse().ok()),
            Address::of("192.0.2.1".parse().ok())
        );
    }

    #[test]
    fn a_full_table_forgets_the_quietest_addresses() {
        let policy = SignInLimits::default().address_lockout;
        let mut l = Lockouts::new(policy, 10);
        let t0 = Utc::now();
        for i in 0..25u8 {
            let at = t0 + chrono::TimeDelta::seconds(i64::from(i));
            l.failed(&Address::of(Some([10, 0, 0, i].into())), at);
        }
        assert!(l.keys.len() <= 10, "{}", l.keys.len());
        assert!(l
            .keys
            .contains_key(&Address::of(Some([10, 0, 0, 24].into()))));
    }
}
