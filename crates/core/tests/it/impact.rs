//! Contract changes classified against expectations derived by hand from one realistic base.
//!
//! Columns and other named items are matched by name, so reordering them is no change: Parquet
//! is read by column name. Every expected list below is in the order `diff` promises: breaking
//! first, then contract order (product fields, columns, entities, dimensions, measures, time
//! dimension, validity, sources).

use canary_core::impact::{Change, ChangeKind, Severity, diff};
use canary_core::spec::{NonAdditiveSpec, NonAdditiveWindow, ProductSpec, SourceFile, load_yaml};

use ChangeKind::*;

/// The base contract. Dimensions and measures that are a column itself (no `expr`, or an
/// `expr` that is the column's name): ordered_at, status, channel (dimensions); revenue and
/// median_amount (`amount`), customers (`customer_id`), quantity (measures). `orders` counts
/// rows and `is_web` is an expression: neither is a column.
const BASE: &str = r#"product: orders
version: 1.2.0
owner: sales-data
description: One row per order.
location: s3://lake/products/orders/
partitions:
  - { name: month, type: string }
tenant_column: tenant
time_dimension: ordered_at
columns:
  - { name: order_id, type: int64, nullable: false, description: Order number. }
  - { name: customer_id, type: int64 }
  - { name: tenant, type: string, nullable: false }
  - { name: amount, type: "decimal(12,2)", description: Order total in EUR. }
  - { name: quantity, type: int32 }
  - { name: status, type: string }
  - { name: ordered_at, type: timestamp, nullable: false }
  - { name: channel, type: string }
entities:
  - { name: order, type: primary, column: order_id }
  - { name: customer, type: foreign, column: customer_id }
dimensions:
  - { name: ordered_at, type: time, granularity: day }
  - { name: status, type: categorical }
  - { name: channel, type: categorical, description: Sales channel. }
  - { name: is_web, type: categorical, expr: "channel = 'web'" }
measures:
  - { name: revenue, agg: sum, expr: amount, description: Gross revenue. }
  - { name: orders, agg: count }
  - { name: customers, agg: count_distinct, expr: customer_id }
  - { name: quantity, agg: sum }
  - { name: median_amount, agg: percentile, expr: amount, percentile: 0.5 }
sources:
  - name: shop.orders
    columns: { order_id: id, amount: total, ordered_at: created_at }
"#;

fn parse(text: &str) -> ProductSpec {
    let file = SourceFile {
        display: "products/orders.yaml".into(),
        text: text.into(),
    };
    match load_yaml::<ProductSpec>(&file) {
        Ok(loaded) => loaded.value,
        Err(d) => panic!("the test contract does not parse: {d}\n{text}"),
    }
}

/// How the new version is made from the base.
enum Edit {
    /// Text replacements applied in turn; each `from` must occur exactly once.
    Text(&'static [(&'static str, &'static str)]),
    /// A change to the parsed base.
    Spec(fn(&mut ProductSpec)),
}

impl Edit {
    fn apply(&self) -> ProductSpec {
        match self {
            Edit::Text(edits) => {
                let mut text = BASE.to_owned();
                for (from, to) in *edits {
                    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur exactly once");
                    text = text.replacen(from, to, 1);
                }
                parse(&text)
            }
            Edit::Spec(edit) => {
                let mut spec = parse(BASE);
                edit(&mut spec);
                spec
            }
        }
    }
}

/// A change as expected: everything but its detail line.
#[derive(Debug, PartialEq)]
struct Want {
    kind: ChangeKind,
    severity: Severity,
    columns: Vec<String>,
    dimensions: Vec<String>,
    measures: Vec<String>,
    whole_product: bool,
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn want(kind: ChangeKind, severity: Severity, columns: &[&str]) -> Want {
    Want {
        kind,
        severity,
        columns: strings(columns),
        dimensions: Vec::new(),
        measures: Vec::new(),
        whole_product: false,
    }
}

fn breaking(kind: ChangeKind, columns: &[&str]) -> Want {
    want(kind, Severity::Breaking, columns)
}

fn compatible(kind: ChangeKind, columns: &[&str]) -> Want {
    want(kind, Severity::Compatible, columns)
}

impl Want {
    fn dims(mut self, names: &[&str]) -> Want {
        self.dimensions = strings(names);
        self
    }

