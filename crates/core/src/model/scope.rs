//! The columns and dimensions an expression over a product may use: the product's own and
//! those of the products it reaches through many-to-one joins.

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::{Expr, ExprSchemable};

use super::{Product, Project, Scope};
use crate::expr::{ExprError, parse_expr, parse_expr_preferring};

/// Why a dimension name could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionError {
    Unknown {
        name: String,
        valid: Vec<String>,
    },
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    /// The dimension's product is reachable by more than one join path.
    AmbiguousPath {
        name: String,
        product: String,
    },
    FanOut {
        name: String,
        product: String,
        entity: String,
    },
}

impl std::fmt::Display for DimensionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DimensionError::Unknown { name, .. } => write!(f, "unknown dimension `{name}`"),
            DimensionError::Ambiguous { name, candidates } => write!(
                f,
                "dimension `{name}` is ambiguous; qualify it as one of {}",
                candidates.join(", ")
            ),
            DimensionError::AmbiguousPath { name, product } => write!(
                f,
                "dimension `{name}` is in `{product}`, which is reachable by more than one join path; \
                 which one is meant is unclear"
            ),
            DimensionError::FanOut { name, product, entity } => write!(
                f,
                "dimension `{name}` would join `{product}` through `{entity}`, which is not unique \
                 there: the join would repeat rows (fan-out)"
            ),
        }
    }
}

/// A resolved dimension: where it lives and the expression computing it.
#[derive(Debug, Clone)]
pub struct ResolvedDimension {
    pub qualifier: String,
    pub name: String,
    pub expr: Expr,
}

/// The schema user expressions over one product are parsed against.
#[derive(Debug, Clone)]
pub struct ScopeSchema {
    pub scope: Scope,
    pub schema: DFSchema,
    /// Dimensions by `(qualifier, name)`, as expressions over real columns.
    dims: HashMap<(String, String), Expr>,
    /// Dimension names in declaration order, for hints.
    dim_names: Vec<(String, String)>,
}

/// A product's columns, as declared by its contract (with partition columns).
pub fn declared_schema(product: &Product) -> Schema {
    let mut fields: Vec<Field> = product
        .columns
        .iter()
        .map(|(n, c)| Field::new(n, c.data_type.clone(), c.nullable))
        .collect();
    for (n, t) in &product.partitions {
        if !product.columns.contains_key(n) {
            fields.push(Field::new(n, t.clone(), false));
        }
    }
    Schema::new(fields)
}

impl ScopeSchema {
    /// Build the scope of `root`, reading each product's columns through `columns`.
    /// A dimension whose expression does not parse is reported as `(product, dimension, error)`.
    pub fn new(
        project: &Project,
        root: &str,
        columns: &dyn Fn(&Product) -> Schema,
    ) -> Result<ScopeSchema, (String, String, ExprError)> {
        Self::of(project, Scope::build(project, root), columns)
    }

    /// Like [`Self::new`], over a scope already built (with explicit join paths, say).
    pub fn of(
        project: &Project,
        scope: Scope,
        columns: &dyn Fn(&Product) -> Schema,
    ) -> Result<ScopeSchema, (String, String, ExprError)> {
        let mut schema = DFSchema::empty();
        let mut dims = HashMap::new();
        let mut dim_names = Vec::new();
        for member in &scope.members {
            let Some(product) = project.product(&member.product) else {
                continue;
            };
            let own = DFSchema::try_from_qualified_schema(member.qualifier.as_str(), &columns(product))
                .map_err(|e| (product.id.clone(), String::new(), ExprError::Invalid(e.to_string())))?;
            let mut alias_fields = Vec::new();
            for (name, dim) in &product.dimensions {
                let expr = parse_expr(&dim.expr, &own).map_err(|e| (product.id.clone(), name.clone(), e))?;
                if !own.has_column_with_unqualified_name(name) {
                    let data_type = expr
                        .get_type(&own)
                        .map_err(|e| (product.id.clone(), name.clone(), ExprError::Invalid(e.to_string())))?;
                    alias_fields.push(Field::new(name, data_type, true));
                }
                dims.insert((member.qualifier.clone(), name.clone()), expr);
                dim_names.push((member.qualifier.clone(), name.clone()));
            }
            let aliases = DFSchema::try_from_qualified_schema(member.qualifier.as_str(), &Schema::new(alias_fields))
                .map_err(|e| (product.id.clone(), String::new(), ExprError::Invalid(e.to_string())))?;
            schema.merge(&own);
            schema.merge(&aliases);
        }
        Ok(ScopeSchema {
            scope,
            schema,
            dims,
            dim_names,
        })
    }

    /// Like [`Self::parse`], with extra unqualified columns `(name, type)` (left in the
    /// expression for the caller to replace).
    pub fn parse_with_extras(
        &self,
        sql: &str,
        extras: &[(String, datafusion::arrow::datatypes::DataType)],
    ) -> Result<Expr, ExprError> {
        if extras.is_empty() {
            return self.parse(sql);
        }
        let schema = self.extended_schema(extras)?;
        let root = self.scope.root().qualifier.clone();
        let expr = parse_expr_preferring(sql, &schema, Some(&root))?;
        self.substitute(expr)
    }

