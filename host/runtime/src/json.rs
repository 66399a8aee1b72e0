//! Component values as JSON, for people and scripts (`weft call -o json`).
//! WAVE stays the exact encoding; this one drops what JSON cannot say
//! (which case of an `option<option<T>>` is `none`, flag order).

use serde_json::{Map, Value};
use wasmtime::component::Val;

/// `val` as JSON: records are objects, lists and tuples arrays, `none`
/// null, results `{"ok": …}` / `{"err": …}`, variants `{"case": payload}`
/// (or the case name alone when it has none), enums strings, flags arrays
/// of names, resources a placeholder string.
pub fn to_json(val: &Val) -> Value {
    match val {
        Val::Bool(b) => Value::Bool(*b),
        Val::S8(n) => (*n).into(),
        Val::U8(n) => (*n).into(),
        Val::S16(n) => (*n).into(),
        Val::U16(n) => (*n).into(),
        Val::S32(n) => (*n).into(),
        Val::U32(n) => (*n).into(),
        Val::S64(n) => (*n).into(),
        Val::U64(n) => (*n).into(),
        Val::Float32(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number)
        }
        Val::Float64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) => Value::String(s.clone()),
        Val::List(items) | Val::Tuple(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Val::Variant(case, payload) => match payload {
            Some(v) => Value::Object(Map::from_iter([(case.clone(), to_json(v))])),
            None => Value::String(case.clone()),
        },
        Val::Enum(case) => Value::String(case.clone()),
        Val::Option(v) => v.as_deref().map_or(Value::Null, to_json),
        Val::Result(r) => {
            let (key, v) = match r {
                Ok(v) => ("ok", v),
                Err(v) => ("err", v),
            };
            Value::Object(Map::from_iter([(
                key.to_owned(),
                v.as_deref().map_or(Value::Null, to_json),
            )]))
        }
        Val::Flags(names) => Value::Array(names.iter().cloned().map(Value::String).collect()),
        _ => Value::String("<not representable>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_naturally() {
        let record = Val::Record(vec![
            ("text".into(), Val::String("hi".into())),
            ("tags".into(), Val::List(vec![Val::String("a".into())])),
            ("n".into(), Val::Option(None)),
        ]);
        assert_eq!(
            to_json(&record),
            serde_json::json!({"text": "hi", "tags": ["a"], "n": null})
        );
        let ok = Val::Result(Ok(Some(Box::new(Val::U32(3)))));
        assert_eq!(to_json(&ok), serde_json::json!({"ok": 3}));
        let variant = Val::Variant("circle".into(), Some(Box::new(Val::Float64(1.5))));
        assert_eq!(to_json(&variant), serde_json::json!({"circle": 1.5}));
        assert_eq!(
            to_json(&Val::Variant("dot".into(), None)),
            serde_json::json!("dot")
        );
    }
}
