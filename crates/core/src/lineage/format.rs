//! Lineage for people (text), for graphs (Graphviz dot, Mermaid) and for OpenLineage.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{InputField, Lineage};
use crate::model::{Project, type_name};

fn transformations(f: &InputField) -> String {
    f.transformations
        .iter()
        .map(|t| {
            let masked = if t.masking { " (masking)" } else { "" };
            format!("{} {}{masked}", t.kind, t.subtype.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lineage as aligned text.
pub fn to_text(lineage: &Lineage) -> String {
    let mut out = String::new();
    let width = lineage.columns.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let source_width = lineage
        .columns
        .iter()
        .flat_map(|c| &c.inputs)
        .chain(&lineage.dataset)
        .map(|f| f.product.len() + f.column.len() + 1)
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "Output columns:");
    for c in &lineage.columns {
        let role = format!("({})", role_name(c.role));
        if c.inputs.is_empty() {
            let _ = writeln!(
                out,
                "  {:width$} {role:11} no source column (generated, or a count of rows)",
                c.name
            );
        }
        for (i, f) in c.inputs.iter().enumerate() {
            let (name, role) = if i == 0 {
                (c.name.as_str(), role.as_str())
            } else {
                ("", "")
            };
            let source = format!("{}.{}", f.product, f.column);
            let _ = writeln!(
                out,
                "  {name:width$} {role:11} <- {source:source_width$}  {}",
                transformations(f)
            );
        }
    }
    let _ = writeln!(out, "Rows of the result decided by:");
    if lineage.dataset.is_empty() {
        let _ = writeln!(out, "  (nothing)");
    }
    for f in &lineage.dataset {
        let source = format!("{}.{}", f.product, f.column);
        let _ = writeln!(out, "  {source:source_width$}  {}", transformations(f));
    }
    let _ = writeln!(out, "Data products:");
    for p in &lineage.products {
        let sources = if p.sources.is_empty() {
            "no raw sources declared".to_owned()
        } else {
            format!("built from {}", p.sources.join(", "))
        };
        let _ = writeln!(out, "  {} {} at {} ({sources})", p.product, p.version, p.location);
    }
    if !lineage.raw.is_empty() {
        let _ = writeln!(out, "Raw sources (declared in the contracts):");
        for e in &lineage.raw {
            let _ = writeln!(out, "  {}.{} -> {}.{}", e.source, e.source_column, e.product, e.column);
        }
    }
    if lineage.unresolved.is_empty() {
        let _ = writeln!(out, "Unresolved: nothing");
    } else {
        let _ = writeln!(out, "Unresolved (not guessed):");
        for u in &lineage.unresolved {
            let _ = writeln!(out, "  {u}");
        }
    }
    out
}

fn role_name(role: crate::plan::OutputRole) -> &'static str {
    match role {
        crate::plan::OutputRole::Period => "period",
        crate::plan::OutputRole::Dimension => "dimension",
        crate::plan::OutputRole::Kpi => "kpi",
    }
}

/// The nodes and edges of the raw → product → output graph.
struct Graph {
    /// (id, label, group) with group `raw`, a product id, or `output`.
    nodes: Vec<(String, String, String)>,
    /// (from, to, label, direct)
    edges: Vec<(String, String, String, bool)>,
}

impl Graph {
    /// The id of the node `key`, added with `label` in `group` the first time.
    fn node(&mut self, ids: &mut BTreeMap<String, String>, key: String, label: String, group: &str) -> String {
        let n = ids.len();
        ids.entry(key)
            .or_insert_with(|| {
                let id = format!("n{n}");
                self.nodes.push((id.clone(), label, group.to_owned()));
                id
            })
            .clone()
    }

    fn column(&mut self, ids: &mut BTreeMap<String, String>, product: &str, column: &str) -> String {
        self.node(ids, format!("product:{product}.{column}"), column.to_owned(), product)
    }

    /// An edge from a product column to `to`, labelled with its subtypes.
    fn input(&mut self, ids: &mut BTreeMap<String, String>, f: &InputField, to: &str) {
        let from = self.column(ids, &f.product, &f.column);
        let direct = f.transformations.iter().any(|t| t.subtype.is_direct());
        let label: Vec<&str> = f.transformations.iter().map(|t| t.subtype.as_str()).collect();
        self.edges.push((from, to.to_owned(), label.join(","), direct));
    }
}

fn graph(lineage: &Lineage) -> Graph {
    let mut ids = BTreeMap::new();
    let mut g = Graph {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let result = g.node(&mut ids, "result:rows".into(), "rows of the result".into(), "output");
    for c in &lineage.columns {
        let to = g.node(&mut ids, format!("out:{}", c.name), c.name.clone(), "output");
        for f in &c.inputs {
            g.input(&mut ids, f, &to);
        }
    }
    for f in &lineage.dataset {
        g.input(&mut ids, f, &result);
    }
    for e in &lineage.raw {
        let raw = format!("{}.{}", e.source, e.source_column);
        let from = g.node(&mut ids, format!("raw:{raw}"), raw, "raw");
        let to = g.column(&mut ids, &e.product, &e.column);
        g.edges.push((from, to, "contract".into(), true));
    }
    g
}

fn groups(g: &Graph) -> BTreeMap<&str, Vec<&(String, String, String)>> {
    let mut groups: BTreeMap<&str, Vec<&(String, String, String)>> = BTreeMap::new();
    for n in &g.nodes {
        groups.entry(n.2.as_str()).or_default().push(n);
    }
    groups
}

fn group_title(group: &str) -> String {
    match group {
        "raw" => "raw sources".into(),
        "output" => "result".into(),
        product => format!("product {product}"),
    }
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The lineage as a Graphviz `dot` graph: raw sources, product columns and result columns
/// in clusters; dashed edges are INDIRECT.
pub fn to_dot(lineage: &Lineage) -> String {
    let g = graph(lineage);
    let mut out = String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (i, (group, nodes)) in groups(&g).into_iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{i} {{\n    label={};",
            dot_quote(&group_title(group))
        );
        for (id, label, _) in nodes {
            let _ = writeln!(out, "    {id} [label={}];", dot_quote(label));
        }
        let _ = writeln!(out, "  }}");
    }
    for (from, to, label, direct) in &g.edges {
        let style = if *direct { "" } else { ", style=dashed" };
        let _ = writeln!(out, "  {from} -> {to} [label={}{style}];", dot_quote(label));
    }
    out.push_str("}\n");
    out
}

fn mermaid_text(s: &str) -> String {
    // Mermaid labels in quotes: `"` is written as its entity.
    s.replace('"', "#quot;")
}

/// The lineage as a Mermaid flowchart (renders in GitHub and most Markdown viewers).
pub fn to_mermaid(lineage: &Lineage) -> String {
    let g = graph(lineage);
    let mut out = String::from("flowchart LR\n");
    for (i, (group, nodes)) in groups(&g).into_iter().enumerate() {
        let _ = writeln!(out, "  subgraph g{i} [\"{}\"]", mermaid_text(&group_title(group)));
        for (id, label, _) in nodes {
            let _ = writeln!(out, "    {id}[\"{}\"]", mermaid_text(label));
        }
        let _ = writeln!(out, "  end");
    }
    for (from, to, label, direct) in &g.edges {
        let arrow = if *direct { "-->" } else { "-.->" };
        let _ = writeln!(out, "  {from} {arrow}|\"{}\"| {to}", mermaid_text(label));
    }
    out
}

/// What an OpenLineage event needs beyond the lineage.
#[derive(Debug, Clone)]
pub struct OpenLineageContext {
    pub run_id: uuid::Uuid,
    pub time: DateTime<Utc>,
    /// Namespace of the job and of the result dataset, e.g. `canary://retail`.
    pub namespace: String,
    /// Name of the job and of the result dataset, e.g. the KPI ids.
    pub name: String,
}

impl OpenLineageContext {
    /// The context of a query run now: a new run id, the project as namespace
    /// (`canary://NAME`), the KPI ids as the job's and the result's name.
    ///
    /// The run id is a UUIDv7 of the clock's time whose other bits hash `seed` (e.g. the
    /// lineage document): a fixed clock gives the same events for the same lineage.
    pub fn for_query(
        project: &Project,
        kpis: &[String],
        clock: &dyn crate::clock::Clock,
        seed: &[u8],
    ) -> OpenLineageContext {
        let time = clock.now();
        OpenLineageContext {
            run_id: crate::clock::derived_run_id(time, seed),
            time,
            namespace: format!("canary://{}", project.name),
            name: kpis.join(","),
        }
    }
}

const PRODUCER: &str = concat!("https://github.com/canary-kpi/canary/tree/v", env!("CARGO_PKG_VERSION"));
const RUN_EVENT: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const COLUMN_LINEAGE: &str =
    "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet";
const SCHEMA: &str = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";

/// OpenLineage's dataset naming for a product's location: `file` + absolute path for local
/// data, `s3://bucket` + key prefix for S3.
fn dataset_of(project: &Project, product: &str) -> (String, String) {
    let Some(p) = project.products.get(product) else {
        return ("canary".into(), product.to_owned());
    };
    match url::Url::parse(&p.location) {
        Ok(u) if u.scheme() == "file" => ("file".into(), u.path().trim_end_matches('/').to_owned()),
        Ok(u) if u.host_str().is_some() => (
            format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default()),
            u.path().trim_matches('/').to_owned(),
        ),
        _ => ("file".into(), p.location.trim_end_matches('/').to_owned()),
    }
}

fn input_field(project: &Project, f: &InputField) -> Value {
    let (namespace, name) = dataset_of(project, &f.product);
    json!({
        "namespace": namespace,
        "name": name,
        "field": f.column,
        "transformations": f.transformations.iter().map(|t| json!({
            "type": t.kind,
            "subtype": t.subtype.as_str(),
            "masking": t.masking,
        })).collect::<Vec<_>>(),
    })
}

fn facet(schema_url: &str, body: Value) -> Value {
    let mut v = json!({ "_producer": PRODUCER, "_schemaURL": schema_url });
    if let (Some(o), Value::Object(b)) = (v.as_object_mut(), body) {
        o.extend(b);
    }
    v
}

/// The lineage as OpenLineage RunEvents (spec 2-0-2): first the query's event, whose output
/// dataset carries the column-lineage facet (1-2-0) and a schema facet, then one event per
/// product declaring raw sources (raw → product, from the contract's mapping).
pub fn to_openlineage(
    lineage: &Lineage,
    project: &Project,
    ctx: &OpenLineageContext,
    schema: &[(String, String)],
) -> Vec<Value> {
    let time = ctx.time.to_rfc3339_opts(SecondsFormat::Millis, true);
    let fields: serde_json::Map<String, Value> = lineage
        .columns
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                json!({ "inputFields": c.inputs.iter().map(|f| input_field(project, f)).collect::<Vec<_>>() }),
            )
        })
        .collect();
    let inputs: Vec<Value> = lineage
        .products
        .iter()
        .map(|p| {
            let (namespace, name) = dataset_of(project, &p.product);
            let columns: Vec<Value> = project
                .products
                .get(&p.product)
                .map(|prod| {
                    prod.columns
                        .iter()
                        .enumerate()
                        .map(|(i, (n, c))| {
                            let mut f = json!({"name": n, "type": type_name(&c.data_type), "ordinal_position": i + 1});
                            if let (Some(d), Some(o)) = (&c.description, f.as_object_mut()) {
                                o.insert("description".into(), json!(d));
                            }
                            f
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "namespace": namespace,
                "name": name,
                "facets": { "schema": facet(SCHEMA, json!({ "fields": columns })) },
            })
        })
        .collect();
    let output_schema: Vec<Value> = schema
        .iter()
        .enumerate()
        .map(|(i, (n, t))| json!({"name": n, "type": t, "ordinal_position": i + 1}))
        .collect();
    let mut events = vec![json!({
        "eventType": "COMPLETE",
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT,
        "run": { "runId": ctx.run_id.to_string() },
        "job": { "namespace": ctx.namespace, "name": ctx.name },
        "inputs": inputs,
        "outputs": [{
            "namespace": ctx.namespace,
            "name": ctx.name,
            "facets": {
                "columnLineage": facet(COLUMN_LINEAGE, json!({
                    "fields": fields,
                    "dataset": lineage.dataset.iter().map(|f| input_field(project, f)).collect::<Vec<_>>(),
                })),
                "schema": facet(SCHEMA, json!({ "fields": output_schema })),
            },
        }],
    })];
    for p in &lineage.products {
        let Some(product) = project.products.get(&p.product) else {
            continue;
        };
        if product.sources.is_empty() {
            continue;
        }
        let (namespace, name) = dataset_of(project, &p.product);
        let raw_namespace = format!("{}/raw", ctx.namespace);
        let mut fields = serde_json::Map::new();
        for s in &product.sources {
            for (column, source_column) in &s.columns {
                let entry = fields
                    .entry(column.clone())
                    .or_insert_with(|| json!({ "inputFields": [] }));
                if let Some(list) = entry.get_mut("inputFields").and_then(Value::as_array_mut) {
                    list.push(json!({
                        "namespace": raw_namespace,
                        "name": s.name,
                        "field": source_column,
                        "transformations": [{ "type": "DIRECT", "description": "declared in the contract" }],
                    }));
                }
            }
        }
        events.push(json!({
            "eventType": "COMPLETE",
            "eventTime": time,
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT,
            // The contract's own job: a run of its own.
            "run": { "runId": crate::clock::derived_run_id(ctx.time, format!("{}\0{}", ctx.run_id, p.product).as_bytes()).to_string() },
            "job": { "namespace": ctx.namespace, "name": format!("contract.{}", p.product) },
            "inputs": product.sources.iter().map(|s| json!({ "namespace": raw_namespace, "name": s.name })).collect::<Vec<_>>(),
            "outputs": [{
                "namespace": namespace,
                "name": name,
                "facets": { "columnLineage": facet(COLUMN_LINEAGE, json!({ "fields": fields })) },
            }],
        }));
    }
    events
}

/// The forms lineage is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineageFormat {
    /// Aligned text for people ([`to_text`]).
    Text,
    /// Canary's lineage document ([`Lineage::to_json`]), indented.
    Json,
    /// OpenLineage RunEvents ([`to_openlineage`]), one JSON document per line.
    OpenLineage,
    /// A Graphviz graph ([`to_dot`]).
    Dot,
    /// A Mermaid flowchart ([`to_mermaid`]).
    Mermaid,
}

impl LineageFormat {
    /// Every format, in the order the CLI's help lists them.
    pub const ALL: [LineageFormat; 5] = [
        LineageFormat::Text,
        LineageFormat::Json,
        LineageFormat::OpenLineage,
        LineageFormat::Dot,
        LineageFormat::Mermaid,
    ];

    /// The format's name, as the CLI's `--format` and Python's `format=` take it.
    pub fn as_str(self) -> &'static str {
        match self {
            LineageFormat::Text => "text",
            LineageFormat::Json => "json",
            LineageFormat::OpenLineage => "openlineage",
            LineageFormat::Dot => "dot",
            LineageFormat::Mermaid => "mermaid",
        }
    }
}

