//! Spec files → validated [`Project`], or every problem at once.

mod kpi;
mod product;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::diagnostic::{Code, Diagnostic, Location};
use crate::error::CanaryError;
use crate::model::{ObjectStoreSettings, Project, Settings};
use crate::spec::{KpiFile, Located, ProductSpec, ProjectSpec, SourceFile, SpanIndex, load_yaml};

/// Name of the project file.
pub const PROJECT_FILE: &str = "canary.yaml";

/// Where each product and KPI was declared, to point diagnostics at the right line.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    products: HashMap<String, (Arc<SpanIndex>, String)>,
    kpis: HashMap<String, (Arc<SpanIndex>, String)>,
}

impl Origins {
    /// Location of `field` (a dotted path such as `columns.2.type`) of product `id`.
    pub fn product(&self, id: &str, field: &str) -> Location {
        locate(self.products.get(id), field)
    }

    /// Location of `field` of KPI `id`.
    pub fn kpi(&self, id: &str, field: &str) -> Location {
        locate(self.kpis.get(id), field)
    }
}

fn locate(origin: Option<&(Arc<SpanIndex>, String)>, field: &str) -> Location {
    match origin {
        Some((spans, path)) => {
            let full = match (path.is_empty(), field.is_empty()) {
                (_, true) => path.clone(),
                (true, false) => field.to_owned(),
                (false, false) => format!("{path}.{field}"),
            };
            spans.locate(&full)
        }
        None => Location {
            file: PROJECT_FILE.to_owned(),
            line: 1,
            column: 1,
        },
    }
}

/// Find the project folder: `start` itself or the nearest ancestor holding `canary.yaml`.
pub fn find_project_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(PROJECT_FILE).is_file())
        .map(Path::to_path_buf)
}

/// Read and validate the project in `root` (the folder holding `canary.yaml`).
///
/// Checks everything that can be checked without reading data; see
/// [`crate::catalog::Catalog::open`] for checks against the Parquet files.
pub fn load_project(root: &Path) -> Result<(Project, Origins), Vec<Diagnostic>> {
    load_project_with(root, &[])
}

/// Like [`load_project`], with `extra` spec files (contracts or KPI files, told apart by
/// their first key) validated as if they were part of the project.
pub fn load_project_with(root: &Path, extra: &[PathBuf]) -> Result<(Project, Origins), Vec<Diagnostic>> {
    load_project_overlay(root, extra, &Overlay::new())
}

/// Spec file texts that replace what is on disk, by path relative to the project (`/`
/// separators): e.g. a contract as it was at another revision.
pub type Overlay = std::collections::BTreeMap<String, String>;

/// Like [`load_project_with`], reading the files `overlay` names from it instead of disk.
pub fn load_project_overlay(
    root: &Path,
    extra: &[PathBuf],
    overlay: &Overlay,
) -> Result<(Project, Origins), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let absolute = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let root = absolute.as_path();
    if root.to_str().is_none() {
        // Data locations are URLs, and object stores take UTF-8 paths only.
        return Err(vec![
            Diagnostic::new(
                Code::InvalidValue,
                Location {
                    file: PROJECT_FILE.to_owned(),
                    line: 1,
                    column: 1,
                },
                format!("the project folder's path is not UTF-8: {}", root.display()),
            )
            .with_hint("rename the folder (or one above it) with a UTF-8 name"),
        ]);
    }
    let project_path = root.join(PROJECT_FILE);
    let project_file = match read_source(root, &project_path, overlay) {
        Ok(f) => f,
        Err(d) => return Err(vec![d]),
    };
    let spec: Located<ProjectSpec> = load_yaml(&project_file).map_err(|d| vec![d])?;
    let mut files = vec![project_file];

    let version = spec
        .value
        .version
        .as_deref()
        .and_then(|v| product::parse_version(v, spec.at("version"), &mut diags));
    let settings = settings(&spec, root, &mut diags);

    let mut product_specs = Vec::new();
    for (i, pattern) in spec.value.products.iter().enumerate() {
        for path in expand(root, pattern, spec.at(&format!("products.{i}")), &mut diags) {
            match read_source(root, &path, overlay).and_then(|f| {
                let loaded = load_yaml::<ProductSpec>(&f);
                files.push(f);
                loaded
            }) {
                Ok(p) => product_specs.push(p),
                Err(d) => diags.push(d),
            }
        }
    }
    let mut kpi_paths = Vec::new();
    for (i, pattern) in spec.value.kpis.iter().enumerate() {
        kpi_paths.extend(expand(root, pattern, spec.at(&format!("kpis.{i}")), &mut diags));
    }
    for path in extra {
        let already = |p: &PathBuf| same_file(p, path);
        if files.iter().any(|f| same_file(&root.join(&f.display), path)) || kpi_paths.iter().any(already) {
            continue;
        }
        match read_source(root, path, overlay) {
            Ok(f) if first_key(&f.text).as_deref() == Some("product") => {
                match load_yaml::<ProductSpec>(&f) {
                    Ok(p) => product_specs.push(p),
                    Err(d) => diags.push(d),
                }
                files.push(f);
            }
            Ok(f) if first_key(&f.text).as_deref() == Some("kpis") => kpi_paths.push(path.clone()),
            Ok(f) => diags.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    Location {
                        file: f.display.clone(),
                        line: 1,
                        column: 1,
                    },
                    "not a data-product contract (`product:`) or a KPI file (`kpis:`)",
                )
                .with_hint("a contract starts with `product:`, a KPI file with `kpis:`"),
            ),
            Err(d) => diags.push(d),
        }
    }
    let mut kpi_specs = Vec::new();
    for path in kpi_paths {
        match read_source(root, &path, overlay).and_then(|f| {
            let loaded = load_yaml::<KpiFile>(&f);
            files.push(f);
            loaded
        }) {
            Ok(file) => {
                for (k, kpi) in file.value.kpis.iter().enumerate() {
                    kpi_specs.push(file.map(format!("kpis.{k}"), kpi.clone()));
                }
            }
            Err(d) => diags.push(d),
        }
    }

    validate_specs(root, &spec, version, settings, files, product_specs, kpi_specs, diags)
}

