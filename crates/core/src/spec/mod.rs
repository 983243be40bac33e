//! The raw mirror of Canary's spec files: what the YAML says, nothing resolved yet.
//!
//! Every struct rejects unknown keys. [`crate::validate`] turns these into the
//! validated [`crate::model`], or into diagnostics.

mod kpi;
mod load;
mod product;
mod project;

pub use kpi::{
    ConstantProperty, ConversionCalculation, ConversionSpec, CumulativeSpec, DerivedInput, Direction, KpiFile, KpiSpec,
    KpiType, MeasureRef, PeriodAgg, Thresholds,
};
pub use load::{Located, SourceFile, SpanIndex, load_yaml};
pub use product::{
    AggKind, ColumnSpec, DimensionKind, DimensionSpec, EntityKind, EntitySpec, MeasureSpec, NonAdditiveSpec,
    NonAdditiveWindow, PartitionSpec, ProductSpec, SourceSpec, ValiditySpec,
};
pub use project::{CalendarSpec, ObjectStoreSpec, ProjectSpec, SettingsSpec};
