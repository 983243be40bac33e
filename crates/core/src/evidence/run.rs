//! Publishing a run with its evidence, and replaying a recorded run.

use std::collections::HashMap;

use futures::StreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use super::canonical::{canonical_json, hex, result_hash, sha256_hex};
use super::log_check::verify_log;
use super::record::{Artifact, EngineInfo, InputFile, PlanRef, RECORD_FORMAT, Record, ResultRef, SpecRef, ZERO_HASH};
use super::sign::SigningKey;
use super::store::{HEAD, Head, OBJECTS, RUNS, Store};
use crate::clock::{Clock, run_id};
use crate::error::{CanaryError, Result};
use crate::exec::{Engine, QueryResult};
use crate::lineage::Lineage;
use crate::model::Project;
use crate::plan::QueryRequest;
use crate::spec::{KpiFile, ProductSpec, ProjectSpec, SourceFile, load_yaml};

/// A published run: its record (committed to the log) and its result.
#[derive(Debug, Clone)]
pub struct Published {
    /// The query as resolved (tags expanded, grain and times parsed).
    pub query: crate::plan::Query,
    pub record: Record,
    pub result: QueryResult,
    pub lineage: Lineage,
}

/// Compute `request`, publish its result and commit its evidence record to the project's
/// log. Refuses to write to a log that does not verify (except for what an interrupted run
/// left, which it removes). Nothing is committed unless everything was written.
pub async fn publish(
    engine: &Engine,
    request: &QueryRequest,
    clock: &dyn Clock,
    key: Option<&SigningKey>,
) -> Result<Published> {
    let project = engine.project();
    let store = Store::of_project(&project.root);
    let _lock = store.lock()?;
    let (check, committed) = verify_log(&project.root);
    if let Some(p) = check.problems.iter().find(|p| !p.uncommitted) {
        return Err(CanaryError::data(format!(
            "the evidence log does not verify, so no run is added to it: {p} (see `canary evidence verify`)"
        )));
    }
    let head = check.head.map(|(seq, hash)| Head { seq, hash });
    store.recover(head.as_ref(), &committed)?;

    let started = clock.now();
    let id = run_id(started);
    let query = request.resolve(project)?;
    let traced = engine.lineage(&query).await?;
    let specs = specs(project, &query.kpis, &traced.lineage)?;
    let cache = cache(&committed);
    let inputs = hash_inputs(engine, &traced.lineage, &cache).await?;
    let (batches, rows_read) = engine.run_measured(traced.planned.plan.clone()).await?;
    check_unchanged(engine, &traced.lineage, &inputs).await?;
    let schema = std::sync::Arc::new(traced.planned.plan.schema().as_arrow().clone());
    let result = QueryResult {
        schema: schema.clone(),
        batches,
        columns: traced.planned.columns.clone(),
    };

    // Artifacts first, the record next, the head last: the head is the commit point.
    let parquet = to_parquet(&result)?;
    let run_file = format!("{RUNS}/{id}.parquet");
    crate::atomic::write(&store.dir.join(&run_file), &parquet)?;
    for (text, spec) in specs.iter() {
        let path = store.dir.join(OBJECTS).join(&spec.object);
        if !path.is_file() {
            crate::atomic::write(&path, text.as_bytes())?;
        }
    }
    let plan_text = traced.optimized.display_indent().to_string();
    let seq = head.as_ref().map_or(0, |h| h.seq) + 1;
    let mut record = Record {
        format: RECORD_FORMAT.into(),
        seq,
        prev: head.as_ref().map_or_else(|| ZERO_HASH.to_owned(), |h| h.hash.clone()),
        run_id: id.to_string(),
        time: started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        engine: EngineInfo::current(),
        query: QueryRequest {
            kpis: query.kpis.clone(),
            ..request.clone()
        },
        specs: specs.into_iter().map(|(_, s)| s).collect(),
        plan: PlanRef {
            sha256: sha256_hex(plan_text.as_bytes()),
            text: plan_text,
        },
        inputs,
        rows_read,
        result: ResultRef {
            rows: result.num_rows() as u64,
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            sha256: result_hash(&schema, &result.batches),
            file: Artifact {
                path: run_file,
                size: parquet.len() as u64,
                sha256: sha256_hex(&parquet),
            },
        },
        lineage: traced.lineage.to_json(),
        hash: String::new(),
        signature: None,
    };
    record.hash = record.compute_hash()?;
    if let Some(k) = key {
        record.signature = Some(k.sign(&record.hash)?);
    }
    crate::atomic::write(&store.record_path(seq), record.to_canonical()?.as_bytes())?;
    let new_head = Head {
        seq,
        hash: record.hash.clone(),
    };
    crate::atomic::write(&store.dir.join(HEAD), new_head.to_canonical().as_bytes())?;
    Ok(Published {
        query,
        record,
        result,
        lineage: traced.lineage,
    })
}

