//! JSON text to a `serde_json::Value`, refusing an object that repeats a
//! key. `serde_json` keeps the last of repeated keys silently, so a proxy
//! or a log reader that keeps the first would see another value than the
//! service acts on; the contract makes such a body 422 instead.

use std::cell::RefCell;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a body could not become a value.
#[derive(Debug)]
pub enum ParseError {
    /// Not JSON: serde_json's message.
    Syntax(serde_json::Error),
    /// An object repeats this key.
    Duplicate(String),
}

/// Parses `bytes` as one JSON value whose objects never repeat a key.
///
/// # Errors
/// [`ParseError::Duplicate`] naming the first repeated key, else
/// [`ParseError::Syntax`].
pub fn parse(bytes: &[u8]) -> Result<Value, ParseError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict(&duplicate)
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    parsed.map_err(|e| match duplicate.into_inner() {
        Some(key) => ParseError::Duplicate(key),
        None => ParseError::Syntax(e),
    })
}

/// The seed carrying where to note a repeated key (serde_json's error type
/// cannot say which kind of error it is).
#[derive(Clone, Copy)]
struct Strict<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            if object.contains_key(&key) {
                let message = format!("duplicate key {key:?}");
                *self.0.borrow_mut() = Some(key);
                return Err(de::Error::custom(message));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_parse_as_serde_json_does() {
        let text = br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_slice::<Value>(text).unwrap()
        );
        assert_eq!(parse(b" 5 ").unwrap(), json!(5));
    }

    #[test]
    fn repeated_keys_are_named_at_any_depth() {
        for (text, key) in [
            (r#"{"role": "user", "role": "admin"}"#, "role"),
            (r#"{"a": 1, "b": {"c": 1, "c": 1}}"#, "c"),
            (r#"[{"x": 1}, {"y": 1, "y": 2}]"#, "y"),
            (r#"{"\u0072ole": 1, "role": 2}"#, "role"),
        ] {
            match parse(text.as_bytes()) {
                Err(ParseError::Duplicate(k)) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        for text in ["{", r#"{"a": 1} x"#, "", r#"{"a" 1}"#] {
            assert!(
                matches!(parse(text.as_bytes()), Err(ParseError::Syntax(_))),
                "{text}"
            );
        }
    }
}
