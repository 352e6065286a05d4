//! Converting between JSON values and DynamoDB attribute values.
//!
//! The outcome's `source` and `renditions` are stored as native maps and lists (so they can be
//! read, projected and filtered on in DynamoDB), built from their serde JSON form: objects become
//! `M`, arrays `L`, strings `S`, numbers `N`, booleans `BOOL` and null `NULL`. Reading back
//! accepts those types only (sets and binaries never appear in this table).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

/// `value` as an attribute value.
#[must_use]
pub fn json_to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(json_to_attr).collect()),
        Value::Object(fields) => {
            AttributeValue::M(fields.iter().map(|(k, v)| (k.clone(), json_to_attr(v))).collect())
        }
    }
}

/// `value` as JSON.
///
/// # Errors
///
/// A message naming the path (`$.a[0].b`) of a number that is not an integer or a finite
/// float, or of an attribute type JSON has no equivalent for (sets, binary).
pub fn attr_to_json(value: &AttributeValue) -> Result<Value, String> {
    to_json(value, &mut String::from("$"))
}

/// An item's attributes as a JSON object.
///
/// # Errors
///
/// As [`attr_to_json`].
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Result<Value, String> {
    to_json(&AttributeValue::M(item.clone()), &mut String::from("$"))
}

fn to_json(value: &AttributeValue, path: &mut String) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => {
            Value::Number(parse_number(n).ok_or_else(|| format!("{path}: not a number: {n:?}"))?)
        }
        AttributeValue::L(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                out.push(to_json(item, path)?);
                path.truncate(len);
            }
            Value::Array(out)
        }
        AttributeValue::M(fields) => {
            // Sorted, so errors and output do not depend on the map's order.
            let mut names: Vec<&String> = fields.keys().collect();
            names.sort();
            let mut out = Map::new();
            for name in names {
                let len = path.len();
                path.push('.');
                path.push_str(name);
                out.insert(name.clone(), to_json(&fields[name], path)?);
                path.truncate(len);
            }
            Value::Object(out)
        }
        other => return Err(format!("{path}: unsupported attribute type {}", type_name(other))),
    })
}

/// A DynamoDB number as JSON: an unsigned or signed integer when it is one, else a finite float.
fn parse_number(n: &str) -> Option<Number> {
    if let Ok(u) = n.parse::<u64>() {
        return Some(u.into());
    }
    if let Ok(i) = n.parse::<i64>() {
        return Some(i.into());
    }
    n.parse::<f64>().ok().and_then(Number::from_f64)
}

/// The DynamoDB type descriptor of `value` (`S`, `N`, `M`, …), for error messages.
#[must_use]
pub fn type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::B(_) => "B",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::Bs(_) => "BS",
        AttributeValue::L(_) => "L",
        AttributeValue::M(_) => "M",
        AttributeValue::N(_) => "N",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::S(_) => "S",
        AttributeValue::Ss(_) => "SS",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use aws_sdk_dynamodb::primitives::Blob;
    use serde_json::json;

    use super::*;

    #[test]
    fn json_round_trips_through_attributes() {
        let value = json!({
            "s": "text", "empty": "", "u": 18_446_744_073_709_551_615_u64, "i": -5, "f": 1.5,
            "t": true, "n": null, "list": [1, "two", [3], {"four": 4}], "nested": {"a": {"b": []}},
        });
        let attr = json_to_attr(&value);
        assert_eq!(attr_to_json(&attr).unwrap(), value);
    }

    #[test]
    fn types_map_as_documented() {
        let attr = json_to_attr(&json!({"format": "jpeg", "width": 640, "ok": false, "x": null}));
        let AttributeValue::M(fields) = attr else { panic!("not a map: {attr:?}") };
        assert_eq!(fields["format"], AttributeValue::S("jpeg".into()));
        assert_eq!(fields["width"], AttributeValue::N("640".into()));
        assert_eq!(fields["ok"], AttributeValue::Bool(false));
        assert_eq!(fields["x"], AttributeValue::Null(true));
        assert_eq!(json_to_attr(&json!([1])), AttributeValue::L(vec![AttributeValue::N("1".into())]));
    }

    #[test]
    fn numbers_parse_as_integers_first() {
        assert_eq!(attr_to_json(&AttributeValue::N("42".into())).unwrap(), json!(42));
        assert!(attr_to_json(&AttributeValue::N("42".into())).unwrap().is_u64());
        assert!(attr_to_json(&AttributeValue::N("-42".into())).unwrap().is_i64());
        assert_eq!(attr_to_json(&AttributeValue::N("1E+2".into())).unwrap(), json!(100.0));
        assert_eq!(attr_to_json(&AttributeValue::N("0.25".into())).unwrap(), json!(0.25));
    }

    #[test]
    fn unreadable_values_name_their_path() {
        let bad = AttributeValue::M(HashMap::from([(
            "renditions".to_owned(),
            AttributeValue::L(vec![
                AttributeValue::M(HashMap::new()),
                AttributeValue::M(HashMap::from([("bytes".to_owned(), AttributeValue::N("lots".into()))])),
            ]),
        )]));
        assert_eq!(attr_to_json(&bad).unwrap_err(), r#"$.renditions[1].bytes: not a number: "lots""#);

        let set = AttributeValue::Ss(vec!["a".into()]);
        assert_eq!(attr_to_json(&set).unwrap_err(), "$: unsupported attribute type SS");
        let blob = AttributeValue::B(Blob::new(vec![1]));
        let item = HashMap::from([("data".to_owned(), blob)]);
        assert_eq!(item_to_json(&item).unwrap_err(), "$.data: unsupported attribute type B");
    }
}
