//! User-written SQL expressions (filters, measure and dimension expressions): parsed into
//! DataFusion `Expr` against an explicit schema and restricted to a safe subset.
//!
//! Allowed: columns in scope, literals, arithmetic, comparison, boolean logic, `CASE`,
//! `CAST`, `IN` lists, `BETWEEN`, `LIKE`, and the scalar functions in [`ALLOWED_FUNCTIONS`].
//! Refused: subqueries, aggregates, window functions, table functions, placeholders, and
//! every other function (nothing that reads files or depends on the clock).

mod checked;

pub use checked::{check_integer_arithmetic, uncheck};

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DataFusionError, SchemaError, TableReference};
use datafusion::config::ConfigOptions;
use datafusion::execution::SessionStateDefaults;
use datafusion::logical_expr::planner::{ContextProvider, ExprPlanner};
use datafusion::logical_expr::{AggregateUDF, Expr, ExprSchemable, HigherOrderUDF, ScalarUDF, TableSource, WindowUDF};
use datafusion::sql::planner::{PlannerContext, SqlToRel};
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Ident, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

/// Scalar functions a user expression may call.
pub const ALLOWED_FUNCTIONS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "round",
    "trunc",
    "sqrt",
    "power",
    "pow",
    "exp",
    "ln",
    "log",
    "log10",
    "log2",
    "signum",
    "greatest",
    "least",
    "coalesce",
    "nullif",
    "nvl",
    "ifnull",
    "isnan",
    "iszero",
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "substr",
    "substring",
    "left",
    "right",
    "lpad",
    "rpad",
    "concat",
    "concat_ws",
    "starts_with",
    "ends_with",
    "strpos",
    "replace",
    "split_part",
    "initcap",
    "reverse",
    "regexp_like",
    "regexp_replace",
    "date_trunc",
    "date_part",
    "datepart",
    "date_bin",
    "make_date",
    "to_date",
    "to_timestamp",
    "to_timestamp_seconds",
    "to_timestamp_millis",
    "to_timestamp_micros",
    "from_unixtime",
    "to_unixtime",
];

/// Why an expression was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprError {
    /// It does not parse as SQL, or does not type-check.
    Invalid(String),
    /// It names a column that is not in scope.
    UnknownColumn { name: String, valid: Vec<String> },
    /// It uses something outside the allowed subset.
    Disallowed(String),
    /// It names a product reachable by more than one join path.
    Ambiguous(String),
}

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExprError::Invalid(m) | ExprError::Disallowed(m) | ExprError::Ambiguous(m) => f.write_str(m),
            ExprError::UnknownColumn { name, .. } => write!(f, "unknown column `{name}`"),
        }
    }
}

struct Functions {
    scalars: HashMap<String, Arc<ScalarUDF>>,
    planners: Vec<Arc<dyn ExprPlanner>>,
    options: ConfigOptions,
}

static FUNCTIONS: LazyLock<Functions> = LazyLock::new(|| {
    let mut scalars = HashMap::new();
    for udf in SessionStateDefaults::default_scalar_functions() {
        let names = std::iter::once(udf.name().to_owned()).chain(udf.aliases().iter().cloned());
        for name in names {
            if ALLOWED_FUNCTIONS.contains(&name.as_str()) {
                scalars.insert(name, Arc::clone(&udf));
            }
        }
    }
    let mut options = ConfigOptions::default();
    options.execution.time_zone = Some("UTC".to_owned());
    Functions {
        scalars,
        planners: SessionStateDefaults::default_expr_planners(),
        options,
    }
});

struct Provider;

impl ContextProvider for Provider {
    fn get_table_source(&self, name: TableReference) -> datafusion::common::Result<Arc<dyn TableSource>> {
        Err(DataFusionError::Plan(format!(
            "tables cannot be referenced in an expression (found `{name}`)"
        )))
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        &FUNCTIONS.planners
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        FUNCTIONS.scalars.get(name).cloned()
    }

    fn get_higher_order_meta(&self, _name: &str) -> Option<Arc<HigherOrderUDF>> {
        None
    }

    fn get_aggregate_meta(&self, _name: &str) -> Option<Arc<AggregateUDF>> {
        None
    }

    fn get_window_meta(&self, _name: &str) -> Option<Arc<WindowUDF>> {
        None
    }

    fn get_variable_type(&self, _names: &[String]) -> Option<DataType> {
        None
    }

