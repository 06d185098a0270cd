//! Stored payloads as JSON, for display and for the `args_contain` filter.

use serde_json::{Map, Number, Value};

use crate::codec::{Codec, DecodeError};

/// A stored payload (a job's `args` with its `codec`) as JSON, for display by the CLI and the
/// dashboard and for [`crate::admin::JobQuery::args_contain`].
///
/// JSON payloads are parsed as they are. CBOR payloads are converted value by value: maps
/// with non-text keys get the key's JSON text as key (as `serde_json` writes integer map keys),
/// byte strings become arrays of numbers (as `Vec<u8>` is written to JSON), tags are dropped
/// for the value they wrap, non-finite floats and CBOR's `undefined` and simple values become
/// `null`, and integers beyond 64 bits become strings.
///
/// # Errors
/// [`DecodeError`] when the bytes are not valid for their codec.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::Codec;
/// use backtick_postgres::admin::payload_to_json;
/// let stored = Codec::Cbor.encode(&("ada@example.com", 3))?;
/// assert_eq!(payload_to_json(Codec::Cbor, &stored)?, serde_json::json!(["ada@example.com", 3]));
/// assert_eq!(payload_to_json(Codec::Json, br#"{"id":1}"#)?, serde_json::json!({"id": 1}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn payload_to_json(codec: Codec, bytes: &[u8]) -> Result<Value, DecodeError> {
    match codec {
        Codec::Json => codec.decode::<Value>(bytes),
        Codec::Cbor => codec.decode::<ciborium::Value>(bytes).map(cbor_to_json),
    }
}

fn cbor_to_json(value: ciborium::Value) -> Value {
    use ciborium::Value as Cbor;
    match value {
        Cbor::Integer(i) => integer(i128::from(i)),
        Cbor::Bytes(bytes) => Value::Array(bytes.into_iter().map(Value::from).collect()),
        Cbor::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cbor::Text(text) => Value::String(text),
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Tag(_, inner) => cbor_to_json(*inner),
        Cbor::Array(items) => Value::Array(items.into_iter().map(cbor_to_json).collect()),
        Cbor::Map(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, value)| (map_key(key), cbor_to_json(value)))
                .collect::<Map<String, Value>>(),
        ),
        // Null, undefined, simple values, and whatever later versions of ciborium add.
        _ => Value::Null,
    }
}

fn integer(i: i128) -> Value {
    if let Ok(small) = i64::try_from(i) {
        Value::from(small)
    } else if let Ok(big) = u64::try_from(i) {
        Value::from(big)
    } else {
        Value::String(i.to_string())
    }
}

fn map_key(key: ciborium::Value) -> String {
    match cbor_to_json(key) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// True when `haystack` contains `needle` the way PostgreSQL's `jsonb @>` decides it: an object
/// contains an object whose every key it has with a contained value; an array contains an
/// array whose every element is contained in one of its elements (order and repeats do not
/// matter); scalars contain equal scalars (numbers by value: `1` equals `1.0`). As in
/// PostgreSQL, a top-level array also contains a single scalar equal to one of its elements.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::json_contains;
/// use serde_json::json;
/// let args = json!({"user": {"id": 42, "tags": ["vip", "eu"]}, "amount": 10});
/// assert!(json_contains(&args, &json!({"user": {"id": 42}})));
/// assert!(json_contains(&args, &json!({"user": {"tags": ["eu"]}})));
/// assert!(!json_contains(&args, &json!({"user": {"id": 7}})));
/// assert!(json_contains(&json!([1, 2, 3]), &json!(2)));
/// ```
pub fn json_contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::Array(have), scalar) if !scalar.is_array() && !scalar.is_object() => {
            have.iter().any(|have| same_scalar(have, scalar))
        }
        _ => contains(haystack, needle),
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::Object(have), Value::Object(want)) => want
            .iter()
            .all(|(key, want)| have.get(key).is_some_and(|have| contains(have, want))),
        (Value::Array(have), Value::Array(want)) => {
            want.iter().all(|want| have.iter().any(|have| contains(have, want)))
        }
        (have, want) => same_scalar(have, want),
    }
}

fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => same_number(x, y),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => a == b,
    }
}

fn same_number(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
        (Some(a), Some(b), _, _) => a == b,
        (_, _, Some(a), Some(b)) => a == b,
        _ => x.as_f64().zip(y.as_f64()).is_some_and(|(a, b)| a == b),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use serde_json::json;

    #[derive(serde::Serialize)]
    struct Order {
        id: u64,
        items: Vec<&'static str>,
        by_slot: BTreeMap<u8, bool>,
        price: f64,
    }

    #[test]
    fn cbor_and_json_payloads_of_the_same_value_read_the_same() {
        let order = Order {
            id: 7,
            items: vec!["tea"],
            by_slot: BTreeMap::from([(1, true)]),
            price: 2.5,
        };
        let from_cbor = payload_to_json(Codec::Cbor, &Codec::Cbor.encode(&order).unwrap()).unwrap();
        let from_json = payload_to_json(Codec::Json, &Codec::Json.encode(&order).unwrap()).unwrap();
        assert_eq!(from_cbor, from_json);
        assert_eq!(from_cbor["by_slot"], json!({"1": true}), "integer keys become text");
    }

    #[test]
    fn cbor_oddities_have_a_json_reading() {
        use ciborium::Value as Cbor;
        let odd = Cbor::Array(vec![
            Cbor::Bytes(vec![1, 2]),
            Cbor::Tag(1, Box::new(Cbor::Integer(5.into()))),
            Cbor::Float(f64::NAN),
            Cbor::Integer(u64::MAX.into()),
            Cbor::Null,
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&odd, &mut bytes).unwrap();
        assert_eq!(
            payload_to_json(Codec::Cbor, &bytes).unwrap(),
            json!([[1, 2], 5, null, u64::MAX, null])
        );
    }

    #[test]
    fn a_bad_payload_is_a_decode_error() {
        assert!(payload_to_json(Codec::Json, b"{").is_err());
        assert!(payload_to_json(Codec::Cbor, &[0xff, 0x00]).is_err());
    }

    #[test]
    fn containment_follows_jsonb() {
        assert!(json_contains(&json!({"a": 1, "b": 2}), &json!({"a": 1})));
        assert!(json_contains(&json!({"a": 1}), &json!({})));
        assert!(!json_contains(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(json_contains(&json!([1, 2, 1]), &json!([2, 1])));
        assert!(json_contains(&json!([[1, 2], 3]), &json!([[2]])));
        assert!(!json_contains(&json!([1, 2]), &json!([[1]])));
        assert!(json_contains(&json!(1.0), &json!(1)));
        assert!(!json_contains(&json!("1"), &json!(1)));
        assert!(
            json_contains(&json!([1, 2]), &json!(2)),
            "a top-level array holds a bare scalar"
        );
        assert!(
            !json_contains(&json!({"a": [1]}), &json!({"a": 1})),
            "a nested one does not"
        );
        assert!(!json_contains(&json!([1, [2]]), &json!([2])));
        assert!(!json_contains(&json!([{"a": 1}]), &json!({"a": 1})));
    }
}
