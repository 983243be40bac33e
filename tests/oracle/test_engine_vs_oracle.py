"""The engine against the independent DuckDB oracle, on the whole sample pack.

`canary compute` runs as a user would run it (the CLI binary, Parquet output); every KPI
value and every output row is compared with `oracle_sample.expected`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_sample as o

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "retail"
CANARY = os.environ.get("CANARY_BIN", str(ROOT / "target" / "debug" / "canary"))

DEMO = [
    "revenue",
    "completed_orders",
    "avg_order_value",
    "p90_basket_value",
    "median_quantity",
    "largest_order",
    "promo_orders",
    "avg_discount",
    "active_customers",
    "return_rate",
    "cancellation_rate",
    "business_revenue_share",
    "aov",
    "revenue_mom_growth",
    "revenue_yoy_growth",
    "revenue_all_time",
    "revenue_trailing_3m",
    "revenue_ytd",
    "active_customers_3m",
]


def canary(*args: str, tmp: Path) -> pd.DataFrame:
    out = tmp / "result.parquet"
    proc = subprocess.run(
        [CANARY, "--project", str(PROJECT), "compute", *args, "--format", "parquet", "--output", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return pd.read_parquet(out)


def compare(got: pd.DataFrame, kpi: str, grain: str, by: list[str], tenant: str | None) -> None:
    """Every expected row is in `got` with the same value; other rows of `got` are NULL."""
    want = o.expected(kpi, grain=grain, by=by or None, tenant=tenant)
    keys = ["period", *by]
    got = got.copy()
    got["period"] = pd.to_datetime(got["period"], utc=True)
    want = want.rename(columns={"value": "want"})
    want["period"] = pd.to_datetime(want["period"], utc=True)
    merged = got[[*keys, kpi]].merge(want, on=keys, how="outer", indicator=True)
    missing = merged[merged["_merge"] == "right_only"]
    assert missing.empty, f"{kpi}: rows the engine did not return:\n{missing.head()}"
    extra = merged[(merged["_merge"] == "left_only") & merged[kpi].notna()]
    assert extra.empty, f"{kpi}: values on rows the oracle does not have:\n{extra.head()}"
    both = merged[merged["_merge"] == "both"]
    a = both[kpi].astype("float64").to_numpy()
    b = both["want"].astype("float64").to_numpy()
    bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert not bad.any(), f"{kpi}: {bad.sum()} values differ:\n{both[bad].head()}"


@pytest.mark.parametrize("grain", ["month", "quarter"])
def test_whole_pack_in_one_query_matches_the_oracle(grain, tmp_path):
    kpis = o.kpi_ids()
    got = canary(*kpis, "--grain", grain, tmp=tmp_path)
    assert list(got.columns) == ["period", *kpis]
    for kpi in kpis:
        compare(got, kpi, grain, [], None)


def test_demo_pack_by_channel_for_one_tenant(tmp_path):
    got = canary(*DEMO, "--grain", "month", "--by", "channel", "--tenant", "acme", tmp=tmp_path)
    for kpi in DEMO:
        compare(got, kpi, "month", ["channel"], "acme")


@pytest.mark.parametrize(
    "kpi,by",
    [
        ("revenue", "regions.country"),
        ("business_revenue_share", "catalog.category"),
        ("session_conversion_rate", "sessions.channel"),
        ("closing_loyalty_balance", "customers.segment"),
        ("active_customers_3m", "customers.segment"),
    ],
)
def test_single_kpis_by_joined_dimensions(kpi, by, tmp_path):
    got = canary(kpi, "--grain", "month", "--by", by, "--tenant", "globex", tmp=tmp_path)
    compare(got, kpi, "month", [by], "globex")


def test_week_grain_for_cumulative_and_offsets(tmp_path):
    kpis = ["revenue_trailing_3m", "orders_mtd", "revenue_mom_growth"]
    got = canary(*kpis, "--grain", "week", tmp=tmp_path)
    for kpi in kpis:
        compare(got, kpi, "week", [], None)


def test_a_year_offset_at_week_grain_moves_days(tmp_path):
    """A year does not map weeks onto weeks: each day's revenue moves to the day a year
    later (day d takes day d - 1 year; Feb 29 goes nowhere), then weeks are summed."""
    got = canary("revenue_yoy_growth", "--grain", "week", tmp=tmp_path)
    got["period"] = pd.to_datetime(got["period"], utc=True)
    rev = o.KPIS["revenue"].m
    rows = o._rows("orders", None)
    sql = f"""
        WITH days AS (
            SELECT date_trunc('day', t) AS day, {o.agg_sql(rev)} AS v FROM {rows} GROUP BY ALL
        ), cal AS (
            SELECT range AS d FROM range(TIMESTAMP '2023-12-01', TIMESTAMP '2027-03-01', INTERVAL 1 DAY)
        ), last AS (
            SELECT date_trunc('week', cal.d) AS period, sum(days.v) AS last_year
            FROM cal JOIN days ON cal.d - INTERVAL 1 YEAR = days.day GROUP BY ALL
        ), cur AS (
            SELECT date_trunc('week', t) AS period, {o.agg_sql(rev)} AS revenue FROM {rows} GROUP BY ALL
        )
        SELECT period, 100 * (revenue - last_year) / nullif(last_year, 0) AS value
        FROM cur FULL JOIN last USING (period)
    """
    want = o._query(sql, ["period"]).dropna()
    assert len(want) > 40
    merged = want.merge(got, on="period", how="left")
    np.testing.assert_allclose(merged["revenue_yoy_growth"].astype("float64"), merged["value"], rtol=1e-9)
    # Weeks the oracle has no value for have none from the engine either.
    extra = got[~got["period"].isin(want["period"]) & got["revenue_yoy_growth"].notna()]
    assert extra.empty, extra.head()
