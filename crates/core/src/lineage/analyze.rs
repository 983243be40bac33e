//! The walk: every plan node maps its output columns to source columns, positionally.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, JoinType};
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
use datafusion::logical_expr::{Distinct, Expr, LogicalPlan, WindowFunctionDefinition};

use super::{ColumnLineage, Deps, Lineage, SourceColumn, Subtype, fields};
use crate::catalog::Catalog;
use crate::model::Project;
use crate::plan::{OutputColumn, OutputRole};

/// The lineage of `plan`, whose output columns mean `outputs`, over the products of
/// `catalog` (scans are matched to products by table provider identity, not by name).
pub fn analyze(plan: &LogicalPlan, outputs: &[OutputColumn], catalog: &Catalog, project: &Project) -> Lineage {
    let mut walker = Walker {
        catalog,
        unresolved: Vec::new(),
        scanned: Vec::new(),
    };
    let root = walker.node(plan);
    let schema = plan.schema();
    if outputs.len() != schema.fields().len() {
        walker.unresolved.push(format!(
            "output: the plan has {} columns but the query describes {}",
            schema.fields().len(),
            outputs.len()
        ));
    }
    let columns = root
        .columns
        .iter()
        .enumerate()
        .map(|(i, deps)| ColumnLineage {
            name: outputs
                .get(i)
                .map(|o| o.name.clone())
                .unwrap_or_else(|| schema.field(i).name().clone()),
            role: outputs.get(i).map(|o| o.role).unwrap_or(OutputRole::Kpi),
            inputs: fields(deps),
        })
        .collect();
    let mut unresolved = std::mem::take(&mut walker.unresolved);
    unresolved.sort();
    unresolved.dedup();
    Lineage {
        columns,
        dataset: fields(&root.dataset),
        products: Vec::new(),
        raw: Vec::new(),
        unresolved,
    }
    .with_upstream(project, &walker.scanned)
}

/// The lineage of one node: per output column, and for the node's rows as a whole.
#[derive(Debug, Default, Clone)]
struct Node {
    columns: Vec<Deps>,
    dataset: Deps,
}

impl Node {
    fn empty(n: usize) -> Node {
        Node {
            columns: vec![Deps::new(); n],
            dataset: Deps::new(),
        }
    }
}

struct Walker<'a> {
    catalog: &'a Catalog,
    unresolved: Vec<String>,
    /// Products scanned, in plan order.
    scanned: Vec<String>,
}

/// The role of the expression being read: how its columns reach the output.
#[derive(Debug, Clone, Copy)]
struct Role {
    subtype: Subtype,
    masking: bool,
    /// Computed on the way (an aggregate of `a * b` is an aggregation and a transformation).
    transformed: bool,
}

impl Role {
    const TOP: Role = Role {
        subtype: Subtype::Identity,
        masking: false,
        transformed: false,
    };

    fn indirect(subtype: Subtype) -> Role {
        Role {
            subtype,
            masking: false,
            transformed: false,
        }
    }

    fn aggregation(masking: bool) -> Role {
        Role {
            subtype: Subtype::Aggregation,
            masking,
            transformed: false,
        }
    }

    /// One step of computation further from the source value.
    fn computed(self) -> Role {
        match self.subtype {
            Subtype::Identity => Role {
                subtype: Subtype::Transformation,
                ..self
            },
            Subtype::Aggregation => Role {
                transformed: true,
                ..self
            },
            _ => self,
        }
    }
}

fn add(out: &mut Deps, src: &SourceColumn, subtype: Subtype, masking: bool) {
    let m = out.entry(src.clone()).or_default().entry(subtype).or_insert(false);
    *m |= masking;
}

fn merge(out: &mut Deps, other: &Deps) {
    for (src, subs) in other {
        for (s, m) in subs {
            add(out, src, *s, *m);
        }
    }
}

/// A value computed from a source is not also its identity.
fn normalize(mut deps: Deps) -> Deps {
    for subs in deps.values_mut() {
        if subs.contains_key(&Subtype::Identity)
            && (subs.contains_key(&Subtype::Transformation) || subs.contains_key(&Subtype::Aggregation))
        {
            subs.remove(&Subtype::Identity);
        }
    }
    deps
}

/// Aggregates and functions whose result hides the values they read.
fn masks(name: &str) -> bool {
    matches!(
        name,
        "count" | "approx_distinct" | "md5" | "sha224" | "sha256" | "sha384" | "sha512" | "digest"
    )
}

