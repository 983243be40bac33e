//! How products reach each other through entities: many-to-one joins only.

use std::collections::BTreeSet;

use super::{EntityKind, Project};

/// One product in a scope and how it joins to its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Name the product's columns are qualified with in expressions (the product id).
    pub qualifier: String,
    pub product: String,
    /// `None` for the root.
    pub join: Option<JoinStep>,
    pub depth: usize,
}

/// `parent.left_column = member.right_column`, many-to-one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinStep {
    /// Index of the parent in [`Scope::members`].
    pub parent: usize,
    pub entity: String,
    pub left_column: String,
    pub right_column: String,
    /// Computed keys (SQL over the parent's and the member's columns), where the entity
    /// has one instead of a column.
    pub left_expr: Option<String>,
    pub right_expr: Option<String>,
}

/// The products reachable from a root product without repeating its rows.
#[derive(Debug, Clone)]
pub struct Scope {
    pub members: Vec<Member>,
    /// Products that share an entity with a member but hold it as a foreign key: joining
    /// them would repeat the member's rows (fan-out). `(product, entity)`.
    pub fan_out: BTreeSet<(String, String)>,
    /// Products reachable by two different paths of the same length.
    pub ambiguous: BTreeSet<String>,
}

/// Maximum number of joins between a root product and a dimension.
pub const MAX_HOPS: usize = 4;

/// A join path named explicitly (MetricFlow's `listing__user__x`): from the root, follow
/// `entities` in order; the last one reaches `product`.
///
/// ```
/// use canary_core::Query;
/// use canary_core::model::JoinPath;
///
/// // Revenue by the region of the customer, not the region the order shipped from.
/// let query = Query {
///     kpis: vec!["revenue".into()],
///     by: vec!["regions.region_name".into()],
///     join_paths: vec![JoinPath {
///         entities: vec!["customer".into(), "region".into()],
///         product: "regions".into(),
///     }],
///     ..Query::default()
/// };
/// assert_eq!(query.join_paths[0].entities, ["customer", "region"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JoinPath {
    pub entities: Vec<String>,
    pub product: String,
}

impl Scope {
    /// Every product reachable from `root`, breadth first, in declaration order.
    pub fn build(project: &Project, root: &str) -> Scope {
        Self::explore(project, vec![root_member(root)], &BTreeSet::new())
    }

    /// Like [`Self::build`], with the products of `paths` reached by those paths rather than
    /// the shortest. A path that does not start from `root`'s entities is not applicable and
    /// left out; two paths reaching one product differently are an error naming it.
    pub fn build_with(project: &Project, root: &str, paths: &[JoinPath]) -> Result<Scope, String> {
        let mut members = vec![root_member(root)];
        let mut explicit = BTreeSet::new();
        for path in paths {
            let Some(steps) = walk(project, root, path) else {
                continue;
            };
            let mut at = 0usize;
            for (product, entity) in steps {
                let found = members.iter().position(|m| m.product == product);
                if let Some(i) = found {
                    match &members[i].join {
                        Some(j) if j.parent == at && j.entity == entity => {
                            at = i;
                            continue;
                        }
                        _ => {
                            return Err(format!(
                                "`{product}` is reached by two join paths in one query ({}); each semantic model is joined once per query",
                                path.entities.join(" → ")
                            ));
                        }
                    }
                }
                let step = join_step(project, at, &members[at].product, &product, &entity);
                members.push(Member {
                    qualifier: product.clone(),
                    product,
                    join: Some(step),
                    depth: members[at].depth + 1,
                });
                at = members.len() - 1;
                explicit.insert(at);
            }
        }
        Ok(Self::explore(project, members, &explicit))
    }

