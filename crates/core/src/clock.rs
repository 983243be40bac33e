//! The only way library code learns the time: an injectable clock.

use chrono::{DateTime, Utc};

/// A source of the current time. Front doors pass [`SystemClock`]; tests and reproducible
/// runs pass a [`FixedClock`].
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Always the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A UUIDv7 for a run started at `at`: its first 48 bits are the Unix time in milliseconds,
/// the rest random, so ids sort by time.
pub fn run_id(at: DateTime<Utc>) -> uuid::Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        u64::try_from(at.timestamp()).unwrap_or(0),
        at.timestamp_subsec_nanos(),
    );
    uuid::Uuid::new_v7(ts)
}

/// A UUIDv7 for `at` whose other bits are taken from a hash of `seed` instead of chance:
/// the same instant and seed give the same id, so output stamped by a [`FixedClock`] is
/// reproducible.
pub fn derived_run_id(at: DateTime<Utc>, seed: &[u8]) -> uuid::Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(at.timestamp_nanos_opt().unwrap_or_default().to_be_bytes())
        .chain_update(seed)
        .finalize();
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &bits).into_uuid()
}