fn to_parquet(result: &QueryResult) -> Result<Vec<u8>> {
    use datafusion::parquet::arrow::ArrowWriter;
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, result.schema.clone(), None)
        .map_err(|e| CanaryError::internal(format!("cannot write the result: {e}")))?;
    for b in &result.batches {
        w.write(b)
            .map_err(|e| CanaryError::internal(format!("cannot write the result: {e}")))?;
    }
    w.close()
        .map_err(|e| CanaryError::internal(format!("cannot write the result: {e}")))?;
    Ok(buf)
}

/// Every spec the query involves, with the text of its file: the project file, each KPI
/// (with those it is derived from), each product scanned.
fn specs(project: &Project, kpis: &[String], lineage: &Lineage) -> Result<Vec<(String, SpecRef)>> {
    let file = |display: &str| -> Result<&SourceFile> {
        project.files.iter().find(|f| f.display == display).ok_or_else(|| {
            CanaryError::query(format!(
                "the spec file `{display}` was not read from disk; evidence needs the project's own files"
            ))
        })
    };
    let canonical = |v: serde_json::Value| sha256_hex(canonical_json(&v).as_bytes());
    let bad = |f: &SourceFile, e: crate::diagnostic::Diagnostic| {
        CanaryError::internal(format!("{}: {}", f.display, e.message))
    };
    let mut out = Vec::new();
    let project_file = file(crate::validate::PROJECT_FILE)?;
    let spec = load_yaml::<ProjectSpec>(project_file).map_err(|e| bad(project_file, e))?;
    out.push((
        project_file.text.clone(),
        SpecRef {
            kind: "project".into(),
            id: project.name.clone(),
            version: project.version.as_ref().map(ToString::to_string).unwrap_or_default(),
            file: project_file.display.clone(),
            sha256: canonical(serde_json::to_value(&spec.value).unwrap_or_default()),
            object: sha256_hex(project_file.text.as_bytes()),
        },
    ));
    let mut ids: Vec<String> = Vec::new();
    for k in kpis {
        for id in project.kpi_closure(k) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    for id in ids {
        let Some(kpi) = project.kpi(&id) else { continue };
        let f = file(&kpi.file)?;
        let spec = load_yaml::<KpiFile>(f).map_err(|e| bad(f, e))?;
        let Some(value) = spec.value.kpis.iter().find(|s| s.id == id) else {
            return Err(CanaryError::internal(format!("KPI `{id}` not found in {}", f.display)));
        };
        out.push((
            f.text.clone(),
            SpecRef {
                kind: "kpi".into(),
                id: id.clone(),
                version: kpi.version.to_string(),
                file: f.display.clone(),
                sha256: canonical(serde_json::to_value(value).unwrap_or_default()),
                object: sha256_hex(f.text.as_bytes()),
            },
        ));
    }
    for p in &lineage.products {
        let Some(product) = project.product(&p.product) else {
            continue;
        };
        let f = file(&product.file)?;
        let spec = load_yaml::<ProductSpec>(f).map_err(|e| bad(f, e))?;
        out.push((
            f.text.clone(),
            SpecRef {
                kind: "product".into(),
                id: p.product.clone(),
                version: product.version.to_string(),
                file: f.display.clone(),
                sha256: canonical(serde_json::to_value(&spec.value).unwrap_or_default()),
                object: sha256_hex(f.text.as_bytes()),
            },
        ));
    }
    Ok(out)
}

type CacheKey = (String, u64, String);

/// Hashes already recorded, by (path, size, modification time): unchanged files are not
/// read again.
fn cache(records: &[Record]) -> HashMap<CacheKey, String> {
    records
        .iter()
        .flat_map(|r| r.inputs.iter())
        .map(|i| ((i.path.clone(), i.size, i.modified.clone()), i.sha256.clone()))
        .collect()
}

struct Located {
    product: String,
    path: String,
    store: std::sync::Arc<dyn ObjectStore>,
    meta: ObjectMeta,
}

/// The files of every product the lineage scans, as the catalog listed them.
fn located(engine: &Engine, lineage: &Lineage) -> Result<Vec<Located>> {
    let mut out = Vec::new();
    let root = engine.project().root.to_string_lossy().trim_end_matches('/').to_owned();
    for p in &lineage.products {
        let product = engine
            .project()
            .product(&p.product)
            .ok_or_else(|| CanaryError::internal(format!("no product `{}`", p.product)))?;
        let url = crate::catalog::listing_url(&product.location).map_err(CanaryError::plan)?;
        let store = engine
            .session()
            .runtime_env()
            .object_store(url.object_store())
            .map_err(CanaryError::plan)?;
        for meta in &engine.catalog().table(&p.product)?.files {
            let path = if url.scheme() == "file" {
                let absolute = format!("/{}", meta.location);
                absolute
                    .strip_prefix(&format!("{root}/"))
                    .map(str::to_owned)
                    .unwrap_or(absolute)
            } else {
                format!("{}{}", url.object_store().as_str(), meta.location)
            };
            out.push(Located {
                product: p.product.clone(),
                path,
                store: store.clone(),
                meta: meta.clone(),
            });
        }
    }
    Ok(out)
}

async fn sha256_of(store: &dyn ObjectStore, meta: &ObjectMeta) -> Result<String> {
    let mut h = Sha256::new();
    let got = store
        .get(&meta.location)
        .await
        .map_err(|e| CanaryError::data_caused(format!("cannot read `{}`: {e}", meta.location), e))?;
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| CanaryError::data_caused(format!("cannot read `{}`: {e}", meta.location), e))?;
        h.update(&chunk);
    }
    Ok(hex(&h.finalize()))
}

