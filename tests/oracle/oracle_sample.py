"""Independent oracle for the sample project `examples/retail`.

Every KPI of the sample pack is restated here by hand and computed with DuckDB SQL
straight from the Parquet files. Nothing is imported from Canary and the spec files are
not read: if a spec, the engine or this file drifts, the comparison shows it.

    from oracle_sample import expected
    expected("revenue", grain="month", by="channel", tenant="acme")

returns a pandas DataFrame with columns `period` (UTC timestamps), the `by` column(s) if
any, and `value` (float64; NaN where the KPI is NULL), sorted by period then dimensions.

Semantics (the contract the engine is checked against):

* Time is UTC. `period` = date_trunc(grain, time). Rows of a tenant-scoped product (and of
  every tenant-scoped product joined to it) are restricted to the tenant before anything
  else. Joins to dimension products are many-to-one LEFT JOINs.
* simple: the measure's aggregate over the rows where the KPI filter holds
  (`agg(x) FILTER (WHERE filter)`), one row per (period, dims) group that has any row of
  the product; `count` without an expression counts rows; `percentile` is continuous
  (quantile_cont), `percentile_disc` the smallest value v with share(values <= v) >= p
  (quantile_disc), `median` continuous, all over values cast to DOUBLE; `sum_boolean`
  sums true as 1.
* ratio: CAST(numerator AS DOUBLE) / NULLIF(denominator, 0).
* derived: the expression over its inputs in doubles; an input with an offset takes its
  value from the period `offset` earlier (`1 period` = one grain step), NULL when missing.
  Output rows: the groups of the inputs read without an offset.
* cumulative: for every period from the one of the product's earliest row to the one of
  its latest row, aggregate the rows with t < period_end (all-time), or
  period_end - window <= t < period_end (trailing window), or
  date_trunc(G, period) <= t < period_end (grain-to-date G). A (period, dims) pair is
  output when at least one row of the product falls in its window.
* conversion: opportunities = the base measure over the base rows (base filter applied)
  by the base row's period and dims. Each conversion row (conversion filter applied) is
  matched to the latest base row of the same entity with base_t <= conv_t < base_t +
  window; conversions = the conversion measure over the matched rows, grouped by the
  matched base row's period and dims (NULL where none). rate = conversions / NULLIF(opportunities, 0).
  Output rows: the groups with opportunities.
* semi-additive (last/first): within each (period, dims, per-entities) group keep the rows
  whose snapshot time is the group's max (last) or min (first), then aggregate.

Run `python tests/oracle/oracle_sample.py KPI [--grain month] [--by channel] [--tenant acme]`
to print one KPI.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "examples" / "retail" / "data"

GRAINS = ("hour", "day", "week", "month", "quarter", "year")

# --------------------------------------------------------------------------------------
# The rows of each product, with the columns of the products it reaches through
# many-to-one joins. `t` is the product's time as a naive UTC TIMESTAMP.
# `{tenant}` is replaced by a condition on tenant_id (or TRUE).
# --------------------------------------------------------------------------------------

ORDERS_ROWS = """
SELECT
    o.order_id, o.customer_id, o.product_id, o.store_id, o.channel, o.status,
    o.quantity, o.unit_price, o.discount,
    make_timestamp(epoch_us(o.ordered_at)) AS t,     -- TIMESTAMPTZ -> naive UTC
    CASE WHEN o.quantity >= 3 THEN 'multi' ELSE 'single' END AS basket_size,
    CASE WHEN coalesce(o.discount, 0) > 0 THEN 'promotion' ELSE 'full_price' END AS pricing,
    c.segment, r.region, r.country,
    p.category, p.brand, s.store_type, s.store_name
FROM (SELECT * FROM read_parquet('{data}/orders/*/*.parquet', hive_partitioning = true)
      WHERE {tenant}) AS o
