"""Self-checks of the sample data and of the oracle (no Canary involved).

These pin down the shape of `examples/retail/data` that the specs rely on, and check the
oracle against identities that must hold whatever the engine does (e.g. the derived AOV
equals the `avg` measure, a year-to-date total adds up the months).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_sample as o

DATA = o.DATA
P = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731


def test_files_and_types():
    months = sorted(p.name for p in (DATA / "orders").iterdir())
    assert months == [f"month={y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
    orders = pq.read_schema(DATA / "orders" / "month=2024-01" / "part-0.parquet")
    assert [(f.name, str(f.type)) for f in orders] == [
        ("order_id", "int64"),
        ("customer_id", "int64"),
        ("product_id", "int64"),
        ("store_id", "int64"),
        ("tenant_id", "string"),
        ("channel", "string"),
        ("status", "string"),
        ("ordered_at", "timestamp[us, tz=UTC]"),
        ("quantity", "int64"),
        ("unit_price", "double"),
        ("discount", "double"),
    ]
    assert str(pq.read_schema(DATA / "sessions" / "sessions-2024.parquet").field("started_at").type) == "timestamp[us]"
    assert str(pq.read_schema(DATA / "balances" / "balances-2024.parquet").field("snapshot_date").type) == "date32[day]"
    assert str(pq.read_schema(DATA / "customers.parquet").field("signup_date").type) == "date32[day]"


def test_row_counts_and_keys():
    con = duckdb.connect()
    orders = f"read_parquet('{DATA}/orders/*/*.parquet', hive_partitioning = true)"
    n, ids, nulls, lo, hi = con.execute(
        f"SELECT count(*), count(DISTINCT order_id), count(*) - count(discount),"
        f" min(epoch_us(ordered_at)), max(epoch_us(ordered_at)) FROM {orders}"
    ).fetchone()
    assert n >= 200_000 and ids == n
    assert 0 < nulls < 100
    assert lo >= 1704067200 * 10**6 and hi < 1767225600 * 10**6  # within 2024-2025 UTC
    # Every order's month partition matches its timestamp.
    assert (
        con.execute(
            f"SELECT count(*) FROM {orders} WHERE month <> strftime(make_timestamp(epoch_us(ordered_at)), '%Y-%m')"
        ).fetchone()[0]
        == 0
    )
    # Foreign keys resolve (sessions may be anonymous).
    for table, key, parent in [
        ("orders", "customer_id", "customers"),
        ("orders", "product_id", "catalog"),
        ("orders", "store_id", "stores"),
        ("balances", "customer_id", "customers"),
    ]:
        src = orders if table == "orders" else f"read_parquet('{DATA}/{table}/*.parquet')"
        missing = con.execute(
            f"SELECT count(*) FROM {src} AS a ANTI JOIN read_parquet('{DATA}/{parent}.parquet') AS b USING ({key})"
        ).fetchone()[0]
        assert missing == 0, (table, key)
    dup = con.execute(
        f"SELECT count(*) FROM (SELECT customer_id, started_at FROM read_parquet('{DATA}/sessions/*.parquet')"
        f" WHERE customer_id IS NOT NULL GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]
    assert dup == 0


def values(kpi, **kw):
    df = o.expected(kpi, **kw)
    keys = [c for c in df.columns if c != "value"]
    return df.set_index(keys)["value"]


def test_derived_aov_equals_avg_measure():
    a = values("aov", by="channel")
    b = values("avg_order_value", by="channel")
    assert len(a) == 72
    np.testing.assert_allclose(a.to_numpy(), b.reindex(a.index).to_numpy(), rtol=1e-9)


def test_cumulative_windows_add_up_months():
    r = values("revenue", tenant="acme")
    np.testing.assert_allclose(values("revenue_all_time", tenant="acme").to_numpy(), r.cumsum().to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(
        values("revenue_trailing_3m", tenant="acme").to_numpy(), r.rolling(3, min_periods=1).sum().to_numpy(), rtol=1e-9
    )
    ytd = values("revenue_ytd", tenant="acme")
    assert math.isclose(ytd[P("2025-03-01")], r[P("2025-01-01") : P("2025-03-01")].sum(), rel_tol=1e-9)
    np.testing.assert_allclose(values("orders_mtd").to_numpy(), values("completed_orders").to_numpy())


def test_offsets():
    r = values("revenue")
    mom = values("revenue_mom_growth")
    assert math.isnan(mom.iloc[0])
    assert math.isclose(mom[P("2025-01-01")], 100 * (r[P("2025-01-01")] / r[P("2024-12-01")] - 1), rel_tol=1e-9)
    yoy = values("revenue_yoy_growth")
    assert yoy[: P("2024-12-01")].isna().all() and yoy[P("2025-01-01") :].notna().all()


def test_tenants_partition_the_totals():
    both = values("revenue")
    split = values("revenue", tenant="acme") + values("revenue", tenant="globex")
    np.testing.assert_allclose(both.to_numpy(), split.reindex(both.index).to_numpy(), rtol=1e-9)
    assert values("revenue", tenant="nobody").empty


def test_semi_additive_last_per_account_differs_from_last_day():
    per = values("closing_loyalty_balance", tenant="globex")
    day = values("loyalty_balance_at_period_end", tenant="globex")
    # globex's export missed half of the accounts on 2024-10-31 and 2025-06-30.
    assert day[P("2024-10-01")] < per[P("2024-10-01")]
    assert day[P("2025-06-01")] < per[P("2025-06-01")]
    assert math.isclose(day[P("2024-09-01")], per[P("2024-09-01")], rel_tol=1e-12)


def test_conversion_and_drilldown_shapes():
    rate = o.expected("session_conversion_rate", by="channel")
    assert set(rate["channel"]) == {"web", "app"} and rate["value"].between(0.2, 0.8).all()
    with pytest.raises(ValueError):
        o.expected("closing_loyalty_balance", by="channel")


def test_percentile_disc_definition():
    con = duckdb.connect()
    rng = np.random.default_rng(7)
    for _ in range(200):
        x = np.sort(rng.integers(0, 30, int(rng.integers(1, 50))).astype(float))
        p = float(rng.choice([0.1, 0.5, 0.9, 0.91, 0.99, 1.0, 0.0, rng.random()]))
        want = x[max(1, math.ceil(p * len(x))) - 1]
        got = con.execute("SELECT quantile_disc(v, ?) FROM (SELECT unnest(?) AS v)", [p, list(x)]).fetchone()[0]
        assert got == want, (x, p)