    fn measures(mut self, names: &[&str]) -> Want {
        self.measures = strings(names);
        self
    }

    fn whole(mut self) -> Want {
        self.whole_product = true;
        self
    }
}

impl From<&Change> for Want {
    fn from(c: &Change) -> Want {
        Want {
            kind: c.kind,
            severity: c.severity,
            columns: c.columns.clone(),
            dimensions: c.dimensions.clone(),
            measures: c.measures.clone(),
            whole_product: c.whole_product,
        }
    }
}

struct Case {
    name: &'static str,
    edit: Edit,
    want: Vec<Want>,
}

fn case(name: &'static str, edit: Edit, want: Vec<Want>) -> Case {
    Case { name, edit, want }
}

const SHIPPED_AT: &str = "  - { name: channel, type: string }\n  - { name: shipped_at, type: timestamp }\n";

fn cases() -> Vec<Case> {
    use Edit::{Spec, Text};
    vec![
        case("no change", Text(&[]), vec![]),
        case(
            "columns reordered: read by name, no change",
            Text(&[
                (
                    "  - { name: order_id, type: int64, nullable: false, description: Order number. }\n",
                    "",
                ),
                (
                    "  - { name: channel, type: string }\n",
                    "  - { name: channel, type: string }\n  - { name: order_id, type: int64, nullable: false, \
                     description: Order number. }\n",
                ),
            ]),
            vec![],
        ),
        case(
            "entities, dimensions and measures reordered: no change",
            Spec(|p| {
                p.entities.reverse();
                p.dimensions.reverse();
                p.measures.reverse();
            }),
            vec![],
        ),
        case(
            "equivalent spellings: type case, default expr, inherited time dimension, default partition type",
            Text(&[
                (
                    "{ name: customer_id, type: int64 }",
                    "{ name: customer_id, type: INT64 }",
                ),
                (
                    "{ name: status, type: categorical }",
                    "{ name: status, type: categorical, expr: status }",
                ),
                (
                    "expr: amount, description",
                    "expr: amount, time_dimension: ordered_at, description",
                ),
                ("{ name: month, type: string }", "{ name: month }"),
            ]),
            vec![],
        ),
        case(
            "column removed",
            Text(&[("  - { name: status, type: string }\n", "")]),
            vec![breaking(ColumnRemoved, &["status"]).dims(&["status"])],
        ),
        case(
            "column renamed in place",
            Text(&[(
                "{ name: channel, type: string }",
                "{ name: sales_channel, type: string }",
            )]),
            vec![breaking(ColumnRenamed, &["channel"]).dims(&["channel"])],
        ),
        case(
            "renamed with another type: a removal and an addition",
            Text(&[("{ name: status, type: string }", "{ name: status_code, type: int16 }")]),
            vec![
                breaking(ColumnRemoved, &["status"]).dims(&["status"]),
                compatible(ColumnAdded, &["status_code"]),
            ],
        ),
        case(
            "renamed and moved: a removal and an addition",
            Text(&[
                ("  - { name: status, type: string }\n", ""),
                (
                    "  - { name: channel, type: string }\n",
                    "  - { name: channel, type: string }\n  - { name: order_status, type: string }\n",
                ),
            ]),
            vec![
                breaking(ColumnRemoved, &["status"]).dims(&["status"]),
                compatible(ColumnAdded, &["order_status"]),
            ],
        ),
        case(
            "column added",
            Text(&[(
                "  - { name: channel, type: string }\n",
                "  - { name: channel, type: string }\n  - { name: coupon, type: string }\n",
            )]),
            vec![compatible(ColumnAdded, &["coupon"])],
        ),
        case(
            "int32 narrowed to int16",
            Text(&[("{ name: quantity, type: int32 }", "{ name: quantity, type: int16 }")]),
            vec![breaking(TypeNarrowed, &["quantity"]).measures(&["quantity"])],
        ),
        case(
            "int32 widened to int64",
            Text(&[("{ name: quantity, type: int32 }", "{ name: quantity, type: int64 }")]),
            vec![compatible(TypeWidened, &["quantity"]).measures(&["quantity"])],
        ),
        case(
            "int64 to float64 loses integers above 2^53",
            Text(&[(
                "{ name: customer_id, type: int64 }",
                "{ name: customer_id, type: float64 }",
            )]),
            vec![breaking(TypeNarrowed, &["customer_id"]).measures(&["customers"])],
        ),
        case(
            "decimal loses integer digits",
            Text(&[(r#""decimal(12,2)""#, r#""decimal(10,2)""#)]),
            vec![breaking(TypeNarrowed, &["amount"]).measures(&["revenue", "median_amount"])],
        ),
        case(
            "decimal keeps its integer digits and gains scale",
            Text(&[(r#""decimal(12,2)""#, r#""decimal(14,3)""#)]),
            vec![compatible(TypeWidened, &["amount"]).measures(&["revenue", "median_amount"])],
        ),
        case(
            "string to integer",
            Text(&[("{ name: status, type: string }", "{ name: status, type: int32 }")]),
            vec![breaking(TypeChanged, &["status"]).dims(&["status"])],
        ),
        case(
            "timestamp to date",
            Text(&[("type: timestamp, nullable: false", "type: date, nullable: false")]),
            vec![breaking(TypeChanged, &["ordered_at"]).dims(&["ordered_at"])],
        ),
        case(
            "unknown type name",
            Text(&[("{ name: quantity, type: int32 }", "{ name: quantity, type: integer }")]),
            vec![breaking(TypeChanged, &["quantity"]).measures(&["quantity"])],
        ),
        case(
            "nullability tightened",
            Text(&[(
                "{ name: customer_id, type: int64 }",
                "{ name: customer_id, type: int64, nullable: false }",
            )]),
            vec![breaking(NullabilityTightened, &["customer_id"]).measures(&["customers"])],
        ),
        case(
            "nullability relaxed",
            Text(&[("type: int64, nullable: false, description", "type: int64, description")]),
            vec![compatible(NullabilityRelaxed, &["order_id"])],
        ),
        case(
            "entity type changed",
            Text(&[("{ name: order, type: primary", "{ name: order, type: unique")]),
            vec![breaking(EntityChanged, &["order_id"])],
        ),
        case(
            "entity removed and another added",
            Text(&[
                ("  - { name: customer, type: foreign, column: customer_id }\n", ""),
                (
                    "  - { name: order, type: primary, column: order_id }\n",
                    "  - { name: order, type: primary, column: order_id }\n  - { name: tenant, type: foreign }\n",
                ),
            ]),
            vec![
                breaking(EntityChanged, &["customer_id"]),
                breaking(EntityChanged, &["tenant"]),
            ],
        ),
        case(
            "entity moved to another column",
            Spec(|p| p.entities[1].column = Some("tenant".into())),
            vec![breaking(EntityChanged, &["customer_id", "tenant"])],
        ),
        case(
            "tenant column dropped",
            Text(&[("tenant_column: tenant\n", "")]),
            vec![breaking(TenantColumnChanged, &["tenant"]).whole()],
        ),
        case(
            "partition retyped",
            Text(&[("{ name: month, type: string }", "{ name: month, type: date }")]),
            vec![breaking(PartitionsChanged, &["month"]).whole()],
        ),
        case(
            "location moved",
            Text(&[("s3://lake/products/orders/", "s3://lake/products/orders_v2/")]),
            vec![breaking(LocationMoved, &[]).whole()],
        ),
        case(
            "product renamed",
            Text(&[("product: orders\n", "product: sales_orders\n")]),
            vec![breaking(ProductRenamed, &[]).whole()],
        ),
        case(
            "time dimension moved to a new column",
            Text(&[
                ("time_dimension: ordered_at\n", "time_dimension: shipped_at\n"),
                ("  - { name: channel, type: string }\n", SHIPPED_AT),
                (
                    "  - { name: status, type: categorical }\n",
                    "  - { name: status, type: categorical }\n  - { name: shipped_at, type: time }\n",
                ),
            ]),
            vec![
                breaking(TimeDimensionChanged, &[])
                    .dims(&["ordered_at", "shipped_at"])
                    .whole(),
                compatible(ColumnAdded, &["shipped_at"]),
                compatible(DimensionAdded, &[]).dims(&["shipped_at"]),
            ],
        ),
        case(
            "validity added",
            Text(&[
                (
                    "time_dimension: ordered_at\n",
                    "time_dimension: ordered_at\nvalidity: { start: ordered_at, end: shipped_at }\n",
                ),
                ("  - { name: channel, type: string }\n", SHIPPED_AT),
                (
                    "  - { name: status, type: categorical }\n",
                    "  - { name: status, type: categorical }\n  - { name: shipped_at, type: time }\n",
                ),
            ]),
            vec![
                breaking(ValidityChanged, &[])
                    .dims(&["ordered_at", "shipped_at"])
                    .whole(),
                compatible(ColumnAdded, &["shipped_at"]),
                compatible(DimensionAdded, &[]).dims(&["shipped_at"]),
            ],
        ),
        case(
            "dimension removed",
            Text(&[(
                "  - { name: is_web, type: categorical, expr: \"channel = 'web'\" }\n",
                "",
            )]),
            vec![breaking(DimensionRemoved, &[]).dims(&["is_web"])],
        ),
        case(
            "dimension granularity changed",
            Text(&[("granularity: day", "granularity: hour")]),
            vec![breaking(DimensionChanged, &[]).dims(&["ordered_at"])],
        ),
        case(
            "dimension expr changed",
            Text(&[("\"channel = 'web'\"", "\"channel IN ('web', 'app')\"")]),
            vec![breaking(DimensionChanged, &[]).dims(&["is_web"])],
        ),
        case(
            "dimension becomes a partition key",
            Spec(|p| p.dimensions[0].partition = true),
            vec![breaking(DimensionChanged, &[]).dims(&["ordered_at"])],
        ),
        case(
            "dimension added",
            Text(&[(
                "  - { name: is_web, type: categorical, expr: \"channel = 'web'\" }\n",
                "  - { name: is_web, type: categorical, expr: \"channel = 'web'\" }\n  - { name: is_app, type: \
                 categorical, expr: \"channel = 'app'\" }\n",
            )]),
            vec![compatible(DimensionAdded, &[]).dims(&["is_app"])],
        ),
        case(
            "measure removed",
            Text(&[(
                "  - { name: median_amount, agg: percentile, expr: amount, percentile: 0.5 }\n",
                "",
            )]),
            vec![breaking(MeasureRemoved, &[]).measures(&["median_amount"])],
        ),
        case(
            "measure percentile changed",
            Text(&[("percentile: 0.5", "percentile: 0.9")]),
            vec![breaking(MeasureChanged, &[]).measures(&["median_amount"])],
        ),
        case(
            "row count becomes a count of a column",
            Text(&[(
                "{ name: orders, agg: count }",
                "{ name: orders, agg: count, expr: order_id }",
            )]),
            vec![breaking(MeasureChanged, &[]).measures(&["orders"])],
        ),
        case(
            "measure aggregation changed",
            Text(&[("{ name: revenue, agg: sum,", "{ name: revenue, agg: avg,")]),
            vec![breaking(MeasureChanged, &[]).measures(&["revenue"])],
        ),
        case(
            "measure becomes semi-additive",
            Spec(|p| {
                p.measures[3].non_additive = Some(NonAdditiveSpec {
                    dimension: "ordered_at".into(),
                    window: NonAdditiveWindow::Last,
                    per: vec!["customer".into()],
                })
            }),
            vec![breaking(MeasureChanged, &[]).measures(&["quantity"])],
        ),
        case(
            "measure added",
            Text(&[(
                "  - { name: quantity, agg: sum }\n",
                "  - { name: quantity, agg: sum }\n  - { name: avg_amount, agg: avg, expr: amount }\n",
            )]),
            vec![compatible(MeasureAdded, &[]).measures(&["avg_amount"])],
        ),
        case(
            "documentation only",
            Text(&[
                ("version: 1.2.0", "version: 1.2.1"),
                ("owner: sales-data", "owner: finance-data"),
                (
                    "description: One row per order.",
                    "description: One row per order, refunds excluded.",
                ),
                (
                    "description: Order total in EUR.",
                    "description: Order total in EUR including taxes.",
                ),
                (
                    "{ name: channel, type: categorical, description: Sales channel. }",
                    "{ name: channel, type: categorical }",
                ),
                (
                    "description: Gross revenue.",
                    "description: Gross revenue before refunds.",
                ),
                ("ordered_at: created_at }", "ordered_at: created_at, quantity: qty }"),
            ]),
            vec![
                compatible(Documentation, &[]),
                compatible(Documentation, &[]),
                compatible(Documentation, &[]),
                compatible(Documentation, &["amount"]).measures(&["revenue", "median_amount"]),
                compatible(Documentation, &[]).dims(&["channel"]),
                compatible(Documentation, &[]).measures(&["revenue"]),
                compatible(Documentation, &[]),
            ],
        ),
        case(
            "several changes at once: breaking first, each group in contract order",
            Text(MULTI),
            vec![
                breaking(TypeNarrowed, &["amount"]).measures(&["revenue", "median_amount"]),
                breaking(ColumnRenamed, &["channel"]).dims(&["channel"]),
                breaking(DimensionRemoved, &[]).dims(&["is_web"]),
                compatible(Documentation, &[]),
                compatible(NullabilityRelaxed, &["order_id"]),
                compatible(MeasureAdded, &[]).measures(&["avg_quantity"]),
            ],
        ),
    ]
}

/// Version bump, order_id relaxed, amount narrowed, channel renamed, is_web dropped,
/// avg_quantity added.
const MULTI: &[(&str, &str)] = &[
    ("version: 1.2.0", "version: 1.3.0"),
    ("type: int64, nullable: false, description", "type: int64, description"),
    (r#""decimal(12,2)""#, r#""decimal(10,2)""#),
    (
        "{ name: channel, type: string }",
        "{ name: sales_channel, type: string }",
    ),
    (
        "  - { name: is_web, type: categorical, expr: \"channel = 'web'\" }\n",
        "",
    ),
    (
        "  - { name: quantity, agg: sum }\n",
        "  - { name: quantity, agg: sum }\n  - { name: avg_quantity, agg: avg, expr: quantity }\n",
    ),
];

#[test]
fn contract_changes_are_classified_as_derived_by_hand() {
    let base = parse(BASE);
    let cases = cases();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let changes = diff(&base, &case.edit.apply());
        let got: Vec<Want> = changes.iter().map(Want::from).collect();
        if got != case.want {
            let details: Vec<&str> = changes.iter().map(|c| c.detail.as_str()).collect();
            failures.push(format!(
                "{}:\n  got  {got:?}\n  want {:?}\n  details {details:#?}",
                case.name, case.want
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn details_are_one_line_for_people() {
    let base = parse(BASE);
    let details = |edit: Edit| -> Vec<String> { diff(&base, &edit.apply()).into_iter().map(|c| c.detail).collect() };
    assert_eq!(
        details(Edit::Text(MULTI)),
        [
            "column `amount`: type narrowed from decimal(12,2) to decimal(10,2); some values no longer fit exactly",
            "column `channel` renamed to `sales_channel`",
            "dimension `is_web` removed",
            "version changed from 1.2.0 to 1.3.0",
            "column `order_id`: nullability relaxed (now nullable); consumers may now see nulls",
            "measure `avg_quantity` added",
        ]
    );
    assert_eq!(
        details(Edit::Text(&[(
            "{ name: quantity, type: int32 }",
            "{ name: quantity, type: integer }"
        )])),
        ["column `quantity`: type changed from int32 to integer; `integer` is not a known type"]
    );
    assert_eq!(
        details(Edit::Text(&[
            ("granularity: day", "granularity: hour"),
            ("percentile: 0.5", "percentile: 0.9"),
            ("tenant_column: tenant\n", ""),
        ])),
        [
            "tenant column `tenant` dropped: scans are no longer restricted to one tenant",
            "dimension `ordered_at`: granularity changed from day to hour",
            "measure `median_amount`: percentile changed from 0.5 to 0.9",
        ]
    );
}

#[test]
fn a_diff_and_its_reverse_mirror_each_other() {
    // Removing `coupon` is the reverse of adding it: the same column, the other severity.
    let base = parse(BASE);
    let with_coupon = Edit::Text(&[(
        "  - { name: channel, type: string }\n",
        "  - { name: channel, type: string }\n  - { name: coupon, type: string }\n",
    )])
    .apply();
    let back: Vec<Want> = diff(&with_coupon, &base).iter().map(Want::from).collect();
    assert_eq!(back, vec![breaking(ColumnRemoved, &["coupon"])]);
}