LEFT JOIN (SELECT * FROM read_parquet('{data}/customers.parquet') WHERE {tenant}) AS c
       ON o.customer_id = c.customer_id
LEFT JOIN read_parquet('{data}/regions.parquet') AS r ON c.region_id = r.region_id
LEFT JOIN read_parquet('{data}/catalog.parquet') AS p ON o.product_id = p.product_id
LEFT JOIN (SELECT * FROM read_parquet('{data}/stores.parquet') WHERE {tenant}) AS s
       ON o.store_id = s.store_id
"""

SESSIONS_ROWS = """
SELECT
    x.session_id, x.customer_id, x.channel,
    x.started_at AS t,                                -- already naive UTC
    c.segment, r.region, r.country
FROM (SELECT * FROM read_parquet('{data}/sessions/*.parquet') WHERE {tenant}) AS x
LEFT JOIN (SELECT * FROM read_parquet('{data}/customers.parquet') WHERE {tenant}) AS c
       ON x.customer_id = c.customer_id
LEFT JOIN read_parquet('{data}/regions.parquet') AS r ON c.region_id = r.region_id
"""

BALANCES_ROWS = """
SELECT
    b.customer_id, b.balance,
    CAST(b.snapshot_date AS TIMESTAMP) AS t,          -- midnight UTC
    c.segment, r.region, r.country
FROM (SELECT * FROM read_parquet('{data}/balances/*.parquet') WHERE {tenant}) AS b
LEFT JOIN (SELECT * FROM read_parquet('{data}/customers.parquet') WHERE {tenant}) AS c
       ON b.customer_id = c.customer_id
LEFT JOIN read_parquet('{data}/regions.parquet') AS r ON c.region_id = r.region_id
"""

CUSTOMERS_ROWS = """
SELECT
    c.customer_id, c.segment,
    CAST(c.signup_date AS TIMESTAMP) AS t,
    r.region, r.country