impl Walker<'_> {
    fn unresolved(&mut self, what: String) {
        self.unresolved.push(what);
    }

    fn node(&mut self, plan: &LogicalPlan) -> Node {
        let width = plan.schema().fields().len();
        let node = match plan {
            LogicalPlan::Projection(p) => {
                let input = self.node(&p.input);
                let columns = p.expr.iter().map(|e| self.value(e, p.input.schema(), &input)).collect();
                Node {
                    columns,
                    dataset: input.dataset,
                }
            }
            LogicalPlan::Filter(f) => {
                let mut input = self.node(&f.input);
                let deps = self.deps(&f.predicate, f.input.schema(), &input, Role::indirect(Subtype::Filter));
                merge(&mut input.dataset, &deps);
                input
            }
            LogicalPlan::Window(w) => {
                let mut input = self.node(&w.input);
                let extra: Vec<Deps> = w
                    .window_expr
                    .iter()
                    .map(|e| self.value(e, w.input.schema(), &input))
                    .collect();
                input.columns.extend(extra);
                input
            }
            LogicalPlan::Aggregate(a) => {
                if a.group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_))) {
                    self.unresolved("Aggregate: grouping sets are not resolved".into());
                    return Node::empty(width);
                }
                let input = self.node(&a.input);
                let mut dataset = input.dataset.clone();
                let mut columns = Vec::with_capacity(width);
                for e in &a.group_expr {
                    columns.push(self.value(e, a.input.schema(), &input));
                    let keys = self.deps(e, a.input.schema(), &input, Role::indirect(Subtype::GroupBy));
                    merge(&mut dataset, &keys);
                }
                for e in &a.aggr_expr {
                    columns.push(self.value(e, a.input.schema(), &input));
                }
                Node { columns, dataset }
            }
            LogicalPlan::Sort(s) => {
                let mut input = self.node(&s.input);
                for e in &s.expr {
                    let deps = self.deps(&e.expr, s.input.schema(), &input, Role::indirect(Subtype::Sort));
                    merge(&mut input.dataset, &deps);
                }
                input
            }
            LogicalPlan::Join(j) => self.join(j),
            LogicalPlan::Repartition(r) => self.node(&r.input),
            LogicalPlan::Union(u) => {
                let mut out = Node::empty(width);
                for input in &u.inputs {
                    let n = self.node(input);
                    if n.columns.len() != width {
                        self.unresolved(format!(
                            "Union: an input has {} columns, the union {width}",
                            n.columns.len()
                        ));
                        continue;
                    }
                    for (o, c) in out.columns.iter_mut().zip(&n.columns) {
                        merge(o, c);
                    }
                    merge(&mut out.dataset, &n.dataset);
                }
                out
            }
            // A generated time spine reads no data product.
            LogicalPlan::TableScan(t) if t.table_name.table() == crate::plan::SPINE_TABLE => Node::empty(width),
            LogicalPlan::TableScan(t) => self.scan(t),
            LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => Node::empty(width),
            LogicalPlan::SubqueryAlias(s) => self.node(&s.input),
            LogicalPlan::Limit(l) => self.node(&l.input),
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let mut n = self.node(input);
                for c in n.columns.clone() {
                    for src in c.keys() {
                        add(&mut n.dataset, src, Subtype::GroupBy, false);
                    }
                }
                n
            }
            LogicalPlan::Unnest(u) => {
                let input = self.node(&u.input);
                let unnested: Vec<usize> = u
                    .list_type_columns
                    .iter()
                    .map(|(i, _)| *i)
                    .chain(u.struct_type_columns.iter().copied())
                    .collect();
                let columns = u
                    .dependency_indices
                    .iter()
                    .map(|&i| {
                        let deps = input.columns.get(i).cloned().unwrap_or_default();
                        if unnested.contains(&i) {
                            let mut out = Deps::new();
                            for (src, subs) in &deps {
                                for (s, m) in subs {
                                    let s = if *s == Subtype::Identity {
                                        Subtype::Transformation
                                    } else {
                                        *s
                                    };
                                    add(&mut out, src, s, *m);
                                }
                            }
                            out
                        } else {
                            deps
                        }
                    })
                    .collect();
                Node {
                    columns,
                    dataset: input.dataset,
                }
            }
            other => {
                self.unresolved(format!("{}: this kind of plan node is not resolved", name(other)));
                Node::empty(width)
            }
        };
        if node.columns.len() != width {
            self.unresolved(format!(
                "{}: resolved {} columns of {width}",
                name(plan),
                node.columns.len()
            ));
            let mut node = node;
            node.columns.resize(width, Deps::new());
            return node;
        }
        node
    }

    fn scan(&mut self, t: &datafusion::logical_expr::TableScan) -> Node {
        let width = t.projected_schema.fields().len();
        let product = source_as_provider(&t.source).ok().and_then(|provider| {
            let target = Arc::as_ptr(&provider) as *const ();
            self.catalog
                .tables()
                .find(|(_, table)| Arc::as_ptr(&table.provider) as *const () == target)
                .map(|(id, _)| id.clone())
        });
        let Some(product) = product else {
            self.unresolved(format!(
                "TableScan of `{}`: not a data product of this project",
                t.table_name
            ));
            return Node::empty(width);
        };
        if !self.scanned.contains(&product) {
            self.scanned.push(product.clone());
        }
        let table = t.source.schema();
        let full: Vec<Deps> = table
            .fields()
            .iter()
            .map(|f| {
                let mut d = Deps::new();
                add(
                    &mut d,
                    &SourceColumn {
                        product: product.clone(),
                        column: f.name().clone(),
                    },
                    Subtype::Identity,
                    false,
                );
                d
            })
            .collect();
        let columns: Vec<Deps> = match &t.projection {
            Some(indices) => indices
                .iter()
                .map(|&i| full.get(i).cloned().unwrap_or_default())
                .collect(),
            None => full.clone(),
        };
        let mut node = Node {
            columns,
            dataset: Deps::new(),
        };
        if !t.filters.is_empty() {
            // Pushed-down filters read the table's columns, projected or not.
            match DFSchema::try_from_qualified_schema(t.table_name.clone(), &table) {
                Ok(schema) => {
                    let whole = Node {
                        columns: full,
                        dataset: Deps::new(),
                    };
                    for f in &t.filters {
                        let deps = self.deps(f, &schema, &whole, Role::indirect(Subtype::Filter));
                        merge(&mut node.dataset, &deps);
                    }
                }
                Err(e) => self.unresolved(format!("TableScan of `{}`: filters: {e}", t.table_name)),
            }
        }
        node
    }

    fn join(&mut self, j: &datafusion::logical_expr::Join) -> Node {
        let left = self.node(&j.left);
        let right = self.node(&j.right);
        let mut dataset = left.dataset.clone();
        merge(&mut dataset, &right.dataset);
        let role = Role::indirect(Subtype::Join);
        let mut keys = Deps::new();
        for (l, r) in &j.on {
            let d = self.deps(l, j.left.schema(), &left, role);
            merge(&mut keys, &d);
            let d = self.deps(r, j.right.schema(), &right, role);
            merge(&mut keys, &d);
        }
        if let Some(filter) = &j.filter {
            match j.left.schema().join(j.right.schema()) {
                Ok(schema) => {
                    let both = Node {
                        columns: left.columns.iter().chain(&right.columns).cloned().collect(),
                        dataset: Deps::new(),
                    };
                    let d = self.deps(filter, &schema, &both, role);
                    merge(&mut keys, &d);
                }
                Err(e) => self.unresolved(format!("Join: filter: {e}")),
            }
        }
        merge(&mut dataset, &keys);
        let columns = match j.join_type {
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                left.columns.into_iter().chain(right.columns).collect()
            }
            JoinType::LeftSemi | JoinType::LeftAnti => left.columns,
            JoinType::RightSemi | JoinType::RightAnti => right.columns,
            JoinType::LeftMark => left.columns.into_iter().chain([keys.clone()]).collect(),
            JoinType::RightMark => right.columns.into_iter().chain([keys.clone()]).collect(),
        };
        Node { columns, dataset }
    }

    /// The dependencies of an output value computed by `e`.
    fn value(&mut self, e: &Expr, schema: &DFSchema, input: &Node) -> Deps {
        normalize(self.deps(e, schema, input, Role::TOP))
    }

    fn deps(&mut self, e: &Expr, schema: &DFSchema, input: &Node, role: Role) -> Deps {
        let mut out = Deps::new();
        self.walk(e, schema, input, role, &mut out);
        out
    }

    #[allow(deprecated)] // `Expr::Wildcard`, listed to be reported if it ever appears
    fn walk(&mut self, e: &Expr, schema: &DFSchema, input: &Node, role: Role, out: &mut Deps) {
        match e {
            Expr::Alias(a) => self.walk(&a.expr, schema, input, role, out),
            // A cast changes the type, not the value: the planner only widens (ints to
            // floats, timestamps to UTC microseconds).
            Expr::Cast(c) => self.walk(&c.expr, schema, input, role, out),
            Expr::TryCast(c) => self.walk(&c.expr, schema, input, role, out),
            Expr::Column(c) => match schema.index_of_column(c) {
                Ok(i) => {
                    let Some(deps) = input.columns.get(i) else {
                        self.unresolved(format!("column `{c}`: index {i} outside its input"));
                        return;
                    };
                    for (src, subs) in deps {
                        for (s, m) in subs {
                            if !role.subtype.is_direct() {
                                add(out, src, role.subtype, false);
                            } else if s.is_direct() {
                                add(out, src, *s, *m);
                                add(out, src, role.subtype, role.masking || *m);
                                if role.transformed {
                                    add(out, src, Subtype::Transformation, false);
                                }
                            } else {
                                add(out, src, *s, *m);
                            }
                        }
                    }
                }
                Err(err) => self.unresolved(format!("column `{c}`: {err}")),
            },
            Expr::Literal(..) | Expr::ScalarVariable(..) => {}
            Expr::AggregateFunction(AggregateFunction { func, params }) => {
                let inner = if role.subtype.is_direct() {
                    Role::aggregation(role.masking || masks(func.name()))
                } else {
                    role
                };
                for a in &params.args {
                    self.walk(a, schema, input, inner, out);
                }
                let filter_role = if role.subtype.is_direct() {
                    Role::indirect(Subtype::Filter)
                } else {
                    role
                };
                if let Some(f) = &params.filter {
                    self.walk(f, schema, input, filter_role, out);
                }
                let sort_role = if role.subtype.is_direct() {
                    Role::indirect(Subtype::Sort)
                } else {
                    role
                };
                for s in &params.order_by {
                    self.walk(&s.expr, schema, input, sort_role, out);
                }
            }
            Expr::WindowFunction(w) => {
                let WindowFunction { fun, params } = w.as_ref();
                let inner = if !role.subtype.is_direct() {
                    role
                } else if matches!(fun, WindowFunctionDefinition::AggregateUDF(_)) {
                    Role::aggregation(role.masking || masks(fun.name()))
                } else {
                    role.computed()
                };
                for a in &params.args {
                    self.walk(a, schema, input, inner, out);
                }
                let window = if role.subtype.is_direct() {
                    Role::indirect(Subtype::Window)
                } else {
                    role
                };
                for p in &params.partition_by {
                    self.walk(p, schema, input, window, out);
                }
                for s in &params.order_by {
                    self.walk(&s.expr, schema, input, window, out);
                }
                if let Some(f) = &params.filter {
                    let filter = if role.subtype.is_direct() {
                        Role::indirect(Subtype::Filter)
                    } else {
                        role
                    };
                    self.walk(f, schema, input, filter, out);
                }
            }
            Expr::Case(c) => {
                let cond = if role.subtype.is_direct() {
                    Role::indirect(Subtype::Conditional)
                } else {
                    role
                };
                if let Some(base) = &c.expr {
                    self.walk(base, schema, input, cond, out);
                }
                for (when, then) in &c.when_then_expr {
                    self.walk(when, schema, input, cond, out);
                    self.walk(then, schema, input, role.computed(), out);
                }
                if let Some(other) = &c.else_expr {
                    self.walk(other, schema, input, role.computed(), out);
                }
            }
            Expr::ScalarFunction(f) => {
                let inner = Role {
                    masking: role.masking || (role.subtype.is_direct() && masks(f.name())),
                    ..role.computed()
                };
                for a in &f.args {
                    self.walk(a, schema, input, inner, out);
                }
            }
            Expr::Exists(_)
            | Expr::InSubquery(_)
            | Expr::SetComparison(_)
            | Expr::ScalarSubquery(_)
            | Expr::OuterReferenceColumn(..)
            | Expr::Placeholder(_)
            | Expr::Wildcard { .. }
            | Expr::GroupingSet(_)
            | Expr::Unnest(_)
            | Expr::HigherOrderFunction(_)
            | Expr::Lambda(_)
            | Expr::LambdaVariable(_) => {
                self.unresolved(format!("expression `{e}`: {} is not resolved", e.variant_name()));
            }
            // Every other expression computes its value from its children's.
            other => {
                let inner = role.computed();
                let _ = other.apply_children(|child| {
                    self.walk(child, schema, input, inner, out);
                    Ok(TreeNodeRecursion::Continue)
                });
            }
        }
    }
}

fn name(plan: &LogicalPlan) -> String {
    let shown = plan.display().to_string();
    shown.split(':').next().unwrap_or("node").trim().to_owned()
}
