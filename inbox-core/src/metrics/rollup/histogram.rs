//! Exact multisets of whole numbers, and their distributions.

use serde::{Deserialize, Serialize};

use crate::metrics::Distribution;

/// A multiset of whole numbers: `(value, count)` pairs by value, no zero
/// count. Counts may be negative in a difference of two tallies.
///
/// ```
/// use inbox_core::metrics::rollup::Histogram;
/// use inbox_core::metrics::Distribution;
/// let mut h = Histogram::default();
/// for v in [30, 10, 20, 40] {
///     h.add(v, 1);
/// }
/// assert_eq!(h.distribution(), Distribution::of(vec![30, 10, 20, 40]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram(Vec<(i64, i64)>);

impl Histogram {
    /// Adds `n` (negative: removes) of `value`.
    pub fn add(&mut self, value: i64, n: i64) {
        match self.0.binary_search_by_key(&value, |(v, _)| *v) {
            Ok(i) => {
                self.0[i].1 += n;
                if self.0[i].1 == 0 {
                    self.0.remove(i);
                }
            }
            Err(i) if n != 0 => self.0.insert(i, (value, n)),
            Err(_) => {}
        }
    }

    /// Adds `other` times `sign` (`-1`: takes it away).
    pub fn merge(&mut self, other: &Histogram, sign: i64) {
        if other.0.is_empty() {
            return;
        }
        let (a, b) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let next = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    i += 1;
                    j += 1;
                    (x.0, x.1 + sign * y.1)
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    i += 1;
                    *x
                }
                (Some(x), None) => {
                    i += 1;
                    *x
                }
                (_, Some(y)) => {
                    j += 1;
                    (y.0, sign * y.1)
                }
                (None, None) => break,
            };
            if next.1 != 0 {
                out.push(next);
            }
        }
        self.0 = out;
    }

    /// The sum of many histograms at once: every pair gathered, sorted
    /// once (each part is already sorted, so the sort merges runs) and
    /// counts of one value added. Equal to merging them one by one, but
    /// each pair is moved once instead of once per later merge.
    ///
    /// ```
    /// use inbox_core::metrics::rollup::Histogram;
    /// let (mut a, mut b) = (Histogram::default(), Histogram::default());
    /// a.add(10, 2);
    /// b.add(10, -2);
    /// b.add(5, 1);
    /// assert_eq!(Histogram::sum([&a, &b]).pairs(), &[(5, 1)]);
    /// ```
    pub fn sum<'a>(parts: impl IntoIterator<Item = &'a Histogram>) -> Histogram {
        let mut pairs: Vec<(i64, i64)> = parts
            .into_iter()
            .flat_map(|h| h.0.iter().copied())
            .collect();
        pairs.sort_by_key(|(v, _)| *v);
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(pairs.len());
        for (v, n) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == v => last.1 += n,
                _ => out.push((v, n)),
            }
        }
        out.retain(|(_, n)| *n != 0);
        Histogram(out)
    }

    /// How many values.
    pub fn count(&self) -> i64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    /// How many values are at most `limit`.
    pub fn count_at_most(&self, limit: i64) -> i64 {
        let end = self.0.partition_point(|(v, _)| *v <= limit);
        self.0[..end].iter().map(|(_, n)| n).sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `(value, count)` pairs, by value.
    pub fn pairs(&self) -> &[(i64, i64)] {
        &self.0
    }

    /// The values' [`Distribution`]: the same as [`Distribution::of`](crate::metrics::Distribution::of) the
    /// values one by one (nearest-rank percentiles; the mean of the exact
    /// sum).
    pub fn distribution(&self) -> Distribution {
        let n = self.count();
        if n <= 0 {
            return Distribution::default();
        }
        let rank = |p: f64| {
            let r = ((p * n as f64).ceil() as i64).clamp(1, n);
            let mut seen = 0;
            for (v, c) in &self.0 {
                seen += c;
                if seen >= r {
                    return *v;
                }
            }
            self.0.last().map(|(v, _)| *v).unwrap_or_default()
        };
        let sum: i128 = self.0.iter().map(|(v, c)| *v as i128 * *c as i128).sum();
        Distribution {
            count: n as u64,
            avg_secs: Some(sum as f64 / n as f64),
            median_secs: Some(rank(0.5)),
            p90_secs: Some(rank(0.9)),
        }
    }
}