FROM (SELECT * FROM read_parquet('{data}/customers.parquet') WHERE {tenant}) AS c
LEFT JOIN read_parquet('{data}/regions.parquet') AS r ON c.region_id = r.region_id
"""

PRODUCTS = {
    "orders": (
        ORDERS_ROWS,
        {
            "channel",
            "status",
            "basket_size",
            "pricing",
            "segment",
            "region",
            "country",
            "category",
            "brand",
            "store_type",
            "store_name",
        },
    ),
    "sessions": (SESSIONS_ROWS, {"channel", "segment", "region", "country"}),
    "balances": (BALANCES_ROWS, {"segment", "region", "country"}),
    "customers": (CUSTOMERS_ROWS, {"segment", "region", "country"}),
}

# Qualified dimension names accepted for `by`, mapped to the column above.
QUALIFIED = {
    "orders.channel": "channel",
    "orders.status": "status",
    "orders.basket_size": "basket_size",
    "orders.pricing": "pricing",
    "sessions.channel": "channel",
    "customers.segment": "segment",
    "regions.region": "region",
    "regions.country": "country",
    "catalog.category": "category",
    "catalog.brand": "brand",
    "stores.store_type": "store_type",
    "stores.store_name": "store_name",
}

# --------------------------------------------------------------------------------------
# The KPI pack, restated.
# --------------------------------------------------------------------------------------

NET = "quantity * unit_price * (1 - coalesce(discount, 0))"
COMPLETED = "status = 'completed'"


@dataclass(frozen=True)
class M:
    """A measure of a product with an optional KPI filter: agg(expr) FILTER (WHERE filter)."""

    product: str
    agg: str  # sum, count, count_distinct, avg, min, max, sum_boolean, percentile, percentile_disc, median
    expr: str | None = None
    filter: str | None = None
    p: float | None = None


@dataclass(frozen=True)
class Simple:
    m: M


@dataclass(frozen=True)
class Ratio:
    num: M
    den: M


@dataclass(frozen=True)
class Cumulative:
    m: M
    window: tuple[int, str] | None = None  # trailing (count, unit)
    to_date: str | None = None  # grain-to-date


@dataclass(frozen=True)
class Conversion:
    base: M
    conv: M
    entity_column: str
    window_days: int
    rate: bool = True


@dataclass(frozen=True)
class SemiAdditive:
    m: M
    last: bool = True
    per: tuple[str, ...] = ()


@dataclass(frozen=True)
class Derived:
    fn: Callable[[dict], pd.Series]
    # name -> (kpi id, offset) with offset None, "period" (1 grain step) or (count, unit)
    inputs: dict = field(default_factory=dict)


def nullif0(s: pd.Series) -> pd.Series:
    return s.where(s != 0)


KPIS: dict[str, object] = {
    # --- sales -------------------------------------------------------------------------
    "revenue": Simple(M("orders", "sum", NET, COMPLETED)),
    "gross_sales": Simple(M("orders", "sum", "quantity * unit_price", "status <> 'cancelled'")),
    "completed_orders": Simple(M("orders", "count", None, COMPLETED)),
    "units_sold": Simple(M("orders", "sum", "quantity", COMPLETED)),
    "avg_order_value": Simple(M("orders", "avg", NET, COMPLETED)),
    "p90_basket_value": Simple(M("orders", "percentile", NET, COMPLETED, 0.9)),
    "median_quantity": Simple(M("orders", "percentile_disc", "quantity", COMPLETED, 0.5)),
    "median_unit_price": Simple(M("orders", "median", "unit_price", COMPLETED)),
    "largest_order": Simple(M("orders", "max", NET, COMPLETED)),
    "lowest_unit_price": Simple(M("orders", "min", "unit_price", COMPLETED)),
    "promo_orders": Simple(M("orders", "sum_boolean", "coalesce(discount, 0) > 0", "status <> 'cancelled'")),
    "avg_discount": Simple(M("orders", "avg", "discount")),
    "return_rate": Ratio(
        M("orders", "count", None, "status = 'returned'"),
        M("orders", "count", None, "status IN ('completed', 'returned')"),
    ),
    "cancellation_rate": Ratio(
        M("orders", "count", None, "status = 'cancelled'"),
        M("orders", "count"),
    ),
    "business_revenue_share": Ratio(
        M("orders", "sum", NET, "status = 'completed' AND segment = 'business'"),
        M("orders", "sum", NET, COMPLETED),
    ),
    "us_revenue": Simple(M("orders", "sum", NET, "status = 'completed' AND country = 'US'")),
    "app_order_share": Ratio(
        M("orders", "count", None, "channel = 'app'"),
        M("orders", "count"),
    ),
    # --- customers ---------------------------------------------------------------------
    "active_customers": Simple(M("orders", "count_distinct", "customer_id", COMPLETED)),
    "active_customers_3m": Cumulative(M("orders", "count_distinct", "customer_id", COMPLETED), window=(3, "month")),
    "revenue_per_active_customer": Derived(
        lambda v: v["revenue"] / v["active_customers"],
        {"revenue": ("revenue", None), "active_customers": ("active_customers", None)},
    ),
    "new_customers": Simple(M("customers", "count")),
    # --- growth ------------------------------------------------------------------------
    "aov": Derived(
        lambda v: v["revenue"] / v["completed_orders"],
        {"revenue": ("revenue", None), "completed_orders": ("completed_orders", None)},
    ),
    "revenue_mom_growth": Derived(
        lambda v: 100 * (v["revenue"] - v["previous"]) / nullif0(v["previous"]),
        {"revenue": ("revenue", None), "previous": ("revenue", "period")},
    ),
    "revenue_yoy_growth": Derived(
        lambda v: 100 * (v["revenue"] - v["last_year"]) / nullif0(v["last_year"]),
        {"revenue": ("revenue", None), "last_year": ("revenue", (1, "year"))},
    ),
    "return_rate_change": Derived(
        lambda v: 100 * (v["return_rate"] - v["previous"]),
        {"return_rate": ("return_rate", None), "previous": ("return_rate", "period")},
    ),
    "revenue_all_time": Cumulative(M("orders", "sum", NET, COMPLETED)),
    "revenue_trailing_3m": Cumulative(M("orders", "sum", NET, COMPLETED), window=(3, "month")),
    "revenue_ytd": Cumulative(M("orders", "sum", NET, COMPLETED), to_date="year"),
    "orders_mtd": Cumulative(M("orders", "count", None, COMPLETED), to_date="month"),
    # --- funnel ------------------------------------------------------------------------
    "visits": Simple(M("sessions", "count")),
    "session_conversion_rate": Conversion(
        M("sessions", "count"), M("orders", "count", None, "channel IN ('web', 'app')"), "customer_id", 7
    ),
    "session_conversions": Conversion(
        M("sessions", "count"),
        M("orders", "count", None, "channel IN ('web', 'app')"),
        "customer_id",
        7,
        rate=False,
    ),
    "orders_per_visitor": Ratio(
        M("orders", "count", None, "channel IN ('web', 'app') AND status <> 'cancelled'"),
        M("sessions", "count_distinct", "customer_id"),
    ),
    # --- loyalty -----------------------------------------------------------------------
    "closing_loyalty_balance": SemiAdditive(M("balances", "sum", "balance"), last=True, per=("customer_id",)),
    "opening_loyalty_balance": SemiAdditive(M("balances", "sum", "balance"), last=False, per=("customer_id",)),
    "loyalty_balance_at_period_end": SemiAdditive(M("balances", "sum", "balance"), last=True),
    "loyalty_balance_change": Derived(
        lambda v: v["closing_loyalty_balance"] - v["opening_loyalty_balance"],
        {
            "closing_loyalty_balance": ("closing_loyalty_balance", None),
            "opening_loyalty_balance": ("opening_loyalty_balance", None),
        },
    ),
    "loyalty_accounts": Simple(M("balances", "count_distinct", "customer_id")),
}

# --------------------------------------------------------------------------------------
# SQL building blocks.
# --------------------------------------------------------------------------------------

STEP = {"hour": "1 hour", "day": "1 day", "week": "7 days", "month": "1 month", "quarter": "3 months", "year": "1 year"}


def agg_sql(m: M, filter_sql: str | None = None) -> str:
    """`agg(expr) [FILTER (WHERE ...)]` for a measure; `filter_sql` overrides m.filter."""
    x = m.expr
    a = m.agg
    if a == "count":
        core = "count(*)" if x is None else f"count({x})"
    elif a == "count_distinct":
        core = f"count(DISTINCT {x})"
    elif a in ("sum", "avg", "min", "max"):
        core = f"{a}({x})"
    elif a == "sum_boolean":
        core = f"sum(CAST(({x}) AS BIGINT))"
    elif a == "percentile":
        core = f"quantile_cont(CAST(({x}) AS DOUBLE), {m.p!r})"
    elif a == "percentile_disc":
        core = f"quantile_disc(CAST(({x}) AS DOUBLE), {m.p!r})"
    elif a == "median":
        core = f"median(CAST(({x}) AS DOUBLE))"
    else:
        raise ValueError(f"unknown aggregation {a}")
    f = m.filter if filter_sql is None else filter_sql
    return core if f is None else f"{core} FILTER (WHERE {f})"


@functools.lru_cache(maxsize=1)
def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _rows(product: str, tenant: str | None) -> str:
    sql, _ = PRODUCTS[product]
    cond = "TRUE" if tenant is None else "tenant_id = '" + tenant.replace("'", "''") + "'"
    return "(" + sql.format(data=DATA.as_posix(), tenant=cond) + ")"


def _dims(product: str, by: list[str]) -> list[tuple[str, str]]:
    """(output name, column) for each `by` dimension, checked against the product's scope."""
    _, available = PRODUCTS[product]
    out = []
    for name in by:
        col = QUALIFIED.get(name, name)
        if col not in available:
            raise ValueError(f"unknown dimension `{name}` for product `{product}`")
        out.append((name, col))
    return out


