"""Every KPI kind computed through the wheel, against the same number recomputed with plain
pandas from the sample project's Parquet files (an oracle that shares no code with the
engine: no SQL, no DataFusion)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import period

COMPLETED = "status == 'completed'"


def got(result, kpi: str, keys: list[str]) -> pd.Series:
    df = result.to_pandas()
    df["period"] = pd.to_datetime(df["period"], utc=True)
    return df.set_index(keys)[kpi].astype("float64")


def assert_same(engine: pd.Series, oracle: pd.Series) -> None:
    """Same keys with values (the engine may add keys whose value is NULL), same values."""
    oracle = oracle.astype("float64").dropna()
    engine_values = engine.dropna()
    assert sorted(engine_values.index) == sorted(oracle.index), (
        f"keys differ: engine only {sorted(set(engine_values.index) - set(oracle.index))[:5]}, "
        f"oracle only {sorted(set(oracle.index) - set(engine_values.index))[:5]}"
    )
    a = engine_values.sort_index().to_numpy()
    b = oracle.sort_index().to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    assert len(a) > 0


def test_simple_sum_by_month_and_channel(project, orders):
    r = project.compute("revenue", grain="month", by="channel")
    o = orders.query(COMPLETED).assign(period=lambda d: period(d.ordered_at, "month"))
    assert_same(got(r, "revenue", ["period", "channel"]), o.groupby(["period", "channel"])["net"].sum())


def test_simple_for_one_tenant(orders):
    import canary
    from conftest import SAMPLE

    r = canary.Project(SAMPLE, tenant="acme").compute("revenue", grain="quarter")
    o = orders.query(COMPLETED + " and tenant_id == 'acme'").assign(period=lambda d: period(d.ordered_at, "quarter"))
    assert_same(got(r, "revenue", ["period"]), o.groupby("period")["net"].sum())


def test_count_distinct_with_filter(project, orders):
    r = project.compute("active_customers", grain="month")
    o = orders.query(COMPLETED).assign(period=lambda d: period(d.ordered_at, "month"))
    assert_same(got(r, "active_customers", ["period"]), o.groupby("period")["customer_id"].nunique())


def test_ratio_of_two_filtered_counts(project, orders):
    r = project.compute("return_rate", grain="quarter")
    o = orders.assign(period=lambda d: period(d.ordered_at, "quarter"))
    returned = o[o.status == "returned"].groupby("period").size()
    delivered = o[o.status.isin(["completed", "returned"])].groupby("period").size()
    assert_same(got(r, "return_rate", ["period"]), returned / delivered)


def test_derived_with_a_period_offset(project, orders):
    r = project.compute("revenue_mom_growth", grain="month")
    revenue = orders.query(COMPLETED).groupby(period(orders.query(COMPLETED).ordered_at, "month"))["net"].sum()
    previous = revenue.copy()
    previous.index = previous.index + pd.DateOffset(months=1)
    growth = (100 * (revenue - previous) / previous).dropna()
    assert len(growth) == 23  # 24 months of data, the first has no previous month
    assert_same(got(r, "revenue_mom_growth", ["period"]), growth)


def test_cumulative_grain_to_date(project, orders):
    r = project.compute("revenue_ytd", grain="month")
    monthly = orders.query(COMPLETED).groupby(period(orders.query(COMPLETED).ordered_at, "month"))["net"].sum()
    ytd = monthly.groupby(monthly.index.year).cumsum()
    assert_same(got(r, "revenue_ytd", ["period"]), ytd)


def test_cumulative_trailing_window(project, orders):
    """`window: 3 months` at month grain: the period and the two before it."""
    r = project.compute("revenue_trailing_3m", grain="month", start="2024-01", end="2026-01")
    monthly = orders.query(COMPLETED).groupby(period(orders.query(COMPLETED).ordered_at, "month"))["net"].sum()
    trailing = monthly.rolling(3, min_periods=1).sum()
    assert_same(got(r, "revenue_trailing_3m", ["period"]), trailing)


def test_conversion_rate(project, orders, sessions):
    """An online order converts the customer's latest visit at or before it, when it is
    less than 7 days after that visit; rate = conversions / visits, by the visit's month."""
    r = project.compute("session_conversion_rate", grain="month")
    visits = sessions.dropna(subset=["customer_id"]).assign(customer_id=lambda d: d.customer_id.astype("int64"))
    visits = visits.sort_values("started_at")
    online = orders[orders.channel.isin(["web", "app"])].sort_values("ordered_at")
    matched = pd.merge_asof(
        online[["customer_id", "tenant_id", "ordered_at"]],
        visits[["customer_id", "tenant_id", "started_at"]],
        left_on="ordered_at",
        right_on="started_at",
        by=["customer_id", "tenant_id"],
        direction="backward",
    ).dropna(subset=["started_at"])
    matched = matched[matched.ordered_at < matched.started_at + pd.Timedelta(days=7)]
    conversions = matched.groupby(period(matched.started_at, "month")).size()
    all_visits = sessions.groupby(period(sessions.started_at, "month")).size()
    rate = conversions.reindex(all_visits.index, fill_value=0) / all_visits
    assert_same(got(r, "session_conversion_rate", ["period"]), rate)


