//! Data products → DataFusion table providers, checked against their contracts.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::execution::context::SessionContext;
use futures::{StreamExt, TryStreamExt};
use indexmap::IndexMap;
use object_store::ObjectMeta;

use crate::diagnostic::{Code, Diagnostic};
use crate::error::{CanaryError, Result};
use crate::model::{ObjectStoreSettings, Product, Project, type_name, types_compatible};
use crate::validate::Origins;

/// One opened data product.
#[derive(Debug, Clone)]
pub struct Table {
    pub provider: Arc<dyn TableProvider>,
    /// The schema of the data (file columns, then partition columns).
    pub schema: SchemaRef,
    /// The files found at the location when it was opened, sorted by path.
    pub files: Vec<ObjectMeta>,
    /// Each file's own schema, in the order of `files`.
    pub file_schemas: Vec<DataFile>,
    /// Parquet files below a folder location that DataFusion's listing leaves out (in
    /// sub-folders that are not partition folders), by their path below the location.
    pub ignored: Vec<String>,
}

/// One data file as its footer describes it.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// Its path below the product's location.
    pub path: String,
    /// Its schema as DataFusion reads it (a column named twice appears once).
    pub schema: SchemaRef,
    /// The names of its columns as the file has them, repeats included.
    pub columns: Vec<String>,
}

/// The opened data products of a project.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tables: IndexMap<String, Table>,
}

impl Catalog {
    /// Open every product: list its files, read its schema, check it against the contract.
    /// Problems with the data come back as diagnostics pointing at the contract.
    pub async fn open(
        project: &Project,
        origins: &Origins,
        ctx: &SessionContext,
        storage: &StorageOptions,
    ) -> Result<Catalog> {
        let mut tables = IndexMap::new();
        let mut diags = Vec::new();
        for (id, product) in &project.products {
            let missing = |message: String| {
                Diagnostic::new(Code::MissingData, origins.product(id, "location"), message)
                    .with_hint("check `location`, or generate the data first")
            };
            let listing = match list_product(product, ctx, storage, &project.settings.object_store).await {
                Ok(listing) => listing,
                Err(Failure::Data(message)) => {
                    diags.push(missing(message));
                    continue;
                }
                Err(Failure::Store(message)) => {
                    return Err(CanaryError::data(format!(
                        "product `{id}` at `{}`: {message}",
                        display_location(product)
                    )));
                }
            };
            // Each file on its own first: the files' merged schema cannot be made when they
            // disagree, and the reason is better said file by file.
            let before = diags.len();
            check_files(product, &listing, origins, &mut diags);
            if diags.len() > before {
                continue;
            }
            match open_table(product, ctx, listing).await {
                Ok(table) => {
                    check_schema(product, &table.schema, origins, &mut diags);
                    tables.insert(id.clone(), table);
                }
                Err(message) => diags.push(missing(message)),
            }
        }
        if diags.is_empty() {
            Ok(Catalog { tables })
        } else {
            crate::validate::sort(&mut diags);
            Err(CanaryError::Spec(diags))
        }
    }

    pub fn table(&self, product: &str) -> Result<&Table> {
        self.tables
            .get(product)
            .ok_or_else(|| CanaryError::internal(format!("product `{product}` was not opened")))
    }

    pub fn tables(&self) -> impl Iterator<Item = (&String, &Table)> {
        self.tables.iter()
    }
}

/// A product's location as DataFusion lists it. DataFusion splits a glob off local paths
/// only; a URL's glob (`s3://lake/balances/*.parquet`) is split here, at the last `/` before
/// its first glob character.
pub(crate) fn listing_url(location: &str) -> datafusion::error::Result<ListingTableUrl> {
    let is_url = location.contains("://") && !location.starts_with("file://");
    match location.find(['*', '?', '[']).filter(|_| is_url) {
        Some(first) => {
            let cut = location[..first].rfind('/').map_or(0, |i| i + 1);
            let (base, glob) = location.split_at(cut);
            let url = url::Url::parse(base).map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            let glob =
                glob::Pattern::new(glob).map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            ListingTableUrl::try_new(url, Some(glob))
        }
        None => ListingTableUrl::parse(location),
    }
}