def _query(sql: str, keys: list[str]) -> pd.DataFrame:
    df = _con().execute(sql).df()
    if "period" in df:
        df["period"] = pd.to_datetime(df["period"]).dt.tz_localize("UTC")
    if "value" in df:
        df["value"] = df["value"].astype("float64")
    return df[[*keys, "value"]]


def _select_keys(grain: str, dims: list[tuple[str, str]], t: str = "t") -> str:
    cols = [f"date_trunc('{grain}', {t}) AS period"]
    cols += [f'{col} AS "{name}"' for name, col in dims]
    return ", ".join(cols)


def plain_frame(m: M, grain: str, by: list[str], tenant: str | None) -> pd.DataFrame:
    """simple measure: one row per (period, dims) group of the product's rows."""
    dims = _dims(m.product, by)
    sql = f"""
        SELECT {_select_keys(grain, dims)}, {agg_sql(m)} AS value
        FROM {_rows(m.product, tenant)}
        GROUP BY ALL
    """
    return _query(sql, ["period", *by])


def cumulative_frame(k: Cumulative, grain: str, by: list[str], tenant: str | None) -> pd.DataFrame:
    m = k.m
    dims = _dims(m.product, by)
    if k.window is not None:
        n, unit = k.window
        lower = f"AND r.t >= s.period_end - INTERVAL '{n} {unit}'"
    elif k.to_date is not None:
        lower = f"AND r.t >= date_trunc('{k.to_date}', s.period)"
    else:
        lower = ""
    dim_cols = "".join(f', r.{col} AS "{name}"' for name, col in dims)
    sql = f"""
        WITH r AS (SELECT * FROM {_rows(m.product, tenant)}),
        spine AS (
            SELECT period, period + INTERVAL '{STEP[grain]}' AS period_end
            FROM (SELECT unnest(generate_series(date_trunc('{grain}', min(t)),
                                                date_trunc('{grain}', max(t)),
                                                INTERVAL '{STEP[grain]}')) AS period
                  FROM r)
        )
        SELECT s.period{dim_cols}, {agg_sql(m)} AS value
        FROM spine AS s
        JOIN r ON r.t < s.period_end {lower}
        GROUP BY ALL
    """
    return _query(sql, ["period", *by])


