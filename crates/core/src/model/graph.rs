//! How products reach each other through entities: many-to-one joins only.

use std::collections::{BTreeSet, VecDeque};

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

impl Scope {
    /// Every product reachable from `root`, breadth first, in declaration order.
    pub fn build(project: &Project, root: &str) -> Scope {
        let mut members = vec![Member {
            qualifier: root.to_owned(),
            product: root.to_owned(),
            join: None,
            depth: 0,
        }];
        let mut fan_out = BTreeSet::new();
        let mut ambiguous = BTreeSet::new();
        let mut queue = VecDeque::from([0usize]);
        while let Some(i) = queue.pop_front() {
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
                    if let Some(existing) = members.iter().find(|m| m.product == *to_id) {
                        let same_path = existing
                            .join
                            .as_ref()
                            .is_some_and(|j| j.parent == i && j.entity == *entity);
                        if existing.depth == depth + 1 && !same_path {
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
                    queue.push_back(members.len() - 1);
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
