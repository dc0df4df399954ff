//! [`Amount`]: money in integer millionths of the currency unit.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An amount of money as a whole number of millionths of the currency
/// unit (`0.025` USD is 25 000): sums and products are exact integers,
/// never floating point. Meta's rate cards go to four decimals; six leave
/// room.
///
/// Written and read as a decimal string (`"0.025"`); a settings document
/// may also give a number (`0.025`), read from its shortest decimal form.
///
/// ```
/// use inbox_core::pricing::Amount;
/// let rate = Amount::parse("0.0250").unwrap();
/// assert_eq!(rate, Amount::from_micros(25_000));
/// assert_eq!(rate.times(3).unwrap().to_string(), "0.075");
/// assert_eq!(Amount::parse("-1.5").unwrap().to_string(), "-1.5");
/// assert!(Amount::parse("0.0000001").is_err()); // more than six decimals
/// assert!(Amount::parse("1,5").is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// Millionths in one unit.
    pub const MICROS_PER_UNIT: i64 = 1_000_000;

    /// Nothing.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `micros` millionths of the unit.
    pub const fn from_micros(micros: i64) -> Self {
        Amount(micros)
    }

    /// The amount in millionths of the unit.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Reads a decimal (`12`, `0.025`, `-1.5`): digits with at most one
    /// point and six decimals, an optional leading `-`. The reason is
    /// returned when it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            || format!("{text:?} is not an amount (a decimal such as 0.025, at most six decimals)");
        let (negative, digits) = match text.trim().strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.trim()),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || !all_digits(fraction) || fraction.len() > 6 {
            return Err(bad());
        }
        let padded = format!("{fraction:0<6}");
        let micros = whole
            .parse::<i64>()
            .ok()
            .and_then(|w| w.checked_mul(Self::MICROS_PER_UNIT))
            .and_then(|w| w.checked_add(padded.parse::<i64>().ok()?))
            .ok_or_else(bad)?;
        Ok(Amount(if negative { -micros } else { micros }))
    }

    /// `count` times this amount; `None` on overflow.
    pub fn times(self, count: u64) -> Option<Amount> {
        i64::try_from(count)
            .ok()
            .and_then(|n| self.0.checked_mul(n))
            .map(Amount)
    }

    /// The sum; `None` on overflow.
    pub fn plus(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    /// The shortest decimal: `0.025`, `2`, `-1.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = Self::MICROS_PER_UNIT as u64;
        let (whole, fraction) = (abs / per, abs % per);
        if fraction == 0 {
            return write!(f, "{sign}{whole}");
        }
        let fraction = format!("{fraction:06}");
        write!(f, "{sign}{whole}.{}", fraction.trim_end_matches('0'))
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount such as \"0.025\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Amount, E> {
                Amount::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Amount, E> {
                Amount::parse(&v.to_string()).map_err(E::custom)
            }
            /// A number written in a document (`0.025`): Rust prints a
            /// float as the shortest decimal that reads back as it, never
            /// in exponent form, so this is the decimal that was written.
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Amount, E> {
                if !v.is_finite() {
                    return Err(E::custom("not an amount"));
                }
                Amount::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_and_print_exactly() {
        for (text, micros, printed) in [
            ("0", 0, "0"),
            ("0.025", 25_000, "0.025"),
            ("0.0250", 25_000, "0.025"),
            ("12", 12_000_000, "12"),
            ("1.000001", 1_000_001, "1.000001"),
            ("-0.5", -500_000, "-0.5"),
            (" 3.10 ", 3_100_000, "3.1"),
        ] {
            let a = Amount::parse(text).unwrap();
            assert_eq!(
                (a.micros(), a.to_string().as_str()),
                (micros, printed),
                "{text}"
            );
        }
        for bad in [
            "",
            ".5",
            "1.",
            "abc",
            "1e3",
            "1.2.3",
            "--1",
            "0.1234567",
            "99999999999999999",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn documents_give_strings_or_numbers() {
        let from = |v: serde_json::Value| serde_json::from_value::<Amount>(v);
        assert_eq!(from(serde_json::json!(0.0148)).unwrap().micros(), 14_800);
        assert_eq!(from(serde_json::json!("0.0148")).unwrap().micros(), 14_800);
        assert_eq!(from(serde_json::json!(2)).unwrap().micros(), 2_000_000);
        assert!(from(serde_json::json!(0.00000001)).is_err());
        assert_eq!(
            serde_json::to_value(Amount::from_micros(14_800)).unwrap(),
            "0.0148"
        );
    }

    #[test]
    fn products_overflow_to_none() {
        assert_eq!(Amount::from_micros(i64::MAX).times(2), None);
        assert_eq!(Amount::from_micros(1).times(u64::MAX), None);
        assert_eq!(
            Amount::from_micros(5).times(3),
            Some(Amount::from_micros(15))
        );
    }
}