/// Why a product could not be listed: its data (a diagnostic on its contract), or its
/// store (unreachable, timed out, access denied: the command stops there, since every
/// other product on that store would wait out the same timeouts).
enum Failure {
    Data(String),
    Store(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Data(message)
    }
}

/// What a product's location holds, each file's footer read.
struct Listing {
    url: ListingTableUrl,
    files: Vec<ObjectMeta>,
    file_schemas: Vec<DataFile>,
    ignored: Vec<String>,
}

async fn list_product(
    product: &Product,
    ctx: &SessionContext,
    storage: &StorageOptions,
    bounds: &ObjectStoreSettings,
) -> std::result::Result<Listing, Failure> {
    let url = listing_url(&product.location)
        .map_err(|e| Failure::Data(format!("`{}` is not a valid location: {e}", display_location(product))))?;
    check_local(&url, product)?;
    register_store(&url, ctx, storage, bounds)?;
    let state = ctx.state();
    let store = state
        .runtime_env()
        .object_store(url.object_store())
        .map_err(|e| format!("no object store for `{}`: {e}", display_location(product)))?;
    // A remote store that cannot be listed stops the command; a local folder that cannot
    // be (a name that is not UTF-8, a link loop) is a problem of the data, on its contract.
    let remote = url.scheme() != "file";
    let unreachable = |e: &dyn std::error::Error| {
        let message = format!(
            "cannot list `{}`: {}",
            display_location(product),
            crate::error::with_causes(e)
        );
        if remote {
            Failure::Store(message)
        } else {
            Failure::Data(message)
        }
    };
    let mut files: Vec<ObjectMeta> = url
        .list_all_files(&state, store.as_ref(), ".parquet")
        .await
        .map_err(|e| unreachable(&e))?
        .try_collect()
        .await
        .map_err(|e| unreachable(&e))?;
    if files.is_empty() {
        return Err(Failure::Data(format!(
            "no Parquet files at `{}` for product `{}`",
            display_location(product),
            product.id
        )));
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    // Each file's own footer (DataFusion's merged schema would hide a file that lacks a
    // column); footers are cached, so the merged schema below reads none again.
    let format = ParquetFormat::default();
    let cache = state.runtime_env().cache_manager.get_file_metadata_cache();
    // The futures are made first: a stream holding a closure over borrowed files would not
    // be `Send` for every lifetime, as a spawned task needs.
    let reads: Vec<_> = files
        .iter()
        .map(|f| read_footer(&format, &state, &store, &cache, url.prefix(), f))
        .collect();
    // Every file is read, so that one run of `validate` names every bad one.
    let footers: Vec<std::result::Result<DataFile, Failure>> =
        futures::stream::iter(reads).buffered(16).collect().await;
    if let Some(Err(Failure::Store(m))) = footers.iter().find(|f| matches!(f, Err(Failure::Store(_)))) {
        return Err(Failure::Store(m.clone()));
    }
    let bad: Vec<&String> = footers
        .iter()
        .filter_map(|f| match f {
            Err(Failure::Data(m)) => Some(m),
            _ => None,
        })
        .collect();
    match bad.as_slice() {
        [] => {}
        [one] => return Err(Failure::Data((*one).clone())),
        many => {
            const SHOWN: usize = 20;
            let mut message = format!(
                "{} files of `{}` cannot be read:",
                many.len(),
                display_location(product)
            );
            for e in many.iter().take(SHOWN) {
                message.push_str("\n  ");
                message.push_str(e);
            }
            if many.len() > SHOWN {
                message.push_str(&format!("\n  and {} more", many.len() - SHOWN));
            }
            return Err(Failure::Data(message));
        }
    }
    let file_schemas: Vec<DataFile> = footers.into_iter().filter_map(std::result::Result::ok).collect();
    // A folder (not a glob) is listed again without DataFusion's rule that skips sub-folders
    // other than partition folders: nothing at the location is left out without a word.
    let mut ignored = Vec::new();
    if url.is_collection() && url.get_glob().is_none() {
        let listed: std::collections::BTreeSet<&object_store::path::Path> = files.iter().map(|f| &f.location).collect();
        let mut all = store.list(Some(url.prefix()));
        while let Some(meta) = all.try_next().await.map_err(|e| unreachable(&e))? {
            if meta.location.as_ref().ends_with(".parquet") && !listed.contains(&meta.location) {
                ignored.push(below(url.prefix(), &meta.location));
            }
        }
        ignored.sort();
    }
    Ok(Listing {
        url,
        files,
        file_schemas,
        ignored,
    })
}

/// The table over a product's files, their schemas merged.
async fn open_table(product: &Product, ctx: &SessionContext, listing: Listing) -> std::result::Result<Table, String> {
    let Listing {
        url,
        files,
        file_schemas,
        ignored,
    } = listing;
    let state = ctx.state();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(product.partitions.clone());
    let file_schema = options
        .infer_schema(&state, &url)
        .await
        .map_err(|e| match disagreement(&file_schemas) {
            Some(why) => format!("the files of `{}` {why}", display_location(product)),
            None => format!("cannot read the schema of `{}`: {e}", display_location(product)),
        })?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(file_schema);
    let table = ListingTable::try_new(config).map_err(|e| e.to_string())?;
    let schema = table.schema();
    Ok(Table {
        provider: Arc::new(table),
        schema,
        files,
        file_schemas,
        ignored,
    })
}

/// `location`'s path below `prefix` (the product's location).
/// A location that is one file is its own prefix: it is named by its file name.
fn below(prefix: &object_store::path::Path, location: &object_store::path::Path) -> String {
    location
        .prefix_match(prefix)
        .map(|parts| parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>().join("/"))
        .filter(|p| !p.is_empty())
        .or_else(|| location.filename().map(str::to_owned))
        .unwrap_or_else(|| location.to_string())
}

/// A Parquet file ends with the length of its metadata (4 bytes, little-endian) and `PAR1`.
/// A length the file cannot hold is refused here: the Parquet reader would panic on it.
async fn check_footer(
    store: &dyn object_store::ObjectStore,
    file: &ObjectMeta,
    path: &str,
) -> std::result::Result<(), Failure> {
    let size = file.size;
    if size < 12 {
        return Err(Failure::Data(format!(
            "`{path}` is not a Parquet file: it has {size} bytes"
        )));
    }
    let last = size - 8..size;
    let tail = store
        .get_ranges(&file.location, std::slice::from_ref(&last))
        .await
        .map_err(|e| Failure::Store(format!("cannot read `{path}`: {}", crate::error::with_causes(&e))))?;
    let tail = tail.first().map(|b| b.as_ref()).unwrap_or_default();
    Ok(footer_fits(size, tail, path)?)
}

/// Check a local Parquet file's footer as [`check_footer`] does, before a reader opens it:
/// a regular file (a FIFO would block), whose metadata length fits in the file.
pub(crate) fn check_local_footer(file: &std::path::Path) -> std::result::Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let path = file.display().to_string();
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!("`{path}` is not a regular file"));
    }
    let size = meta.len();
    if size < 12 {
        return Err(format!("`{path}` is not a Parquet file: it has {size} bytes"));
    }
    let mut f = std::fs::File::open(file).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::End(-8))
        .and_then(|_| f.read_exact(&mut tail))
        .map_err(|e| format!("cannot read `{path}`: {e}"))?;
    footer_fits(size, &tail, &path)
}

