//! Integration tests of canary-core: one binary, because each links all of DataFusion.

mod affected;
mod architecture;
mod evidence;
mod files;
mod fixture;
mod impact;
mod isolation;
mod kinds;
mod lineage;
mod overflow;
mod plans;
mod schema;
mod storage;
mod tenancy;

fn r(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}