def semi_additive_frame(k: SemiAdditive, grain: str, by: list[str], tenant: str | None) -> pd.DataFrame:
    m = k.m
    dims = _dims(m.product, by)
    partition = ["period"] + [f'"{name}"' for name, _ in dims] + list(k.per)
    pick = "max" if k.last else "min"
    where = "" if m.filter is None else f"WHERE {m.filter}"
    group = ", ".join(["period"] + [f'"{name}"' for name, _ in dims])
    sql = f"""
        WITH r AS (
            SELECT {_select_keys(grain, dims)}, {", ".join(k.per) + "," if k.per else ""}
                   t AS snapshot, {m.expr} AS v
            FROM {_rows(m.product, tenant)}
            {where}
        ),
        picked AS (
            SELECT *, {pick}(snapshot) OVER (PARTITION BY {", ".join(partition)}) AS chosen
            FROM r
        )
        SELECT {group}, {agg_sql(M(m.product, m.agg, "v"))} AS value
        FROM picked
        WHERE snapshot = chosen
        GROUP BY ALL
    """
    return _query(sql, ["period", *by])


def conversion_frames(k: Conversion, grain: str, by: list[str], tenant: str | None):
    """(opportunities, conversions) frames, both by the base row's period and dims."""
    dims = _dims(k.base.product, by)
    _dims(k.conv.product, [])
    group = ", ".join(["period"] + [f'"{name}"' for name, _ in dims])
    base_where = "" if k.base.filter is None else f"WHERE {k.base.filter}"
    conv_where = "" if k.conv.filter is None else f"WHERE {k.conv.filter}"
    base_value = k.base.expr or "1"
    conv_value = k.conv.expr or "1"
    sql = f"""
        WITH base AS (
            SELECT {_select_keys(grain, dims)}, {k.entity_column} AS entity, t AS base_t,
                   {base_value} AS v
            FROM {_rows(k.base.product, tenant)}
            {base_where}
        ),
        conv AS (
            SELECT row_number() OVER () AS conv_id, {k.entity_column} AS entity, t AS conv_t,
                   {conv_value} AS v
            FROM {_rows(k.conv.product, tenant)}
            {conv_where}
        ),
        candidates AS (
            SELECT b.*, c.conv_id, c.v AS cv,
                   row_number() OVER (PARTITION BY c.conv_id ORDER BY b.base_t DESC) AS recency
            FROM conv AS c
            JOIN base AS b
              ON c.entity = b.entity
             AND c.conv_t >= b.base_t
             AND c.conv_t < b.base_t + INTERVAL '{k.window_days} days'
        ),
        opportunities AS (
            SELECT {group}, {agg_sql(M(k.base.product, k.base.agg, None if k.base.agg == "count" else "v"))} AS value
            FROM base GROUP BY ALL
        ),
        conversions AS (
            SELECT {group}, {agg_sql(M(k.conv.product, k.conv.agg, None if k.conv.agg == "count" else "cv"))} AS value
            FROM candidates WHERE recency = 1 GROUP BY ALL
        )
        SELECT 'opportunities' AS frame, * FROM opportunities
        UNION ALL BY NAME
        SELECT 'conversions' AS frame, * FROM conversions
    """
    df = _con().execute(sql).df()
    df["period"] = pd.to_datetime(df["period"]).dt.tz_localize("UTC")
    df["value"] = df["value"].astype("float64")
    keys = ["period", *by]
    opp = df[df["frame"] == "opportunities"][[*keys, "value"]].reset_index(drop=True)
    hits = df[df["frame"] == "conversions"][[*keys, "value"]].reset_index(drop=True)
    return opp, hits