impl std::str::FromStr for LineageFormat {
    type Err = crate::error::CanaryError;

    fn from_str(s: &str) -> crate::error::Result<Self> {
        LineageFormat::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            crate::error::CanaryError::query_hint(
                format!("unknown lineage format `{s}`"),
                crate::diagnostic::did_you_mean(s, LineageFormat::ALL.iter().map(|f| f.as_str())),
            )
        })
    }
}

/// The lineage of the query for `kpis` as text in `format`, ending with a newline; the one
/// rendering both front doors print. `schema` is the result's `(name, type)` columns and
/// `clock` stamps OpenLineage events.
///
/// ```no_run
/// # async fn demo() -> canary_core::Result<()> {
/// use canary_core::clock::SystemClock;
/// use canary_core::lineage::{LineageFormat, render};
/// use canary_core::{Engine, Query};
///
/// let engine = Engine::open(std::path::Path::new("examples/retail")).await?;
/// let query = Query { kpis: vec!["revenue".into()], ..Query::default() };
/// let traced = engine.lineage(&query).await?;
/// let text = render(&traced.lineage, &traced.output_schema(), engine.project(), &query.kpis,
///     LineageFormat::Mermaid, &SystemClock);
/// assert!(text.starts_with("flowchart LR"));
/// # Ok(())
/// # }
/// ```
pub fn render(
    lineage: &Lineage,
    schema: &[(String, String)],
    project: &Project,
    kpis: &[String],
    format: LineageFormat,
    clock: &dyn crate::clock::Clock,
) -> String {
    let mut text = match format {
        LineageFormat::Text => to_text(lineage),
        LineageFormat::Json => format!("{:#}", lineage.to_json()),
        LineageFormat::Dot => to_dot(lineage),
        LineageFormat::Mermaid => to_mermaid(lineage),
        LineageFormat::OpenLineage => {
            let seed = lineage.to_json().to_string();
            let ctx = OpenLineageContext::for_query(project, kpis, clock, seed.as_bytes());
            to_openlineage(lineage, project, &ctx, schema)
                .iter()
                .map(|e| format!("{e}\n"))
                .collect()
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
