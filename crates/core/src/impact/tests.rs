//! The widening table and kind names, by hand.
use super::*;

/// The widening table, derived by hand from the value ranges: int8 ±128, int16 ±32768,
/// int32 ±2^31, int64 ±2^63, uintN up to 2^N-1; float32 holds integers up to 2^24,
/// float64 up to 2^53; decimal(P,S) holds P-S integer digits and S fraction digits.
#[test]
fn type_shifts_follow_the_widening_table() {
    use Shift::{Changed, Narrowed, Same, Unknown, Widened};
    let table = [
        ("int8", "int16", Widened),
        ("int16", "int32", Widened),
        ("int32", "int64", Widened),
        ("int8", "int64", Widened),
        ("int64", "int32", Narrowed),
        ("int16", "int8", Narrowed),
        ("uint8", "uint16", Widened),
        ("uint32", "uint64", Widened),
        ("uint8", "int16", Widened),
        ("uint32", "int64", Widened),
        ("uint32", "int32", Narrowed),
        ("uint64", "int64", Narrowed),
        ("int8", "uint16", Narrowed),
        ("int32", "uint64", Narrowed),
        ("int32", "float64", Widened),
        ("uint32", "float64", Widened),
        ("int16", "float32", Widened),
        ("uint16", "float32", Widened),
        ("int32", "float32", Narrowed),
        ("int64", "float64", Narrowed),
        ("uint64", "float64", Narrowed),
        ("float32", "float64", Widened),
        ("float64", "float32", Narrowed),
        ("float64", "int64", Narrowed),
        ("float32", "decimal(38,10)", Narrowed),
        ("decimal(10,2)", "decimal(12,2)", Widened),
        ("decimal(10,2)", "decimal(11,3)", Widened),
        ("decimal(10,2)", "decimal(12,4)", Widened),
        ("decimal(12,2)", "decimal(10,2)", Narrowed),
        ("decimal(12,2)", "decimal(12,1)", Narrowed),
        ("decimal(12,2)", "decimal(12,3)", Narrowed),
        ("decimal(12,2)", "decimal(13,1)", Narrowed),
        ("int32", "decimal(10,0)", Widened),
        ("int32", "decimal(11,2)", Narrowed),
        ("int64", "decimal(19,0)", Widened),
        ("uint64", "decimal(19,0)", Narrowed),
        ("uint64", "decimal(20,0)", Widened),
        ("decimal(9,0)", "int32", Widened),
        ("decimal(10,0)", "int32", Narrowed),
        ("decimal(18,0)", "int64", Widened),
        ("decimal(2,0)", "uint8", Narrowed),
        ("decimal(5,1)", "int64", Narrowed),
        ("decimal(15,0)", "float64", Widened),
        ("decimal(16,0)", "float64", Narrowed),
        ("decimal(7,0)", "float32", Widened),
        ("decimal(12,2)", "float64", Narrowed),
        ("int64", "string", Changed),
        ("string", "int64", Changed),
        ("timestamp", "date", Changed),
        ("date", "timestamp", Changed),
        ("bool", "int8", Changed),
        ("int64", "int64", Same),
        ("float64", "double", Same),
        ("bool", "boolean", Same),
        ("INT64", "int64", Same),
        ("decimal(12, 2)", "decimal(12,2)", Same),
        ("int32", "integer", Unknown),
        ("integer", "int32", Unknown),
        ("varchar", "VARCHAR", Same),
        ("varchar", "text", Unknown),
    ];
    let wrong: Vec<String> = table
        .iter()
        .filter(|(old, new, want)| type_shift(old, new) != *want)
        .map(|(old, new, want)| format!("{old} → {new}: got {:?}, want {want:?}", type_shift(old, new)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn kinds_have_snake_case_names_and_fixed_severity() {
    assert_eq!(ChangeKind::NullabilityTightened.as_str(), "nullability_tightened");
    assert_eq!(ChangeKind::TimeDimensionChanged.as_str(), "time_dimension_changed");
    assert_eq!(ChangeKind::TypeWidened.severity(), Severity::Compatible);
    assert_eq!(ChangeKind::ColumnRenamed.severity(), Severity::Breaking);
    assert_eq!(Severity::Breaking.as_str(), "breaking");
    assert_eq!(
        serde_json::to_string(&ChangeKind::MeasureAdded).ok().as_deref(),
        Some("\"measure_added\"")
    );
}