    fn get_variable_field(&self, _names: &[String]) -> Option<FieldRef> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        &FUNCTIONS.options
    }

    fn udf_names(&self) -> Vec<String> {
        FUNCTIONS.scalars.keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn udaf_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn udwf_names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The longest expression accepted, in characters.
pub const MAX_EXPR_CHARS: usize = 16 * 1024;
/// The most binary operators (`+`, `=`, `AND`, …) an expression may chain: each nests the
/// expression one level deeper, and every step from parsing to running walks it
/// recursively. (Parentheses are bounded by the SQL parser, at 50 levels.)
pub const MAX_EXPR_OPERATORS: usize = 256;

/// Refuse an expression too long or too deep to be handled in bounded time and stack,
/// before parsing it (a tokenizer is not recursive).
fn check_size(sql: &str) -> Result<(), ExprError> {
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;
    if sql.len() > MAX_EXPR_CHARS {
        return Err(ExprError::Disallowed(format!(
            "the expression is {} characters long; at most {MAX_EXPR_CHARS} are allowed",
            sql.len()
        )));
    }
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| ExprError::Invalid(format!("cannot parse `{sql}`: {e}")))?;
    let operators = tokens
        .iter()
        .filter(|t| match t {
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => true,
            Token::Word(w) => matches!(w.keyword, Keyword::AND | Keyword::OR),
            _ => false,
        })
        .count();
    if operators > MAX_EXPR_OPERATORS {
        return Err(ExprError::Disallowed(format!(
            "the expression chains {operators} operators; at most {MAX_EXPR_OPERATORS} are allowed"
        )));
    }
    Ok(())
}

/// Parse `sql` into an `Expr` over `schema`, refusing anything outside the allowed subset.
pub fn parse_expr(sql: &str, schema: &DFSchema) -> Result<Expr, ExprError> {
    parse_expr_preferring(sql, schema, None)
}

