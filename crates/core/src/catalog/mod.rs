//! Data products → DataFusion table providers, checked against their contracts.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SessionContext;
use futures::TryStreamExt;
use indexmap::IndexMap;
use object_store::ObjectMeta;

use crate::diagnostic::{Code, Diagnostic};
use crate::error::{CanaryError, Result};
use crate::model::{Product, Project, type_name, types_compatible};
use crate::validate::Origins;

/// One opened data product.
#[derive(Debug, Clone)]
pub struct Table {
    pub provider: Arc<dyn TableProvider>,
    /// The schema of the data (file columns, then partition columns).
    pub schema: SchemaRef,
    /// The files found at the location when it was opened, sorted by path.
    pub files: Vec<ObjectMeta>,
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
            match open_product(product, ctx, storage).await {
                Ok(table) => {
                    check_schema(product, &table.schema, origins, &mut diags);
                    tables.insert(id.clone(), table);
                }
                Err(message) => diags.push(
                    Diagnostic::new(Code::MissingData, origins.product(id, "location"), message)
                        .with_hint("check `location`, or generate the data first"),
                ),
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

async fn open_product(
    product: &Product,
    ctx: &SessionContext,
    storage: &StorageOptions,
) -> std::result::Result<Table, String> {
    let url = ListingTableUrl::parse(&product.location)
        .map_err(|e| format!("`{}` is not a valid location: {e}", display_location(product)))?;
    register_store(&url, ctx, storage)?;
    let state = ctx.state();
    let store = state
        .runtime_env()
        .object_store(url.object_store())
        .map_err(|e| format!("no object store for `{}`: {e}", display_location(product)))?;
    let mut files: Vec<ObjectMeta> = url
        .list_all_files(&state, store.as_ref(), ".parquet")
        .await
        .map_err(|e| format!("cannot list `{}`: {e}", display_location(product)))?
        .try_collect()
        .await
        .map_err(|e| format!("cannot list `{}`: {e}", display_location(product)))?;
    if files.is_empty() {
        return Err(format!(
            "no Parquet files at `{}` for product `{}`",
            display_location(product),
            product.id
        ));
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(product.partitions.clone());
    let file_schema = options
        .infer_schema(&state, &url)
        .await
        .map_err(|e| format!("cannot read the schema of `{}`: {e}", display_location(product)))?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(file_schema);
    let table = ListingTable::try_new(config).map_err(|e| e.to_string())?;
    let schema = table.schema();
    Ok(Table {
        provider: Arc::new(table),
        schema,
        files,
    })
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

/// Register an object store for `s3://` URLs, configured from `storage`.
fn register_store(
    url: &ListingTableUrl,
    ctx: &SessionContext,
    storage: &StorageOptions,
) -> std::result::Result<(), String> {
    let u: &url::Url = url.as_ref();
    if u.scheme() != "s3" {
        return Ok(());
    }
    let bucket = u.host_str().ok_or_else(|| format!("`{u}` names no bucket"))?;
    let mut builder = object_store::aws::AmazonS3Builder::new().with_bucket_name(bucket);
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