/// Validate specs already read (from files, or made by an importer such as [`crate::mf`]).
#[allow(clippy::too_many_arguments)]
pub fn validate_specs(
    root: &Path,
    spec: &Located<ProjectSpec>,
    version: Option<semver::Version>,
    settings: Settings,
    files: Vec<SourceFile>,
    product_specs: Vec<Located<ProductSpec>>,
    kpi_specs: Vec<Located<crate::spec::KpiSpec>>,
    mut diags: Vec<Diagnostic>,
) -> Result<(Project, Origins), Vec<Diagnostic>> {
    let mut origins = Origins::default();
    let mut products = IndexMap::new();
    for p in &product_specs {
        if let Some(prev) = origins.products.get(&p.value.product) {
            let first = prev.0.locate(&prev.1);
            diags.push(
                Diagnostic::new(
                    Code::DuplicateId,
                    p.at("product"),
                    format!("product `{}` is defined twice", p.value.product),
                )
                .with_hint(format!("first defined at {first}")),
            );
            continue;
        }
        origins
            .products
            .insert(p.value.product.clone(), (Arc::clone(&p.spans), p.path.clone()));
        if let Some(product) = product::validate_product(p, root, &mut diags) {
            products.insert(product.id.clone(), Arc::new(product));
        }
    }

    let mut project = Project {
        root: root.to_path_buf(),
        name: spec.value.project.clone(),
        version,
        owner: spec.value.owner.clone(),
        description: spec.value.description.clone(),
        require_tenant: spec.value.require_tenant,
        settings,
        products,
        kpis: IndexMap::new(),
        files,
    };
    product::validate_graph(&project, &origins, &mut diags);

    for k in &kpi_specs {
        if let Some(prev) = origins.kpis.get(&k.value.id) {
            let first = prev.0.locate(&prev.1);
            diags.push(
                Diagnostic::new(
                    Code::DuplicateId,
                    k.at("id"),
                    format!("KPI `{}` is defined twice", k.value.id),
                )
                .with_hint(format!("first defined at {first}")),
            );
            continue;
        }
        origins
            .kpis
            .insert(k.value.id.clone(), (Arc::clone(&k.spans), k.path.clone()));
    }
    let known_kpis: Vec<String> = origins.kpis.keys().cloned().collect();
    for k in &kpi_specs {
        if origins
            .kpis
            .get(&k.value.id)
            .is_some_and(|(s, p)| !Arc::ptr_eq(s, &k.spans) || *p != k.path)
        {
            continue; // the duplicate, already reported
        }
        if let Some(kpi) = kpi::validate_kpi(k, &project, &known_kpis, &mut diags) {
            project.kpis.insert(kpi.id.clone(), Arc::new(kpi));
        }
    }
    kpi::check_cycles(&project, &origins, &mut diags);

    if diags.is_empty() {
        Ok((project, origins))
    } else {
        sort(&mut diags);
        Err(diags)
    }
}