/// The last 8 bytes of a file of `size` bytes: a metadata length that fits, and `PAR1`.
fn footer_fits(size: u64, tail: &[u8], path: &str) -> std::result::Result<(), String> {
    let (Some(length), Some(magic)) = (tail.get(..4), tail.get(4..8)) else {
        return Err(format!("cannot read the end of `{path}`"));
    };
    if magic != b"PAR1" {
        return Err(format!("`{path}` is not a Parquet file: it does not end with `PAR1`"));
    }
    let length = u64::from(u32::from_le_bytes([length[0], length[1], length[2], length[3]]));
    if length + 12 > size {
        return Err(format!(
            "`{path}` is not a valid Parquet file: its footer says {length} bytes of metadata, but the file has {size} bytes"
        ));
    }
    Ok(())
}

/// A data file's footer: its columns as written, and its schema as DataFusion reads it
/// (the footer is read once and cached).
async fn read_footer(
    format: &ParquetFormat,
    state: &datafusion::execution::SessionState,
    store: &Arc<dyn object_store::ObjectStore>,
    cache: &Arc<datafusion::execution::cache::cache_manager::FileMetadataCache>,
    prefix: &object_store::path::Path,
    file: &ObjectMeta,
) -> std::result::Result<DataFile, Failure> {
    let path = below(prefix, &file.location);
    check_footer(store.as_ref(), file, &path).await?;
    let unreadable = |e: datafusion::error::DataFusionError| {
        let message = format!("cannot read the footer of `{path}`: {}", crate::error::with_causes(&e));
        match e.find_root() {
            datafusion::error::DataFusionError::ObjectStore(_) => Failure::Store(message),
            _ => Failure::Data(message),
        }
    };
    let metadata = DFParquetMetadata::new(store.as_ref(), file)
        .with_file_metadata_cache(Some(Arc::clone(cache)))
        .fetch_metadata()
        .await
        .map_err(unreadable)?;
    // The Arrow schema a writer may embed in the footer is decoded by a reader that panics
    // on some corrupt ones (an integer of 5 bits): decode it once here, contained.
    let file_metadata = metadata.file_metadata();
    crate::contain::contain(|| {
        datafusion::parquet::arrow::parquet_to_arrow_schema(
            file_metadata.schema_descr(),
            file_metadata.key_value_metadata(),
        )
    })
    .map_err(|panic| format!("the Arrow schema embedded in the footer of `{path}` is corrupt: {panic}"))?
    .map_err(|e| format!("cannot read the footer of `{path}`: {e}"))?;
    let columns = metadata
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    let schema = format
        .infer_schema(state, store, std::slice::from_ref(file))
        .await
        .map_err(unreadable)?;
    Ok(DataFile { path, schema, columns })
}

