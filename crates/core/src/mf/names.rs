//! MetricFlow names (`listing__country_latest`, `booking__ds__month`, `metric_time__week`,
//! `metric_time__extract_dow`) resolved to Canary's `product.dimension` references.

use super::manifest::{Manifest, SemanticModel};
use crate::error::{CanaryError, Result};
use crate::model::Grain;

/// A parsed MetricFlow group-by or filter name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfName {
    /// Entity links, outermost first (`listing` in `listing__country_latest`).
    pub entity_path: Vec<String>,
    /// The dimension or entity name; `metric_time` for the metric's time.
    pub element: String,
    pub grain: Option<Grain>,
    /// A date part (`extract_dow` → `dow`).
    pub date_part: Option<String>,
    /// A custom granularity (`alien_day` in `booking__ds__alien_day`).
    pub custom_grain: Option<String>,
}

impl MfName {
    pub fn parse(name: &str) -> MfName {
        Self::parse_with(name, &[])
    }

    /// Like [`Self::parse`], knowing the names of custom granularities.
    pub fn parse_with(name: &str, custom_grains: &[&str]) -> MfName {
        let mut parts: Vec<&str> = name.split("__").collect();
        let mut grain = None;
        let mut date_part = None;
        let mut custom_grain = None;
        if parts.len() > 1 {
            let last = parts[parts.len() - 1];
            if let Some(p) = last.strip_prefix("extract_") {
                date_part = Some(p.to_owned());
                parts.pop();
            } else if let Ok(g) = last.parse::<Grain>()
                && Grain::ALL.iter().any(|g| g.as_str() == last)
            {
                grain = Some(g);
                parts.pop();
            } else if custom_grains.contains(&last) {
                custom_grain = Some(last.to_owned());
                parts.pop();
            }
        }
        let element = parts.pop().unwrap_or_default().to_owned();
        MfName {
            entity_path: parts.into_iter().map(str::to_owned).collect(),
            element,
            grain,
            date_part,
            custom_grain,
        }
    }

    pub fn is_metric_time(&self) -> bool {
        self.element == "metric_time" && self.entity_path.is_empty()
    }
}

/// What a name resolves to in Canary's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `product.dimension` (entities are dimensions named after the entity).
    pub reference: String,
    pub is_time: bool,
}

/// Whether `model` is keyed by `entity` (so `entity__x` names its dimensions).
pub(super) fn keyed_by(model: &SemanticModel, entity: &str) -> bool {
    model.primary_entity.as_deref() == Some(entity)
        || model.entities.iter().any(|e| {
            e.name == entity && matches!(e.kind.to_ascii_lowercase().as_str(), "primary" | "unique" | "natural")
        })
}

/// Whether `name`, resolved from `root` to `reference`, is an entity of `root` named on its
/// own (`listing`): each metric's own key, so read unqualified from every measure's product
/// (MetricFlow groups and filters each metric by its own model's key).
pub(super) fn is_own_entity(manifest: &Manifest, root: &str, name: &MfName, reference: &str) -> bool {
    name.entity_path.is_empty()
        && reference == format!("{root}.{}", name.element)
        && manifest
            .semantic_models
            .iter()
            .any(|m| m.name == root && m.entities.iter().any(|e| e.name == name.element))
}

/// Resolve `name` as seen from the semantic model `root`.
pub fn resolve(manifest: &Manifest, root: &str, name: &MfName) -> Result<Resolved> {
    let models = &manifest.semantic_models;
    fn dimension_of<'m>(m: &'m SemanticModel, element: &str) -> Option<&'m super::manifest::Dimension> {
        m.dimensions.iter().find(|d| d.name == element)
    }
    let has_dimension = |m: &SemanticModel| dimension_of(m, &name.element).is_some();
    let has_entity = |m: &SemanticModel| m.entities.iter().any(|e| e.name == name.element);
    // An entity on its own (`listing`, or `booking__listing` reached through `booking`).
    let owner = match name.entity_path.last() {
        None => {
            if let Some(m) = models.iter().find(|m| m.name == root)
                && (has_dimension(m) || has_entity(m))
            {
                Some(m)
            } else {
                models.iter().find(|m| has_entity(m) && keyed_by(m, &name.element))
            }
        }
        Some(entity) => {
            let candidates: Vec<&SemanticModel> = models
                .iter()
                .filter(|m| keyed_by(m, entity) && (has_dimension(m) || has_entity(m)))
                .collect();
            candidates
                .iter()
                .find(|m| m.name == root)
                .or_else(|| candidates.first())
                .copied()
        }
    };
    let Some(model) = owner else {
        let shown = display(name);
        return Err(CanaryError::query_hint(
            format!("cannot resolve `{shown}`: no semantic model has it"),
            crate::diagnostic::did_you_mean(&shown, known_names(manifest, root).iter().map(String::as_str)),
        ));
    };
    let is_time = dimension_of(model, &name.element).is_some_and(|d| d.kind.eq_ignore_ascii_case("time"));
    Ok(Resolved {
        reference: format!("{}.{}", model.name, name.element),
        is_time,
    })
}

/// The names a group-by or filter may use from `root`: `metric_time`, the root model's
/// dimensions and entities, and `entity__element` for every model keyed by an entity (its
/// primary entity, or a primary, unique or natural one).
fn known_names(manifest: &Manifest, root: &str) -> Vec<String> {
    let mut names = vec!["metric_time".to_owned()];
    for m in &manifest.semantic_models {
        let elements: Vec<&str> = m
            .dimensions
            .iter()
            .map(|d| d.name.as_str())
            .chain(m.entities.iter().map(|e| e.name.as_str()))
            .collect();
        if m.name == root {
            names.extend(elements.iter().map(|e| (*e).to_owned()));
        }
        let keys = m
            .primary_entity
            .iter()
            .map(String::as_str)
            .chain(m.entities.iter().map(|e| e.name.as_str()).filter(|e| keyed_by(m, e)));
        for entity in keys {
            names.extend(
                elements
                    .iter()
                    .filter(|e| **e != entity)
                    .map(|e| format!("{entity}__{e}")),
            );
        }
    }
    names
}

fn display(name: &MfName) -> String {
    let mut parts = name.entity_path.clone();
    parts.push(name.element.clone());
    parts.join("__")
}

/// The join path a group-by names (`listing__user__x`: listing, then user), towards the
/// product of its Canary `reference`; once each.
pub(super) fn push_join_path(paths: &mut Vec<crate::model::JoinPath>, name: &MfName, reference: &str) {
    let Some((product, _)) = reference.split_once('.') else {
        return;
    };
    if name.entity_path.is_empty() {
        return;
    }
    let path = crate::model::JoinPath {
        entities: name.entity_path.clone(),
        product: product.to_owned(),
    };
    if !paths.contains(&path) {
        paths.push(path);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_path_element_grain_and_part() {
        assert_eq!(
            MfName::parse("listing__country_latest"),
            MfName {
                entity_path: vec!["listing".into()],
                element: "country_latest".into(),
                grain: None,
                date_part: None,
                custom_grain: None,
            }
        );
        let n = MfName::parse("booking__ds__month");
        assert_eq!((n.element.as_str(), n.grain), ("ds", Some(Grain::Month)));
        let n = MfName::parse("metric_time__extract_dow");
        assert!(n.is_metric_time());
        assert_eq!(n.date_part.as_deref(), Some("dow"));
        let n = MfName::parse("listing__user__company_name");
        assert_eq!(n.entity_path, vec!["listing".to_string(), "user".to_string()]);
    }
}