    /// Every product reachable from `members` (the root and the products of explicit paths,
    /// which are never ambiguous), breadth first, in declaration order.
    fn explore(project: &Project, mut members: Vec<Member>, explicit: &BTreeSet<usize>) -> Scope {
        let mut fan_out = BTreeSet::new();
        let mut ambiguous = BTreeSet::new();
        // Breadth first: members in order of depth, then of discovery.
        let mut done = vec![false; members.len()];
        while let Some(i) = (0..members.len())
            .filter(|&i| !done.get(i).copied().unwrap_or(false))
            .min_by_key(|&i| (members[i].depth, i))
        {
            done.resize(members.len(), false);
            done[i] = true;
            let (from_id, depth) = (members[i].product.clone(), members[i].depth);
            if depth >= MAX_HOPS {
                continue;
            }
            let Some(from) = project.product(&from_id) else {
                continue;
            };
            for (entity, e) in &from.entities {
                for (to_id, to) in &project.products {
                    if *to_id == from_id {
                        continue;
                    }
                    let Some(target) = to.entities.get(entity) else {
                        continue;
                    };
                    match target.kind {
                        EntityKind::Primary | EntityKind::Unique | EntityKind::Natural => {}
                        EntityKind::Foreign => {
                            fan_out.insert((to_id.clone(), entity.clone()));
                            continue;
                        }
                    }
                    if let Some(at) = members.iter().position(|m| m.product == *to_id) {
                        let existing = &members[at];
                        let same_path = existing
                            .join
                            .as_ref()
                            .is_some_and(|j| j.parent == i && j.entity == *entity);
                        if existing.depth == depth + 1 && !same_path && !explicit.contains(&at) {
                            ambiguous.insert(to_id.clone());
                        }
                        continue;
                    }
                    members.push(Member {
                        qualifier: to_id.clone(),
                        product: to_id.clone(),
                        join: Some(JoinStep {
                            parent: i,
                            entity: entity.clone(),
                            left_column: e.column.clone(),
                            right_column: target.column.clone(),
                            left_expr: e.expr.clone(),
                            right_expr: target.expr.clone(),
                        }),
                        depth: depth + 1,
                    });
                }
            }
        }
        fan_out.retain(|(p, _)| !members.iter().any(|m| m.product == *p));
        // Whatever is reached through an ambiguous product is ambiguous too.
        for i in 0..members.len() {
            let mut at = i;
            while let Some(join) = &members[at].join {
                at = join.parent;
                if ambiguous.contains(&members[at].product) {
                    ambiguous.insert(members[i].product.clone());
                    break;
                }
            }
        }
        Scope {
            members,
            fan_out,
            ambiguous,
        }
    }

    pub fn root(&self) -> &Member {
        &self.members[0]
    }

    pub fn member(&self, qualifier: &str) -> Option<(usize, &Member)> {
        self.members.iter().enumerate().find(|(_, m)| m.qualifier == qualifier)
    }

    /// The members needed to reach `qualifiers`, with their ancestors, in join order.
    pub fn closure(&self, qualifiers: &BTreeSet<String>) -> Vec<usize> {
        let mut keep = BTreeSet::from([0usize]);
        for q in qualifiers {
            let Some((mut i, _)) = self.member(q) else { continue };
            loop {
                keep.insert(i);
                match &self.members[i].join {
                    Some(j) => i = j.parent,
                    None => break,
                }
            }
        }
        keep.into_iter().collect()
    }
}

/// The products a path passes through from `root`, with the entity each is joined on:
/// every step's entity is held by the product before it and keys the product after it (an
/// intermediate product is the first, in declaration order, that also holds the next
/// entity). `None` when the path does not apply from `root`.
fn walk(project: &Project, root: &str, path: &JoinPath) -> Option<Vec<(String, String)>> {
    let keyed = |p: &super::Product, entity: &str| {
        p.entities
            .get(entity)
            .is_some_and(|e| matches!(e.kind, EntityKind::Primary | EntityKind::Unique | EntityKind::Natural))
    };
    let mut at = root.to_owned();
    let mut steps: Vec<(String, String)> = Vec::new();
    for (k, entity) in path.entities.iter().enumerate() {
        project.product(&at)?.entities.get(entity)?;
        let seen = |id: &str| id == root || steps.iter().any(|(p, _)| p == id);
        let next = match path.entities.get(k + 1) {
            None => project
                .product(&path.product)
                .filter(|p| keyed(p, entity) && !seen(&p.id))
                .map(|p| p.id.clone())?,
            Some(following) => project
                .products
                .values()
                .find(|p| !seen(&p.id) && keyed(p, entity) && p.entities.contains_key(following))
                .map(|p| p.id.clone())?,
        };
        steps.push((next.clone(), entity.clone()));
        at = next;
    }
    (!steps.is_empty()).then_some(steps)
}

/// `parent.entity = product.entity`, with the columns (or computed keys) on each side.
fn join_step(project: &Project, parent: usize, from: &str, to: &str, entity: &str) -> JoinStep {
    let left = project.product(from).and_then(|p| p.entities.get(entity));
    let right = project.product(to).and_then(|p| p.entities.get(entity));
    JoinStep {
        parent,
        entity: entity.to_owned(),
        left_column: left.map(|e| e.column.clone()).unwrap_or_default(),
        right_column: right.map(|e| e.column.clone()).unwrap_or_default(),
        left_expr: left.and_then(|e| e.expr.clone()),
        right_expr: right.and_then(|e| e.expr.clone()),
    }
}

fn root_member(root: &str) -> Member {
    Member {
        qualifier: root.to_owned(),
        product: root.to_owned(),
        join: None,
        depth: 0,
    }
}
