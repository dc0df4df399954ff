//! Whether a value holds a NUL (U+0000) in any of its texts, found by
//! walking what it serialises, without serialising it: every string,
//! character and map key is looked at as serde hands it over, and nothing
//! is allocated or formatted. The first NUL stops the walk.
//!
//! It says exactly what serialising to JSON and looking for the escape
//! `\u0000` would (serde_json escapes a NUL in a string, a character or a
//! key that way, and nothing else reads so), without the false alarm of a
//! text that spells the escape out.

use serde::ser::{self, Serialize};
use std::fmt::{self, Display, Write as _};

/// Whether `value` holds a NUL in a text; `Err` with the value's own
/// serialisation error (a `Serialize` implementation that fails).
pub(crate) fn has_nul<T: Serialize + ?Sized>(value: &T) -> Result<bool, String> {
    match value.serialize(Scan) {
        Ok(()) => Ok(false),
        Err(Stop::Nul) => Ok(true),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Why the walk stopped early.
#[derive(Debug)]
enum Stop {
    /// A NUL was found.
    Nul,
    /// The value's serialisation failed.
    Failed(String),
}

impl Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Nul => f.write_str("a NUL"),
            Stop::Failed(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: Display>(msg: T) -> Self {
        Stop::Failed(msg.to_string())
    }
}

/// A text: `Err(Nul)` if it holds a NUL.
fn text(s: &str) -> Result<(), Stop> {
    match s.as_bytes().contains(&0) {
        true => Err(Stop::Nul),
        false => Ok(()),
    }
}

/// The serializer of the walk (it keeps nothing).
#[derive(Clone, Copy)]
struct Scan;

/// `fmt::Write` that looks at each piece of a `Display` for a NUL.
struct Pieces(bool);

impl fmt::Write for Pieces {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 |= s.as_bytes().contains(&0);
        Ok(())
    }
}

/// Serializer methods of values that cannot hold text.
macro_rules! no_text {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<(), Stop> {
            Ok(())
        })*
    };
}

impl ser::Serializer for Scan {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Scan;
    type SerializeTuple = Scan;
    type SerializeTupleStruct = Scan;
    type SerializeTupleVariant = Scan;
    type SerializeMap = Scan;
    type SerializeStruct = Scan;
    type SerializeStructVariant = Scan;

    no_text!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_bytes: &[u8], serialize_unit_struct: &'static str,
    );

    fn serialize_char(self, v: char) -> Result<(), Stop> {
        match v {
            '\0' => Err(Stop::Nul),
            _ => Ok(()),
        }
    }

    fn serialize_str(self, v: &str) -> Result<(), Stop> {
        text(v)
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Stop> {
        let mut pieces = Pieces(false);
        write!(pieces, "{value}").map_err(ser::Error::custom)?;
        match pieces.0 {
            true => Err(Stop::Nul),
            false => Ok(()),
        }
    }

    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Stop> {
        text(v)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        text(variant)?;
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Scan, Stop> {
        Ok(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<Scan, Stop> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Scan, Stop> {
        Ok(self)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Scan, Stop> {
        text(variant).map(|()| self)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Scan, Stop> {
        Ok(self)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Scan, Stop> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Scan, Stop> {
        text(variant).map(|()| self)
    }
}

/// The compound forms: each element, key and value walked in turn.
macro_rules! walk_elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl ser::$trait for Scan {
            type Ok = ();
            type Error = Stop;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
                value.serialize(Scan)
            }

            fn end(self) -> Result<(), Stop> {
                Ok(())
            }
        })*
    };
}

walk_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Scan {
    type Ok = ();
    type Error = Stop;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        key.serialize(Scan)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        value.serialize(Scan)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

/// Structs' field names are the program's own: only the values are walked.
macro_rules! walk_fields {
    ($($trait:ident),* $(,)?) => {
        $(impl ser::$trait for Scan {
            type Ok = ();
            type Error = Stop;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                _: &'static str,
                value: &T,
            ) -> Result<(), Stop> {
                value.serialize(Scan)
            }

            fn end(self) -> Result<(), Stop> {
                Ok(())
            }
        })*
    };
}

walk_fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::has_nul;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, Serialize)]
    enum Part {
        Word(String),
        Letter(char),
        Pair(String, u32),
        Named {
            name: String,
            at: chrono::DateTime<chrono::Utc>,
        },
        Shown(Shown),
        Nothing,
    }

    /// A text serialised through `collect_str` (as `Display` types are).
    #[derive(Debug, Clone)]
    struct Shown(String);

    impl Serialize for Shown {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }

    #[derive(Debug, Clone, Serialize)]
    struct Doc {
        title: Option<String>,
        parts: Vec<Part>,
        labels: BTreeMap<String, Vec<Part>>,
        raw: serde_json::Value,
    }

    /// What serialising to JSON says: a NUL anywhere is the escape
    /// `\u0000` not preceded by a backslash of its own.
    fn serialised_has_nul(doc: &Doc) -> bool {
        let text = serde_json::to_string(doc).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        fn walk(v: &serde_json::Value) -> bool {
            match v {
                serde_json::Value::String(s) => s.contains('\0'),
                serde_json::Value::Array(a) => a.iter().any(walk),
                serde_json::Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || walk(v)),
                _ => false,
            }
        }
        walk(&value)
    }

    fn text() -> impl Strategy<Value = String> {
        // Mostly plain, sometimes a NUL or a spelt-out escape.
        prop::collection::vec(
            prop_oneof![
                8 => "[a-z ]{0,3}",
                1 => Just("\0".to_string()),
                1 => Just("\\u0000".to_string()),
            ],
            0..4,
        )
        .prop_map(|p| p.concat())
    }

    fn part() -> impl Strategy<Value = Part> {
        prop_oneof![
            text().prop_map(Part::Word),
            prop_oneof![Just('a'), Just('\0'), Just('é')].prop_map(Part::Letter),
            (text(), any::<u32>()).prop_map(|(s, n)| Part::Pair(s, n)),
            (text(), 0i64..2_000_000_000).prop_map(|(name, secs)| Part::Named {
                name,
                at: chrono::DateTime::from_timestamp(secs, 0).unwrap(),
            }),
            text().prop_map(|s| Part::Shown(Shown(s))),
            Just(Part::Nothing),
        ]
    }

    fn doc() -> impl Strategy<Value = Doc> {
        (
            prop::option::of(text()),
            prop::collection::vec(part(), 0..4),
            prop::collection::btree_map(text(), prop::collection::vec(part(), 0..3), 0..3),
            text(),
        )
            .prop_map(|(title, parts, labels, raw)| Doc {
                title,
                parts,
                labels,
                raw: serde_json::json!({ "k": [raw] }),
            })
    }

    proptest! {
        #[test]
        fn finds_a_nul_exactly_when_the_json_holds_one(d in doc()) {
            prop_assert_eq!(has_nul(&d).unwrap(), serialised_has_nul(&d));
        }
    }

    #[test]
    fn a_spelt_out_escape_is_not_a_nul() {
        assert!(!has_nul("\\u0000").unwrap());
        assert!(has_nul("a\0b").unwrap());
        assert!(has_nul(&['x', '\0']).unwrap());
        assert!(has_nul(&BTreeMap::from([("k\0".to_string(), 1)])).unwrap());
    }
}