/// Order diagnostics by file, line and column, so output is stable.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (&a.location, a.code, &a.message).cmp(&(&b.location, b.code, &b.message)));
}

fn settings(spec: &Located<ProjectSpec>, root: &Path, diags: &mut Vec<Diagnostic>) -> Settings {
    let s = &spec.value.settings;
    let memory_limit = s.memory_limit.as_deref().and_then(|m| match parse_bytes(m) {
        Ok(b) => Some(b),
        Err(e) => {
            diags.push(Diagnostic::new(Code::InvalidValue, spec.at("settings.memory_limit"), e));
            None
        }
    });
    let calendar = s.calendar.as_ref().and_then(|c| {
        let day = |v: &str, key: &str, diags: &mut Vec<Diagnostic>| match crate::model::parse_instant(v) {
            Ok(t) => Some(t),
            Err(e) => {
                diags.push(Diagnostic::new(
                    Code::InvalidValue,
                    spec.at(&format!("settings.calendar.{key}")),
                    e,
                ));
                None
            }
        };
        let (from, to) = (day(&c.from, "from", diags)?, day(&c.to, "to", diags)?);
        if from > to {
            diags.push(Diagnostic::new(
                Code::InvalidValue,
                spec.at("settings.calendar.to"),
                format!("the calendar ends ({}) before it starts ({})", c.to, c.from),
            ));
            return None;
        }
        Some((from, to))
    });
    let target_partitions = s.target_partitions.filter(|&n| {
        let ok = (1..=MAX_TARGET_PARTITIONS).contains(&n);
        if !ok {
            diags.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    spec.at("settings.target_partitions"),
                    format!("target_partitions is {n}; it must be between 1 and {MAX_TARGET_PARTITIONS}"),
                )
                .with_hint("leave it out to use the number of cores"),
            );
        }
        ok
    });
    let object_store = object_store_settings(spec, diags);
    Settings {
        memory_limit,
        spill_dir: s.spill_dir.as_ref().map(|d| root.join(d)),
        target_partitions,
        object_store,
        calendar,
        custom_grains: Vec::new(),
    }
}

/// The object-store client's bounds (`settings.object_store`), within their limits.
fn object_store_settings(spec: &Located<ProjectSpec>, diags: &mut Vec<Diagnostic>) -> ObjectStoreSettings {
    let mut out = ObjectStoreSettings::default();
    let Some(o) = &spec.value.settings.object_store else {
        return out;
    };
    let mut duration = |value: &Option<String>, key: &str, slot: &mut std::time::Duration| {
        let Some(text) = value else { return };
        match parse_duration(text) {
            Ok(d) if d > std::time::Duration::ZERO && d <= ObjectStoreSettings::MAX_TIMEOUT => *slot = d,
            Ok(_) => diags.push(Diagnostic::new(
                Code::InvalidValue,
                spec.at(&format!("settings.object_store.{key}")),
                format!("`{text}` is out of range: a {key} is more than 0 and at most 1h"),
            )),
            Err(e) => diags.push(Diagnostic::new(
                Code::InvalidValue,
                spec.at(&format!("settings.object_store.{key}")),
                e,
            )),
        }
    };
    duration(&o.timeout, "timeout", &mut out.timeout);
    duration(&o.connect_timeout, "connect_timeout", &mut out.connect_timeout);
    if let Some(n) = o.retries {
        if n <= ObjectStoreSettings::MAX_RETRIES {
            out.retries = n;
        } else {
            diags.push(Diagnostic::new(
                Code::InvalidValue,
                spec.at("settings.object_store.retries"),
                format!(
                    "retries is {n}; it must be at most {}",
                    ObjectStoreSettings::MAX_RETRIES
                ),
            ));
        }
    }
    out
}

/// Parse a duration such as `500ms`, `30s`, `2m` or `1h`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("`{s}` is not a duration; write e.g. `500ms`, `30s`, `2m` or `1h`");
    let n: f64 = num.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// Parse a size such as `512MiB`, `2GiB`, `1.5GB` or a plain number of bytes.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; write e.g. `512MiB` or `2GiB`"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "kib" | "k" => 1024.0,
        "mb" => 1e6,
        "mib" | "m" => 1024.0 * 1024.0,
        "gb" => 1e9,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit `{other}` in `{s}`; use KiB, MiB or GiB")),
    };
    Ok((n * mult) as usize)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The first top-level key of a YAML mapping, without parsing the rest.
