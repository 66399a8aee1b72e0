//! A provider kind's config as a typed struct: the named configs merged
//! into string pairs, read by serde into the kind's own `Settings` struct.
//!
//! Mark the struct `#[serde(deny_unknown_fields)]`: a key it does not have
//! is [`Error::UnknownKey`] naming the key and listing the ones it takes, a
//! missing required one is [`Error::MissingKey`], and a value that does
//! not parse is [`Error::BadValue`] naming its key. Values are strings on
//! the wire; fields may be strings, numbers, booleans or `Option`s of them.
//!
//! ```
//! use std::collections::BTreeMap;
//! use weft_capability::settings::read;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Settings {
//!     url: String,
//!     replicas: Option<u8>,
//! }
//!
//! let config = BTreeMap::from([("url".to_owned(), "nats://h".to_owned())]);
//! let s: Settings = read(&config).unwrap();
//! assert_eq!((s.url.as_str(), s.replicas), ("nats://h", None));
//! let typo = BTreeMap::from([("ulr".to_owned(), "x".to_owned())]);
//! let e = read::<Settings>(&typo).err().unwrap();
//! assert_eq!(e.to_string(), "unknown config key `ulr`; this provider takes: url, replicas");
//! ```

use crate::provider::Error;
use serde::de::value::MapDeserializer;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

/// Reads `config` into `T`, with errors that name the key.
pub fn read<T: DeserializeOwned>(config: &BTreeMap<String, String>) -> Result<T, Error> {
    // The key whose value is being read, to name it when the value is bad.
    let current = RefCell::new(String::new());
    let pairs = config.iter().map(|(key, value)| {
        current.replace(key.clone());
        (key.as_str(), Text(value.as_str()))
    });
    T::deserialize(MapDeserializer::<_, Failure>::new(pairs)).map_err(|e| match e {
        Failure::Known(e) => e,
        Failure::Value(reason) => Error::BadValue {
            key: current.take(),
            reason,
        },
    })
}

/// Why reading failed, as serde reports it.
#[derive(Debug)]
enum Failure {
    /// Already an error that names its key.
    Known(Error),
    /// A value could not be read; the key is added by [`read`].
    Value(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(e) => e.fmt(f),
            Self::Value(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Failure {}

impl de::Error for Failure {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Value(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::Known(Error::UnknownKey {
            key: field.to_owned(),
            known: if expected.is_empty() {
                "no keys".into()
            } else {
                expected.join(", ")
            },
        })
    }

    fn missing_field(field: &'static str) -> Self {
        Self::Known(Error::MissingKey(field.to_owned()))
    }
}

/// One config value: text that numbers and booleans are parsed from.
#[derive(Clone, Copy)]
struct Text<'a>(&'a str);

impl<'de> IntoDeserializer<'de, Failure> for Text<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// Parses the text as `T`, saying what was expected when it is not one.
fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, Failure> {
    text.trim()
        .parse()
        .map_err(|_| Failure::Value(format!("`{text}` is not {what}")))
}

/// `deserialize_*` for a type parsed from the text.
macro_rules! parsed {
    ($($method:ident => $ty:ty, $visit:ident, $what:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
                visitor.$visit(parse::<$ty>(self.0, $what)?)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Text<'de> {
    type Error = Failure;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        visitor.visit_some(self)
    }

    parsed! {
        deserialize_bool => bool, visit_bool, "true or false";
        deserialize_u8 => u8, visit_u8, "a whole number from 0 to 255";
        deserialize_u16 => u16, visit_u16, "a whole number from 0 to 65535";
        deserialize_u32 => u32, visit_u32, "a whole number";
        deserialize_u64 => u64, visit_u64, "a whole number";
        deserialize_i32 => i32, visit_i32, "a whole number";
        deserialize_i64 => i64, visit_i64, "a whole number";
        deserialize_f64 => f64, visit_f64, "a number";
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u128 f32 char str string bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        url: String,
        bucket: Option<String>,
        replicas: Option<u8>,
        #[serde(default)]
        reuse_port: bool,
        timeout_ms: Option<u64>,
    }

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_are_read_into_their_types() {
        let s: Settings = read(&config(&[
            ("url", "redis://h"),
            ("replicas", "3"),
            ("reuse_port", "true"),
            ("timeout_ms", " 250 "),
        ]))
        .unwrap();
        assert_eq!(s.url, "redis://h");
        assert_eq!(s.bucket, None);
        assert_eq!(s.replicas, Some(3));
        assert!(s.reuse_port);
        assert_eq!(s.timeout_ms, Some(250));
    }

    #[test]
    fn each_error_names_its_key() {
        let e = read::<Settings>(&config(&[("url", "x"), ("bukket", "b")])).unwrap_err();
        assert!(
            matches!(&e, Error::UnknownKey { key, known } if key == "bukket" && known.contains("bucket")),
            "{e}"
        );
        let e = read::<Settings>(&config(&[("bucket", "b")])).unwrap_err();
        assert!(matches!(&e, Error::MissingKey(key) if key == "url"), "{e}");
        let e = read::<Settings>(&config(&[("url", "x"), ("replicas", "many")])).unwrap_err();
        assert!(
            matches!(&e, Error::BadValue { key, reason } if key == "replicas" && reason.contains("`many`")),
            "{e}"
        );
        let e = read::<Settings>(&config(&[("url", "x"), ("reuse_port", "yes")])).unwrap_err();
        assert!(
            matches!(&e, Error::BadValue { key, .. } if key == "reuse_port"),
            "{e}"
        );
    }
}