def test_semi_additive_last_balance_per_account(project, balances):
    r = project.compute("closing_loyalty_balance", grain="month")
    b = balances.assign(period=lambda d: period(d.snapshot_date, "month"))
    last = b.sort_values("snapshot_date").groupby(["period", "customer_id", "tenant_id"]).tail(1)
    assert_same(got(r, "closing_loyalty_balance", ["period"]), last.groupby("period")["balance"].sum())


def test_percentiles_discrete_and_interpolated(project, orders):
    r = project.compute(["median_quantity", "p90_basket_value"], grain="quarter")
    o = orders.query(COMPLETED).assign(period=lambda d: period(d.ordered_at, "quarter"))
    median = o.groupby("period")["quantity"].agg(lambda x: np.quantile(x, 0.5, method="inverted_cdf"))
    p90 = o.groupby("period")["net"].agg(lambda x: np.quantile(x, 0.9, method="linear"))
    assert_same(got(r, "median_quantity", ["period"]), median)
    assert_same(got(r, "p90_basket_value", ["period"]), p90)


def test_dimension_of_a_joined_product(project, orders):
    """`segment` lives in customers, reached from orders through the customer entity."""
    from conftest import SAMPLE

    customers = pd.read_parquet(SAMPLE / "data" / "customers.parquet")
    r = project.compute("revenue", grain="year", by="segment")
    o = orders.query(COMPLETED).merge(customers[["customer_id", "segment"]], on="customer_id", how="left")
    o = o.assign(period=lambda d: period(d.ordered_at, "year"))
    assert_same(got(r, "revenue", ["period", "segment"]), o.groupby(["period", "segment"])["net"].sum())


@pytest.mark.parametrize("grain", [None, "month"])
def test_where_and_range(project, orders, grain):
    r = project.compute("revenue", grain=grain, where="channel = 'web'", start="2025-03-01", end="2025-09-01")
    o = orders.query(COMPLETED + " and channel == 'web'")
    o = o[(o.ordered_at >= "2025-03-01") & (o.ordered_at < "2025-09-01")]
    if grain is None:
        assert r.column_names == ["revenue"]
        assert r.to_pandas()["revenue"].tolist() == pytest.approx([o["net"].sum()], rel=1e-12)
    else:
        assert_same(got(r, "revenue", ["period"]), o.groupby(period(o.ordered_at, grain))["net"].sum())


def test_a_range_is_widened_to_whole_periods(project, orders):
    """`start` inside a year, at year grain: the whole year is computed."""
    r = project.compute("revenue", grain="year", start="2025-03-01", end="2025-09-01")
    o = orders.query(COMPLETED)
    o = o[o.ordered_at.dt.year == 2025]
    assert r.to_pandas()["revenue"].tolist() == pytest.approx([o["net"].sum()], rel=1e-12)
