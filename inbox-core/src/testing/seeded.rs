//! Deterministic pseudo-random numbers for tests and benchmarks, so that a
//! failure or a figure replays exactly.

/// A xorshift64 generator: small, fast, and the same sequence on every
/// machine for the same seed (not for anything secret).
///
/// ```
/// use inbox_core::testing::Seeded;
/// let mut a = Seeded::new(7);
/// let mut b = Seeded::new(7);
/// assert_eq!(a.below(100), b.below(100));
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    /// A generator from `seed` (a zero seed is moved off zero, where
    /// xorshift would stay).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
