"""A generated project whose computation takes as long as asked: for tests that interrupt work.

Its data can be the same Parquet file many times over (hard links: no disk, no time to
write), so a computation can be made to need minutes of CPU on any machine; a tiny second
product, `pings`, then shows the project still works without waiting for the big one."""

from __future__ import annotations

import os
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

PINGS = """\
product: pings
version: 1.0.0
owner: tests@example.com
location: pings/
columns:
  - {name: id, type: int64, nullable: false}
  - {name: at, type: timestamp, nullable: false}
entities:
  - {name: ping, type: primary, column: id}
dimensions:
  - {name: at, type: time, granularity: second}
measures:
  - {name: n, agg: count}
time_dimension: at
"""

KPIS = """\
kpis:
  - {id: users, version: 1.0.0, type: simple, measure: events.users}
  - {id: p50_amount, version: 1.0.0, type: simple, measure: events.p50}
  - {id: ping_count, version: 1.0.0, type: simple, measure: pings.n}
"""

#: Rows of the `pings` product.
PINGS_ROWS = 10


def write(root: Path, rows: int, files: int = 4, copies: int = 1) -> Path:
    """A project under `root` with `rows` events in `files` Parquet files, each of them
    there `copies` times (so `rows * copies` events), and `PINGS_ROWS` pings."""
    (root / "products").mkdir(parents=True)
    (root / "kpis").mkdir()
    (root / "data").mkdir()
    (root / "pings").mkdir()
    (root / "canary.yaml").write_text(PROJECT)
    (root / "products" / "events.yaml").write_text(PRODUCT)
    (root / "products" / "pings.yaml").write_text(PINGS)
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
        part = root / "data" / f"part-{f}.parquet"
        pq.write_table(table, part)
        for c in range(1, copies):
            link(part, root / "data" / f"part-{f}-copy-{c}.parquet")
    pings = pa.table(
        {
            "id": np.arange(PINGS_ROWS, dtype=np.int64),
            "at": pa.array(start + np.arange(PINGS_ROWS).astype("timedelta64[D]"), pa.timestamp("us")),
        }
    )
    pq.write_table(pings, root / "pings" / "part-0.parquet")
    return root


def link(target: Path, path: Path) -> None:
    """`path` as another name of `target`: a hard link, else a symbolic one."""
    try:
        os.link(target, path)
    except OSError:
        path.symlink_to(target)