    /// The scope's schema with extra unqualified columns.
    pub fn extended_schema(
        &self,
        extras: &[(String, datafusion::arrow::datatypes::DataType)],
    ) -> Result<DFSchema, ExprError> {
        let fields: Vec<Field> = extras.iter().map(|(n, t)| Field::new(n, t.clone(), true)).collect();
        let extra = DFSchema::try_from(Schema::new(fields)).map_err(|e| ExprError::Invalid(e.to_string()))?;
        let mut schema = self.schema.clone();
        schema.merge(&extra);
        Ok(schema)
    }

    /// Parse a user expression over the scope; dimension names become their expressions.
    pub fn parse(&self, sql: &str) -> Result<Expr, ExprError> {
        let root = self.scope.root().qualifier.clone();
        let expr = parse_expr_preferring(sql, &self.schema, Some(&root))?;
        if let Some(q) = Self::qualifiers(&expr)
            .into_iter()
            .find(|q| self.scope.ambiguous.contains(q))
        {
            return Err(ExprError::Ambiguous(format!(
                "`{q}` is reachable from `{root}` by more than one join path; which one is meant is unclear"
            )));
        }
        self.substitute(expr)
    }

    fn substitute(&self, expr: Expr) -> Result<Expr, ExprError> {
        expr.transform(|e| {
            if let Expr::Column(c) = &e
                && let Some(q) = &c.relation
                && let Some(d) = self.dims.get(&(q.to_string(), c.name.clone()))
                && !matches!(d, Expr::Column(dc) if dc == c)
            {
                return Ok(Transformed::yes(d.clone()));
            }
            Ok(Transformed::no(e))
        })
        .map(|t| t.data)
        .map_err(|e| ExprError::Invalid(e.to_string()))
    }

    /// Resolve a dimension reference: `name` or `qualifier.name`.
    pub fn dimension(&self, project: &Project, reference: &str) -> Result<ResolvedDimension, DimensionError> {
        let (qualifier, name) = match reference.split_once('.') {
            Some((q, n)) => (Some(q), n),
            None => (None, reference),
        };
        if let Some(q) = qualifier.filter(|q| self.scope.ambiguous.contains(*q)) {
            return Err(DimensionError::AmbiguousPath {
                name: reference.to_owned(),
                product: q.to_owned(),
            });
        }
        let found = |q: &str| {
            self.dims
                .get(&(q.to_owned(), name.to_owned()))
                .map(|e| ResolvedDimension {
                    qualifier: q.to_owned(),
                    name: name.to_owned(),
                    expr: e.clone(),
                })
        };
        if let Some(q) = qualifier {
            if let Some(d) = found(q) {
                return Ok(d);
            }
            if let Some((p, entity)) = self.scope.fan_out.iter().find(|(p, _)| p == q)
                && project.product(p).is_some_and(|p| p.dimensions.contains_key(name))
            {
                return Err(DimensionError::FanOut {
                    name: reference.to_owned(),
                    product: p.clone(),
                    entity: entity.clone(),
                });
            }
            return Err(self.unknown(reference));
        }
        let candidates: Vec<&(String, String)> = self.dim_names.iter().filter(|(_, n)| n == name).collect();
        match candidates.as_slice() {
            [] => {
                if let Some((p, entity)) = self
                    .scope
                    .fan_out
                    .iter()
                    .find(|(p, _)| project.product(p).is_some_and(|p| p.dimensions.contains_key(name)))
                {
                    return Err(DimensionError::FanOut {
                        name: reference.to_owned(),
                        product: p.clone(),
                        entity: entity.clone(),
                    });
                }
                Err(self.unknown(reference))
            }
            [(q, _)] if self.scope.ambiguous.contains(q) => Err(DimensionError::AmbiguousPath {
                name: reference.to_owned(),
                product: q.clone(),
            }),
            [(q, _)] => found(q).ok_or_else(|| self.unknown(reference)),
            many => {
                let root = &self.scope.root().qualifier;
                if let Some((q, _)) = many.iter().find(|(q, _)| q == root) {
                    return found(q).ok_or_else(|| self.unknown(reference));
                }
                Err(DimensionError::Ambiguous {
                    name: reference.to_owned(),
                    candidates: many.iter().map(|(q, n)| format!("{q}.{n}")).collect(),
                })
            }
        }
    }

    fn unknown(&self, reference: &str) -> DimensionError {
        DimensionError::Unknown {
            name: reference.to_owned(),
            valid: self.dim_names.iter().map(|(q, n)| format!("{q}.{n}")).collect(),
        }
    }

    /// The qualifiers (products) an expression reads.
    pub fn qualifiers(expr: &Expr) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let _ = expr.apply(|e| {
            if let Expr::Column(Column { relation: Some(r), .. }) = e {
                out.insert(r.to_string());
            }
            Ok(TreeNodeRecursion::Continue)
        });
        out
    }
}

/// Prefix of a column holding a KPI's value per entity: `__kpi__K__per__E`.
pub const ENTITY_METRIC_PREFIX: &str = "__kpi__";

/// The `__kpi__K__per__E` columns a SQL text uses (a KPI's value per entity, Float64).
pub fn entity_metric_columns(sql: &str) -> Vec<(String, datafusion::arrow::datatypes::DataType)> {
    let mut names: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with(ENTITY_METRIC_PREFIX) && w.contains("__per__"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| (n, datafusion::arrow::datatypes::DataType::Float64))
        .collect()
}
