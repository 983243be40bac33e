//! Integration tests of canary-core: one binary, because each links all of DataFusion.

mod fixture;
mod kinds;
mod plans;
mod schema;
mod storage;
mod tenancy;

fn r(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}
