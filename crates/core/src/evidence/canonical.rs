//! Canonical encodings: JSON with sorted keys and no whitespace; results value by value.

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// JSON with object keys sorted (by their UTF-8 bytes), no insignificant whitespace, and
/// serde_json's number and string forms: one text per value, so equal values hash equally
/// and any change to the text is a change to the value or a departure from the form.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// SHA-256 of a result over a canonical encoding: the column names and types, then every
/// value row by row, each as its type's text form (NULL distinct from every value),
/// length-prefixed. Independent of batch boundaries and of the file format it is kept in.
pub fn result_hash(schema: &Schema, batches: &[RecordBatch]) -> String {
    let mut h = Sha256::new();
    h.update(b"canary-result/1\n");
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&(schema.fields().len() as u64).to_le_bytes());
    for f in schema.fields() {
        field(f.name().as_bytes());
        field(f.data_type().to_string().as_bytes());
    }
    for batch in batches {
        for row in 0..batch.num_rows() {
            for column in batch.columns() {
                if column.is_null(row) {
                    field(b"\x00");
                    continue;
                }
                let text = ScalarValue::try_from_array(column, row)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|e| format!("\x01error:{e}"));
                let mut bytes = Vec::with_capacity(text.len() + 1);
                bytes.push(b'\x01');
                bytes.extend_from_slice(text.as_bytes());
                field(&bytes);
            }
        }
    }
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v: Value = serde_json::from_str(r#"{ "b": [1, {"z": null, "a": "x\"y"}], "a": 2.5 }"#).unwrap_or_default();
        assert_eq!(canonical_json(&v), r#"{"a":2.5,"b":[1,{"a":"x\"y","z":null}]}"#);
    }

    #[test]
    fn hex_round_trips() {
        let h = sha256_hex(b"abc");
        assert_eq!(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(unhex(&h).map(|b| hex(&b)), Some(h));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("ABCD"), None, "upper case is not the canonical form");
    }

    #[test]
    fn result_hash_ignores_batch_boundaries_and_sees_every_value() {
        use datafusion::arrow::array::{Float64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Float64, true),
        ]));
        let batch = |k: Vec<Option<&str>>, v: Vec<Option<f64>>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(k)), Arc::new(Float64Array::from(v))],
            )
            .unwrap_or_else(|_| RecordBatch::new_empty(schema.clone()))
        };
        let whole = [batch(vec![Some("a"), Some("b")], vec![Some(1.5), None])];
        let split = [
            batch(vec![Some("a")], vec![Some(1.5)]),
            batch(vec![Some("b")], vec![None]),
        ];
        assert_eq!(result_hash(&schema, &whole), result_hash(&schema, &split));
        let changed = [batch(vec![Some("a"), Some("b")], vec![Some(1.5), Some(0.0)])];
        assert_ne!(result_hash(&schema, &whole), result_hash(&schema, &changed));
        let empty_string = [batch(vec![Some("a"), Some("")], vec![Some(1.5), None])];
        let null_string = [batch(vec![Some("a"), None], vec![Some(1.5), None])];
        assert_ne!(result_hash(&schema, &empty_string), result_hash(&schema, &null_string));
    }
}