/// Like [`parse_expr`]; an unqualified name that `preferred` (a qualifier in `schema`) has
/// resolves there, even if other qualifiers have it too (a product's own columns win over
/// those of the products it joins).
pub fn parse_expr_preferring(sql: &str, schema: &DFSchema, preferred: Option<&str>) -> Result<Expr, ExprError> {
    check_size(sql)?;
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| ExprError::Invalid(format!("cannot parse `{sql}`: {e}")))?;
    let mut ast = parser
        .parse_expr()
        .map_err(|e| ExprError::Invalid(format!("cannot parse `{sql}`: {e}")))?;
    if let Some(q) = preferred {
        let _ = visit_expressions_mut(&mut ast, |e| {
            if let SqlExpr::Identifier(id) = e {
                let name = if id.quote_style.is_some() {
                    id.value.clone()
                } else {
                    id.value.to_lowercase()
                };
                if schema.has_column(&datafusion::common::Column::new(Some(q), &name)) {
                    *e = SqlExpr::CompoundIdentifier(vec![Ident::new(q), id.clone()]);
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(ExprError::Invalid(format!(
            "unexpected `{}` after the expression in `{sql}`",
            next.token
        )));
    }
    let provider = Provider;
    let planner = SqlToRel::new(&provider);
    let expr = planner
        .sql_to_expr(ast, schema, &mut PlannerContext::new())
        .map_err(|e| classify(sql, e, schema))?;
    check_allowed(&expr)?;
    // Type-check now, so a bad expression is a diagnostic rather than a failure at run time.
    expr.get_type(schema)
        .map_err(|e| ExprError::Invalid(format!("`{sql}` does not type-check: {}", first_line(&e))))?;
    // Integer arithmetic fails on overflow instead of wrapping around.
    checked::check_integer_arithmetic(expr, schema)
        .map_err(|e| ExprError::Invalid(format!("`{sql}` does not type-check: {}", first_line(&e))))
}

fn classify(sql: &str, err: DataFusionError, schema: &DFSchema) -> ExprError {
    match err.find_root() {
        DataFusionError::SchemaError(e, _) if matches!(e.as_ref(), SchemaError::FieldNotFound { .. }) => {
            let SchemaError::FieldNotFound { field, .. } = e.as_ref() else {
                unreachable!()
            };
            let name = match &field.relation {
                Some(r) => format!("{r}.{}", field.name),
                None => field.name.clone(),
            };
            ExprError::UnknownColumn {
                name,
                valid: schema_names(schema),
            }
        }
        DataFusionError::Plan(m)
            if m.contains("Invalid function") || m.contains("function") && m.contains("not found") =>
        {
            let name = m.split('\'').nth(1).unwrap_or("?");
            ExprError::Disallowed(format!("`{sql}` calls `{name}`, which is not an allowed function"))
        }
        DataFusionError::Plan(m) if m.contains("tables cannot be referenced") => {
            ExprError::Disallowed(format!("`{sql}`: subqueries are not allowed in expressions"))
        }
        other => ExprError::Invalid(format!("`{sql}`: {}", first_line(other))),
    }
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// Column names a user may write in this schema (qualified where it matters).
pub fn schema_names(schema: &DFSchema) -> Vec<String> {
    let mut names: Vec<String> = schema
        .iter()
        .map(|(q, f)| match q {
            Some(q) => format!("{q}.{}", f.name()),
            None => f.name().clone(),
        })
        .collect();
    names.sort();
    names
}

/// The longest `lpad`/`rpad` result an expression may ask for.
pub const MAX_PAD_LENGTH: i64 = 10_000;

fn padding_bounded(length: Option<&Expr>) -> bool {
    use datafusion::common::ScalarValue;
    let Some(Expr::Literal(v, _)) = length else {
        return false;
    };
    let n = match v {
        ScalarValue::Int64(Some(n)) => *n,
        ScalarValue::Int32(Some(n)) => i64::from(*n),
        ScalarValue::Int16(Some(n)) => i64::from(*n),
        ScalarValue::Int8(Some(n)) => i64::from(*n),
        _ => return false,
    };
    (0..=MAX_PAD_LENGTH).contains(&n)
}

/// Refuse every construct outside the allowed subset, wherever it is nested.
pub fn check_allowed(expr: &Expr) -> Result<(), ExprError> {
    let mut found: Option<String> = None;
    expr.apply(|e| {
        let bad = match e {
            Expr::ScalarFunction(f) => {
                let name = f.func.name();
                if !ALLOWED_FUNCTIONS.contains(&name)
                    && !checked::NAMES.contains(&name)
                    && !f.func.aliases().iter().any(|a| ALLOWED_FUNCTIONS.contains(&a.as_str()))
                {
                    Some(format!("function `{name}` is not allowed"))
                } else if ["lpad", "rpad"].contains(&name) && !padding_bounded(f.args.get(1)) {
                    // Each row would allocate what the length says (2^31 bytes and more).
                    Some(format!(
                        "`{name}` takes a length written as a number of at most {MAX_PAD_LENGTH}"
                    ))
                } else {
                    None
                }
            }
            Expr::AggregateFunction(_) => Some("aggregate functions are not allowed here".into()),
            Expr::WindowFunction(_) => Some("window functions are not allowed here".into()),
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_) | Expr::SetComparison(_) => {
                Some("subqueries are not allowed".into())
            }
            Expr::Placeholder(_) => Some("placeholders are not allowed".into()),
            Expr::ScalarVariable(..) => Some("variables are not allowed".into()),
            Expr::OuterReferenceColumn(..) => Some("outer references are not allowed".into()),
            Expr::Unnest(_) => Some("unnest is not allowed".into()),
            Expr::GroupingSet(_) => Some("grouping sets are not allowed".into()),
            Expr::HigherOrderFunction(_) | Expr::Lambda(_) | Expr::LambdaVariable(_) => {
                Some("lambdas are not allowed".into())
            }
            #[allow(deprecated)]
            Expr::Wildcard { .. } => Some("`*` is not allowed".into()),
            _ => None,
        };
        if let Some(b) = bad {
            found = Some(b);
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|e| ExprError::Invalid(e.to_string()))?;
    match found {
        Some(m) => Err(ExprError::Disallowed(m)),
        None => Ok(()),
    }
}

/// Check that a parsed filter `e` (the text `sql`) is a boolean condition over `schema`.
pub fn check_boolean(e: &Expr, schema: &DFSchema, sql: &str) -> Result<(), ExprError> {
    match e.get_type(schema) {
        Ok(DataType::Boolean | DataType::Null) => Ok(()),
        Ok(t) => Err(ExprError::Invalid(format!(
            "`{sql}` is of type {t}, not a boolean condition"
        ))),
        Err(err) => Err(ExprError::Invalid(err.to_string())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Schema};

    fn schema() -> DFSchema {
        let s = Schema::new(vec![
            Field::new("amount", DataType::Float64, true),
            Field::new("channel", DataType::Utf8, true),
        ]);
        DFSchema::try_from_qualified_schema("orders", &s).unwrap()
    }

    #[test]
    fn plain_filters_parse_to_qualified_columns() {
        let e = parse_expr("amount > 10 AND lower(channel) IN ('web', 'app')", &schema()).unwrap();
        assert_eq!(
            e.to_string(),
            "orders.amount > Int64(10) AND lower(orders.channel) IN ([Utf8(\"web\"), Utf8(\"app\")])"
        );
    }

    #[test]
    fn subqueries_tables_and_aggregates_are_refused() {
        for sql in [
            "amount IN (SELECT 1)",
            "EXISTS (SELECT * FROM secrets)",
            "amount > (SELECT max(x) FROM read_parquet('/etc/passwd'))",
        ] {
            let err = parse_expr(sql, &schema()).unwrap_err();
            assert!(
                matches!(err, ExprError::Disallowed(_) | ExprError::Invalid(_)),
                "{sql}: {err:?}"
            );
        }
        assert!(matches!(
            parse_expr("sum(amount) > 1", &schema()),
            Err(ExprError::Disallowed(_))
        ));
        assert!(matches!(
            parse_expr("random() > 0.5", &schema()),
            Err(ExprError::Disallowed(_))
        ));
        assert!(matches!(
            parse_expr("now() > 0", &schema()),
            Err(ExprError::Disallowed(_))
        ));
    }

    #[test]
    fn trailing_statements_are_refused() {
        let err = parse_expr("amount > 1; DROP TABLE orders", &schema()).unwrap_err();
        assert!(err.to_string().contains("unexpected"), "{err}");
    }

    #[test]
    fn unknown_columns_list_the_valid_ones() {
        let err = parse_expr("amout > 1", &schema()).unwrap_err();
        assert_eq!(
            err,
            ExprError::UnknownColumn {
                name: "amout".into(),
                valid: vec!["orders.amount".into(), "orders.channel".into()]
            }
        );
    }
}