fn first_key(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim_end)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("---") && !l.starts_with(' '))
        .and_then(|l| l.split_once(':'))
        .map(|(k, _)| k.trim().to_owned())
}

fn read_source(root: &Path, path: &Path, overlay: &Overlay) -> Result<SourceFile, Diagnostic> {
    let display = display_path(root, path);
    if let Some(text) = overlay.get(&display) {
        return Ok(SourceFile {
            display,
            text: text.clone(),
        });
    }
    // Bounded, and only a regular file (a FIFO would block): the one reader of whole files.
    crate::atomic::read_text(path)
        .map(|text| SourceFile {
            display: display.clone(),
            text,
        })
        .map_err(|e| {
            let cause = match &e {
                CanaryError::Io { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            Diagnostic::new(
                Code::FileNotFound,
                Location {
                    file: display,
                    line: 1,
                    column: 1,
                },
                format!("cannot read the file: {cause}"),
            )
        })
}

/// A path relative to the project folder, with `/` separators.
pub fn display_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The most spec files a project's patterns may match.
pub const MAX_SPEC_FILES: usize = 10_000;

/// The most partitions a plan may be cut into (`settings.target_partitions`).
pub const MAX_TARGET_PARTITIONS: usize = 1024;

fn expand(root: &Path, pattern: &str, at: Location, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    // Spec patterns stay inside the project: an absolute pattern or a `..` would read specs
    // from elsewhere (and `/**/*.yaml` would walk the whole filesystem).
    let relative = Path::new(pattern);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir | std::path::Component::Prefix(_)))
    {
        diags.push(
            Diagnostic::new(
                Code::InvalidValue,
                at,
                format!("the pattern `{pattern}` reaches outside the project folder"),
            )
            .with_hint("spec files live inside the project: write patterns relative to canary.yaml, without `..`"),
        );
        return Vec::new();
    }
    // Matched below the project folder, whatever its own name holds (`[`, `*`, bytes that
    // are not UTF-8): only the pattern is a pattern.
    let compiled = match glob::Pattern::new(pattern) {
        Ok(p) => p,
        Err(e) => {
            diags.push(Diagnostic::new(
                Code::InvalidValue,
                at,
                format!("invalid glob pattern `{pattern}`: {e}"),
            ));
            return Vec::new();
        }
    };
    // Walk from the pattern's literal leading folders only.
    let mut base = PathBuf::new();
    for part in relative.components() {
        let text = part.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[']) {
            break;
        }
        base.push(part);
    }
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let mut out = Vec::new();
    let mut budget = MAX_SPEC_WALK;
    let mut visit = |rel: String, path: &Path| {
        if compiled.matches_with(&rel, options) {
            out.push(path.to_path_buf());
        }
        out.len() <= MAX_SPEC_FILES
    };
    walk(root, &base, &mut visit, &mut budget, 0);
    if out.len() > MAX_SPEC_FILES || budget == 0 {
        diags.push(Diagnostic::new(
            Code::InvalidValue,
            at,
            format!(
                "the pattern `{pattern}` matches more than {MAX_SPEC_FILES} files (or walks more than {MAX_SPEC_WALK} entries)"
            ),
        ));
        return Vec::new();
    }
    out.sort();
    out
}

/// The most folder entries a spec pattern may walk.
const MAX_SPEC_WALK: usize = 1_000_000;

/// Visit every regular file at or below `root/rel` (following links, at most 64 folders
/// deep) with its path relative to `root` (`/`-separated); stop when `visit` says so or the
/// budget is spent.
fn walk(
    root: &Path,
    rel: &Path,
    visit: &mut dyn FnMut(String, &Path) -> bool,
    budget: &mut usize,
    depth: usize,
) -> bool {
    let path = root.join(rel);
    let Ok(meta) = std::fs::metadata(&path) else {
        return true;
    };
    if meta.is_file() {
        let text = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        return visit(text, &path);
    }
    if !meta.is_dir() || depth > 64 {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(&path) else {
        return true;
    };
    let mut names: Vec<std::ffi::OsString> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if !walk(root, &rel.join(&name), visit, budget, depth + 1) {
            return false;
        }
    }
    true
}