fn display_location(product: &Product) -> String {
    product.location_written.clone()
}

/// Settings for object stores, as `key = value` pairs (S3 keys as `object_store` names them:
/// `aws_access_key_id`, `aws_secret_access_key`, `aws_region`, `aws_endpoint`, …).
/// The core never reads the environment; front doors pass what they read here.
#[derive(Debug, Clone, Default)]
pub struct StorageOptions {
    pub options: std::collections::BTreeMap<String, String>,
}

impl StorageOptions {
    /// The settings among `vars` (e.g. the environment a front door read): every `AWS_*`
    /// variable, under its lower-case name.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> StorageOptions {
        StorageOptions {
            options: vars
                .into_iter()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        }
    }
}

/// A local location is a regular file or a folder: reading a FIFO or a device would block
/// or never end.
fn check_local(url: &ListingTableUrl, product: &Product) -> std::result::Result<(), String> {
    let u: &url::Url = url.as_ref();
    if u.scheme() != "file" || url.get_glob().is_some() {
        return Ok(());
    }
    let Ok(path) = u.to_file_path() else {
        return Ok(());
    };
    check_not_special(&path, &display_location(product))
}

/// A local path that exists is a regular file or a folder, never a FIFO, a socket or a
/// device (opening one blocks, or reads without end); `shown` names it in the error.
pub(crate) fn check_not_special(path: &std::path::Path, shown: &str) -> std::result::Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => Err(format!(
            "`{shown}` is not a regular file or a folder (a FIFO, a socket or a device): Canary reads only files"
        )),
        _ => Ok(()),
    }
}

