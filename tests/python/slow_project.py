"""A generated project whose computation takes seconds: for tests that interrupt work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PROJECT = """\
project: slow
version: 1.0.0
owner: tests@example.com
products: [products/*.yaml]
kpis: [kpis/*.yaml]
"""

PRODUCT = """\
product: events
version: 1.0.0
owner: tests@example.com
location: data/
columns:
  - {name: id, type: int64, nullable: false}
  - {name: user_id, type: int64, nullable: false}
  - {name: at, type: timestamp, nullable: false}
  - {name: amount, type: float64, nullable: false}
entities:
  - {name: event, type: primary, column: id}
dimensions:
  - {name: at, type: time, granularity: second}
  - {name: user_id, type: categorical}
measures:
  - {name: users, agg: count_distinct, expr: user_id}
  - {name: p50, agg: percentile, percentile: 0.5, expr: amount}
time_dimension: at
"""

KPIS = """\
kpis:
  - {id: users, version: 1.0.0, type: simple, measure: events.users}
  - {id: p50_amount, version: 1.0.0, type: simple, measure: events.p50}
"""


def write(root: Path, rows: int, files: int = 4) -> Path:
    """A project under `root` with `rows` events in `files` Parquet files."""
    (root / "products").mkdir(parents=True)
    (root / "kpis").mkdir()
    (root / "data").mkdir()
    (root / "canary.yaml").write_text(PROJECT)
    (root / "products" / "events.yaml").write_text(PRODUCT)
    (root / "kpis" / "kpis.yaml").write_text(KPIS)
    rng = np.random.default_rng(7)
    per = rows // files
    start = np.datetime64("2024-01-01T00:00:00", "us")
    for f in range(files):
        seconds = rng.integers(0, 365 * 86400, per)
        table = pa.table(
            {
                "id": np.arange(f * per, (f + 1) * per, dtype=np.int64),
                "user_id": rng.integers(0, rows // 2, per),
                "at": pa.array(start + seconds.astype("timedelta64[s]"), pa.timestamp("us")),
                "amount": rng.random(per) * 100,
            }
        )
        pq.write_table(table, root / "data" / f"part-{f}.parquet")
    return root
