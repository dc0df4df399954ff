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
        if other.0.is_empty() || sign == 0 {
            return;
        }
        self.0 = merged(&self.0, &other.0, sign);
    }

    /// The sum of many histograms at once, equal to merging them one by
    /// one. When the values span a range not much wider than the pairs
    /// are many (seconds of response times: the same seconds in every
    /// month), each count is added into a slot per value and the slots
    /// read in order; otherwise the parts are merged two by two, then the
    /// sums two by two, and so on (each pair moved once a level).
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
        let parts: Vec<&[(i64, i64)]> = parts
            .into_iter()
            .map(|h| h.0.as_slice())
            .filter(|p| !p.is_empty())
            .collect();
        if let [one] = parts.as_slice() {
            return Histogram(one.to_vec());
        }
        let pairs: usize = parts.iter().map(|p| p.len()).sum();
        let low = parts.iter().filter_map(|p| p.first()).map(|x| x.0).min();
        let high = parts.iter().filter_map(|p| p.last()).map(|x| x.0).max();
        let span = low
            .zip(high)
            .and_then(|(l, h)| h.checked_sub(l))
            .and_then(|s| usize::try_from(s).ok());
        match (low, span) {
            (Some(low), Some(span)) if span < pairs.saturating_mul(4).max(4096) => {
                Histogram(in_slots(&parts, low, span))
            }
            _ => Histogram(merged_in_levels(&parts)),
        }
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

/// `a` plus `b` times `sign`, both sorted by value: sorted by value, no
/// zero count.
fn merged(a: &[(i64, i64)], b: &[(i64, i64)], sign: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        let next = match x.0.cmp(&y.0) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
                (x.0, x.1 + sign * y.1)
            }
            std::cmp::Ordering::Less => {
                i += 1;
                x
            }
            std::cmp::Ordering::Greater => {
                j += 1;
                (y.0, sign * y.1)
            }
        };
        if next.1 != 0 {
            out.push(next);
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend(b[j..].iter().map(|&(v, n)| (v, sign * n)));
    out
}

/// The sum of `parts` whose values lie in `low..=low + span`: a slot per
/// value, read in order.
fn in_slots(parts: &[&[(i64, i64)]], low: i64, span: usize) -> Vec<(i64, i64)> {
    let mut slots = vec![0i64; span + 1];
    for &(v, n) in parts.iter().flat_map(|p| p.iter()) {
        // `v - low` is within `0..=span`: `low` and `span` bound every part.
        if let Some(slot) = usize::try_from(v.wrapping_sub(low))
            .ok()
            .and_then(|i| slots.get_mut(i))
        {
            *slot += n;
        }
    }
    let mut out = Vec::new();
    for (i, n) in slots.into_iter().enumerate() {
        if n != 0 {
            // At most `low + span`: no overflow.
            out.push((low.wrapping_add(i as i64), n));
        }
    }
    out
}

/// The sum of `parts` merged two by two, then the sums two by two, and so
/// on.
fn merged_in_levels(parts: &[&[(i64, i64)]]) -> Vec<(i64, i64)> {
    let mut level: Vec<Vec<(i64, i64)>> = parts
        .chunks(2)
        .map(|two| match two {
            [a, b] => merged(a, b, 1),
            _ => two[0].to_vec(),
        })
        .collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut it = level.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => merged(&a, &b, 1),
                None => a,
            });
        }
        level = next;
    }
    level.pop().unwrap_or_default()
}