/// Register an object store for `s3://` URLs, configured from `storage`, every request
/// bounded by `bounds`.
fn register_store(
    url: &ListingTableUrl,
    ctx: &SessionContext,
    storage: &StorageOptions,
    bounds: &ObjectStoreSettings,
) -> std::result::Result<(), String> {
    let u: &url::Url = url.as_ref();
    if u.scheme() != "s3" {
        return Ok(());
    }
    let bucket = u.host_str().ok_or_else(|| format!("`{u}` names no bucket"))?;
    let tries = u32::try_from(bounds.retries + 1).unwrap_or(u32::MAX);
    let retry = object_store::RetryConfig {
        max_retries: bounds.retries,
        retry_timeout: bounds.timeout.saturating_mul(tries),
        ..object_store::RetryConfig::default()
    };
    let client = object_store::ClientOptions::new()
        .with_timeout(bounds.timeout)
        .with_connect_timeout(bounds.connect_timeout);
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_client_options(client)
        .with_retry(retry);
    for (key, value) in &storage.options {
        if let Ok(k) = key.parse::<object_store::aws::AmazonS3ConfigKey>() {
            builder = builder.with_config(k, value);
        }
    }
    let store = builder
        .build()
        .map_err(|e| format!("cannot configure S3 for `{u}`: {e}"))?;
    let base = url::Url::parse(&format!("s3://{bucket}")).map_err(|e| e.to_string())?;
    ctx.register_object_store(&base, Arc::new(store));
    Ok(())
}