# --------------------------------------------------------------------------------------
# Combining: leaves (frames) -> KPI values on the output rows.
# --------------------------------------------------------------------------------------


def _shift(df: pd.DataFrame, grain: str, offset) -> pd.DataFrame:
    if offset is None:
        return df
    if offset == "period":
        n, unit = 1, grain
    else:
        n, unit = offset
    unit = unit.rstrip("s")
    months = {"month": 1, "quarter": 3, "year": 12}
    if unit in months:
        delta = pd.DateOffset(months=n * months[unit])
    elif unit == "week":
        delta = pd.DateOffset(days=7 * n)
    elif unit == "day":
        delta = pd.DateOffset(days=n)
    else:
        delta = pd.DateOffset(hours=n)
    out = df.copy()
    out["period"] = out["period"] + delta
    return out


class _Eval:
    """Evaluates one KPI: collects the frames it reads, then its value on the output rows."""

    def __init__(self, grain: str, by: list[str], tenant: str | None):
        self.grain, self.by, self.tenant = grain, by, tenant
        self.keys = ["period", *by]
        self.cache: dict = {}
        self.anchors: list[pd.DataFrame] = []
        self.others: list[pd.DataFrame] = []

    def frame(self, key, build, anchor: bool) -> pd.DataFrame:
        if key not in self.cache:
            df = build()
            self.cache[key] = df
            (self.anchors if anchor else self.others).append(df[self.keys])
        return self.cache[key]

    def leaves(self, kpi_id: str, shifts: tuple) -> Callable[[pd.DataFrame], pd.Series]:
        """Register the frames of `kpi_id` read `shifts` earlier; return its evaluator."""
        k = KPIS[kpi_id]
        g, by, t = self.grain, self.by, self.tenant
        anchor = not shifts

        def shifted(df):
            for s in shifts:
                df = _shift(df, g, s)
            return df

        def lookup(frame: pd.DataFrame) -> Callable[[pd.DataFrame], pd.Series]:
            def at(rows: pd.DataFrame) -> pd.Series:
                return rows[self.keys].merge(frame, on=self.keys, how="left")["value"]

            return at

        if isinstance(k, Simple):
            f = self.frame((k.m, shifts), lambda: shifted(plain_frame(k.m, g, by, t)), anchor)
            return lookup(f)
        if isinstance(k, Ratio):
            n = self.frame((k.num, shifts), lambda: shifted(plain_frame(k.num, g, by, t)), anchor)
            d = self.frame((k.den, shifts), lambda: shifted(plain_frame(k.den, g, by, t)), anchor)
            return lambda rows: lookup(n)(rows) / nullif0(lookup(d)(rows))
        if isinstance(k, Cumulative):
            f = self.frame((k, shifts), lambda: shifted(cumulative_frame(k, g, by, t)), anchor)
            return lookup(f)
        if isinstance(k, SemiAdditive):
            f = self.frame((k, shifts), lambda: shifted(semi_additive_frame(k, g, by, t)), anchor)
            return lookup(f)
        if isinstance(k, Conversion):
            pair = self.cache.get((k, shifts, "pair"))
            if pair is None:
                opp, hits = conversion_frames(k, g, by, t)
                pair = (shifted(opp), shifted(hits))
                self.cache[(k, shifts, "pair")] = pair
                (self.anchors if anchor else self.others).append(pair[0][self.keys])
                self.others.append(pair[1][self.keys])
            opp, hits = pair

            def conv(rows):
                h = lookup(hits)(rows)
                return h / nullif0(lookup(opp)(rows)) if k.rate else h

            return conv
        if isinstance(k, Derived):
            parts = {
                name: self.leaves(kid, shifts + ((offset,) if offset is not None else ()))
                for name, (kid, offset) in k.inputs.items()
            }
            return lambda rows: k.fn({name: p(rows).astype("float64") for name, p in parts.items()})
        raise TypeError(kpi_id)

    def rows(self) -> pd.DataFrame:
        frames = self.anchors or self.others
        rows = pd.concat(frames, ignore_index=True).drop_duplicates()
        return rows.sort_values(self.keys, na_position="last").reset_index(drop=True)


def expected(kpi_id: str, grain: str = "month", by=None, tenant: str | None = None) -> pd.DataFrame:
    """Expected values of `kpi_id` at `grain`, drilled down by `by` (a name or a list)."""
    if kpi_id not in KPIS:
        raise KeyError(f"unknown KPI `{kpi_id}`")
    if grain not in GRAINS:
        raise ValueError(f"unknown grain `{grain}`")
    by_list = [] if by is None else ([by] if isinstance(by, str) else list(by))
    ev = _Eval(grain, by_list, tenant)
    value = ev.leaves(kpi_id, ())
    rows = ev.rows()
    out = rows.copy()
    out["value"] = np.asarray(value(rows), dtype="float64")
    return out


def kpi_ids() -> list[str]:
    return list(KPIS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kpi", nargs="?", help="KPI id (default: list the ids)")
    ap.add_argument("--grain", default="month", choices=GRAINS)
    ap.add_argument("--by", action="append")
    ap.add_argument("--tenant")
    args = ap.parse_args()
    if not args.kpi:
        print("\n".join(kpi_ids()))
        return
    with pd.option_context("display.max_rows", 500, "display.width", 160):
        print(expected(args.kpi, args.grain, args.by, args.tenant))


if __name__ == "__main__":
    main()