fn modified(meta: &ObjectMeta) -> String {
    meta.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

async fn hash_inputs(engine: &Engine, lineage: &Lineage, cache: &HashMap<CacheKey, String>) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for f in located(engine, lineage)? {
        let key = (f.path.clone(), f.meta.size, modified(&f.meta));
        let sha256 = match cache.get(&key) {
            Some(h) => h.clone(),
            None => sha256_of(f.store.as_ref(), &f.meta).await?,
        };
        out.push(InputFile {
            product: f.product,
            path: f.path,
            size: f.meta.size,
            modified: key.2,
            sha256,
        });
    }
    Ok(out)
}

/// Fail when an input file changed while the run read it.
async fn check_unchanged(engine: &Engine, lineage: &Lineage, inputs: &[InputFile]) -> Result<()> {
    for (f, recorded) in located(engine, lineage)?.iter().zip(inputs) {
        let now = f
            .store
            .head(&f.meta.location)
            .await
            .map_err(|e| CanaryError::data_caused(format!("`{}` disappeared during the run: {e}", f.path), e))?;
        if now.size != recorded.size || modified(&now) != recorded.modified {
            return Err(CanaryError::data(format!(
                "`{}` changed during the run; nothing was published",
                f.path
            )));
        }
    }
    Ok(())
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// Recomputed from the same inputs: the result hash matches.
    Matches,
    /// Specs or input files differ from the record: each `path: what`.
    InputsChanged(Vec<String>),
    /// Same inputs, a different result (the engine changed?): (recorded, recomputed).
    ResultDiffers { recorded: String, recomputed: String },
}

/// A replay of a recorded run.
#[derive(Debug, Clone)]
pub struct Replay {
    pub record: Record,
    pub outcome: ReplayOutcome,
}

/// Recompute the run `run` (its id, a unique prefix of it, or its record number) from its
/// recorded inputs: the specs must hash as recorded and every input file as recorded (read
/// again in full, no cache), with no file added; then the result hash must match.
pub async fn replay(engine: &Engine, run: &str) -> Result<Replay> {
    let store = Store::of_project(&engine.project().root);
    let records = store.records()?;
    let matches: Vec<&Record> = records
        .iter()
        .filter(|r| r.run_id.starts_with(run) || r.seq.to_string() == run)
        .collect();
    let record = match matches.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(CanaryError::query_hint(
                format!("no recorded run `{run}`"),
                "list runs with `canary evidence log`",
            ));
        }
        _ => {
            return Err(CanaryError::query(format!(
                "`{run}` names {} runs; give more of the id",
                matches.len()
            )));
        }
    };
    if record.compute_hash()? != record.hash {
        return Err(CanaryError::data(format!(
            "record {} does not match its hash; run `canary evidence verify`",
            record.seq
        )));
    }
    let mut changed = Vec::new();
    let query = record.query.resolve(engine.project())?;
    let traced = engine.lineage(&query).await?;
    for (_, now) in specs(engine.project(), &query.kpis, &traced.lineage)? {
        match record.specs.iter().find(|s| s.kind == now.kind && s.id == now.id) {
            Some(then) if then.sha256 == now.sha256 => {}
            Some(then) => changed.push(format!(
                "{}: the {} `{}` changed since the run (version {} then, {} now)",
                now.file, now.kind, now.id, then.version, now.version
            )),
            None => changed.push(format!(
                "{}: the {} `{}` was not part of the run",
                now.file, now.kind, now.id
            )),
        }
    }
    let current = located(engine, &traced.lineage)?;
    for then in &record.inputs {
        match current.iter().find(|f| f.path == then.path) {
            None => changed.push(format!("{}: the input file is gone", then.path)),
            Some(f) => {
                let sha = sha256_of(f.store.as_ref(), &f.meta).await?;
                if sha != then.sha256 {
                    changed.push(format!(
                        "{}: the input file changed (SHA-256 {} then, {} now)",
                        then.path,
                        super::chain::short(&then.sha256),
                        super::chain::short(&sha)
                    ));
                }
            }
        }
    }
    for f in &current {
        if !record.inputs.iter().any(|i| i.path == f.path) {
            changed.push(format!("{}: a file of `{}` the run did not read", f.path, f.product));
        }
    }
    if !changed.is_empty() {
        return Ok(Replay {
            record,
            outcome: ReplayOutcome::InputsChanged(changed),
        });
    }
    let (batches, _) = engine.run_measured(traced.planned.plan.clone()).await?;
    let schema = traced.planned.plan.schema().as_arrow().clone();
    let recomputed = result_hash(&schema, &batches);
    let outcome = if recomputed == record.result.sha256 {
        ReplayOutcome::Matches
    } else {
        ReplayOutcome::ResultDiffers {
            recorded: record.result.sha256.clone(),
            recomputed,
        }
    };
    Ok(Replay { record, outcome })
}