fn check_schema(product: &Product, actual: &Schema, origins: &Origins, diags: &mut Vec<Diagnostic>) {
    for (i, (name, column)) in product.columns.iter().enumerate() {
        match actual.field_with_name(name) {
            Err(_) => diags.push(
                Diagnostic::new(
                    Code::MissingColumn,
                    origins.product(&product.id, &format!("columns.{i}.name")),
                    format!("the data of `{}` has no column `{name}`", product.id),
                )
                .with_hint(format!(
                    "the data has: {}",
                    actual
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ),
            Ok(field) if !types_compatible(&column.data_type, field.data_type()) => diags.push(
                Diagnostic::new(
                    Code::TypeMismatch,
                    origins.product(&product.id, &format!("columns.{i}.type")),
                    format!(
                        "column `{name}` of `{}` is declared {} but the data has {}",
                        product.id,
                        type_name(&column.data_type),
                        type_name(field.data_type())
                    ),
                )
                .with_hint(format!(
                    "declare `type: {}` or fix the data",
                    type_name(field.data_type())
                )),
            ),
            Ok(_) => {}
        }
    }
}

/// Files named in a diagnostic at most; the rest are counted.
const MAX_FILES_NAMED: usize = 3;

fn some_files(files: &[&str]) -> String {
    let named = files
        .iter()
        .take(MAX_FILES_NAMED)
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match files.len().saturating_sub(MAX_FILES_NAMED) {
        0 => named,
        more => format!("{named} and {more} more"),
    }
}

/// Every file against the contract, not only their merged schema: each has every contract
/// column (else its rows would read NULL), of a compatible type, no two columns of one
/// name; with partitions, each lies in the `name=value` folders (else it would be skipped).
/// The first column the files give different types, with the files and their types
/// (a few of each): the reason their schemas cannot be merged.
fn disagreement(files: &[DataFile]) -> Option<String> {
    let first = files.first()?;
    for field in first.schema.fields() {
        let other: Vec<String> = files
            .iter()
            .filter_map(|f| {
                let theirs = f.schema.field_with_name(field.name()).ok()?;
                (theirs.data_type() != field.data_type()).then(|| format!("{} in `{}`", theirs.data_type(), f.path))
            })
            .take(MAX_FILES_NAMED)
            .collect();
        if !other.is_empty() {
            return Some(format!(
                "disagree on the type of column `{}`: {} in `{}`, {}",
                field.name(),
                field.data_type(),
                first.path,
                other.join(", ")
            ));
        }
    }
    None
}

fn check_files(product: &Product, table: &Listing, origins: &Origins, diags: &mut Vec<Diagnostic>) {
    // A partition column comes from the folders; a file that holds it too gives two values
    // for one column, and which one a query reads would be a guess.
    for (name, _) in &product.partitions {
        let holding: Vec<&str> = table
            .file_schemas
            .iter()
            .filter(|f| f.columns.iter().any(|c| c == name))
            .map(|f| f.path.as_str())
            .collect();
        if !holding.is_empty() {
            diags.push(
                Diagnostic::new(
                    Code::DataLayout,
                    origins.product(&product.id, "partitions"),
                    format!(
                        "`{name}` is a partition of `{}` (its folders' `{name}=…`) and also a column of {}",
                        product.id,
                        some_files(&holding)
                    ),
                )
                .with_hint("drop the column from the files, or the partition from the contract"),
            );
        }
    }
    let n = table.file_schemas.len();
    for (i, (name, column)) in product.columns.iter().enumerate() {
        // A partition column comes from the folders, not from the files.
        if product.partitions.iter().any(|(p, _)| p == name) {
            continue;
        }
        let lacking: Vec<&str> = table
            .file_schemas
            .iter()
            .filter(|f| f.schema.field_with_name(name).is_err())
            .map(|f| f.path.as_str())
            .collect();
        // When no file has it, check_schema has said so.
        if !lacking.is_empty() && lacking.len() < n {
            diags.push(
                Diagnostic::new(
                    Code::MissingColumn,
                    origins.product(&product.id, &format!("columns.{i}.name")),
                    format!(
                        "{} of the {n} files of `{}` have no column `{name}`: {}",
                        lacking.len(),
                        product.id,
                        some_files(&lacking)
                    ),
                )
                .with_hint("every file must hold every contract column: rewrite those files, or move them away"),
            );
        }
        let mistyped: Vec<&str> = table
            .file_schemas
            .iter()
            .filter(|f| {
                f.schema
                    .field_with_name(name)
                    .is_ok_and(|x| !types_compatible(&column.data_type, x.data_type()))
            })
            .map(|f| f.path.as_str())
            .collect();
        if !mistyped.is_empty() && mistyped.len() < n {
            diags.push(Diagnostic::new(
                Code::TypeMismatch,
                origins.product(&product.id, &format!("columns.{i}.type")),
                format!(
                    "column `{name}` of `{}` is declared {}, but not so in {}",
                    product.id,
                    type_name(&column.data_type),
                    some_files(&mistyped)
                ),
            ));
        }
    }
    let twice: Vec<String> = table
        .file_schemas
        .iter()
        .filter_map(|f| {
            let mut seen = std::collections::BTreeSet::new();
            let dup = f.columns.iter().find(|c| !seen.insert(c.as_str()))?;
            Some(format!("`{}` (`{dup}`)", f.path))
        })
        .collect();
    if !twice.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::DataLayout,
                origins.product(&product.id, "location"),
                format!(
                    "files of `{}` have two columns of one name, so which is read is unclear: {}",
                    product.id,
                    twice.join(", ")
                ),
            )
            .with_hint("rewrite those files with distinct column names"),
        );
    }
    let mut outside: Vec<&str> = table.ignored.iter().map(String::as_str).collect();
    if !product.partitions.is_empty() {
        outside.extend(
            table
                .file_schemas
                .iter()
                .map(|f| f.path.as_str())
                .filter(|f| !in_partition_folders(f, &product.partitions)),
        );
        outside.sort_unstable();
        if !outside.is_empty() {
            let layout: String = product.partitions.iter().map(|(p, _)| format!("{p}=…/")).collect();
            diags.push(
                Diagnostic::new(
                    Code::DataLayout,
                    origins.product(&product.id, "partitions"),
                    format!(
                        "{} files of `{}` are outside the partition folders `{layout}` and would not be read: {}",
                        outside.len(),
                        product.id,
                        some_files(&outside)
                    ),
                )
                .with_hint("move them into the partition folders, or away from the location"),
            );
        }
    } else if !outside.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::DataLayout,
                origins.product(&product.id, "location"),
                format!(
                    "{} files below the location of `{}` are in sub-folders and would not be read: {}",
                    outside.len(),
                    product.id,
                    some_files(&outside)
                ),
            )
            .with_hint("move them up into the location, or away from it (or declare the folders as partitions)"),
        );
    }
}

/// Whether `file` (its path below the location) lies in `name=value` folders, one per
/// partition column, in order.
fn in_partition_folders(file: &str, partitions: &[(String, datafusion::arrow::datatypes::DataType)]) -> bool {
    let folders: Vec<&str> = file.split('/').collect();
    let folders = &folders[..folders.len().saturating_sub(1)];
    folders.len() >= partitions.len()
        && partitions
            .iter()
            .zip(folders)
            .all(|((name, _), folder)| folder.split_once('=').is_some_and(|(k, _)| k == name))
}
