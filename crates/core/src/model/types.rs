//! Contract type names and their Arrow types.

use datafusion::arrow::datatypes::{DataType, TimeUnit};

/// Parse a contract type name into an Arrow type.
pub fn parse_type(name: &str) -> Result<DataType, String> {
    let n = name.trim().to_ascii_lowercase();
    let t = match n.as_str() {
        "bool" | "boolean" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float32" => DataType::Float32,
        "float64" | "double" => DataType::Float64,
        "string" => DataType::Utf8,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => {
            if let Some(args) = n.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
                let mut it = args.split(',').map(|x| x.trim().parse::<i16>());
                if let (Some(Ok(p)), Some(Ok(s)), None) = (it.next(), it.next(), it.next())
                    && (1..=38).contains(&p)
                    && (0..=p).contains(&s)
                {
                    return Ok(DataType::Decimal128(p as u8, s as i8));
                }
            }
            return Err(format!(
                "unknown type `{name}`; valid: bool, int8, int16, int32, int64, uint8, uint16, \
                 uint32, uint64, float32, float64, decimal(P,S), string, date, timestamp"
            ));
        }
    };
    Ok(t)
}

/// The contract name of an Arrow type, for messages.
pub fn type_name(t: &DataType) -> String {
    match t {
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::Dictionary(_, v) => type_name(v),
        other => other.to_string(),
    }
}

/// Whether data of type `actual` satisfies a contract column declared as `declared`.
/// Encodings do not matter (string views, dictionaries, timestamp units); values do.
pub fn types_compatible(declared: &DataType, actual: &DataType) -> bool {
    if let DataType::Dictionary(_, v) = actual {
        return types_compatible(declared, v);
    }
    type_name(declared) == type_name(actual)
}

pub(crate) fn serialize_type<S: serde::Serializer>(t: &DataType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&type_name(t))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_through_names() {
        for name in [
            "bool",
            "int32",
            "uint64",
            "float64",
            "decimal(12,2)",
            "string",
            "date",
            "timestamp",
        ] {
            assert_eq!(type_name(&parse_type(name).unwrap()), name);
        }
        assert!(parse_type("decimal(40,2)").unwrap_err().contains("unknown type"));
    }

    #[test]
    fn encodings_do_not_break_compatibility() {
        assert!(types_compatible(&DataType::Utf8, &DataType::Utf8View));
        assert!(types_compatible(
            &parse_type("timestamp").unwrap(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        ));
        assert!(!types_compatible(&DataType::Int64, &DataType::Int32));
    }
}
