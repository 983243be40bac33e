"""The shared MetricFlow suite judged by DuckDB: each case's Jinja `check_query` rendered in
DuckDB's dialect and run on DuckDB over the suite's table snapshots (loaded from their YAML,
not from Canary's Parquet), compared with Canary's answer (`canary.mf_query`).

`canary-conformance` judges the same cases with the check queries run by DataFusion, the
engine Canary itself is built on; a slip shared by DataFusion and Canary would pass there
and shows here.

    python tests/mf_diff/suite_duckdb.py [--filter TEXT] [--verbose]

Nothing here comes from MetricFlow's test code: the helpers below implement the contract the
suite's README states, in DuckDB SQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402
from oracle import SCHEMA, load_snapshots  # noqa: E402

MODELS = {
    "SIMPLE_MODEL": "simple_manifest",
    "SIMPLE_MODEL_NON_DS": "non_sm_manifest",
    "UNPARTITIONED_MULTI_HOP_JOIN_MODEL": "multi_hop_join_manifest",
    "PARTITIONED_MULTI_HOP_JOIN_MODEL": "partitioned_multi_hop_join_manifest",
    "EXTENDED_DATE_MODEL": "extended_date_manifest",
    "SCD_MODEL": "scd_manifest",
}
GRAINS = [
    *("nanosecond", "microsecond", "millisecond", "second", "minute", "hour"),
    *("day", "week", "month", "quarter", "year"),
]
DATE_PARTS = ["year", "quarter", "month", "week", "day", "dow", "doy"]
#: DuckDB has no approximate discrete percentile: upstream skips these cases on DuckDB too.
UNSUPPORTED = {"APPROXIMATE_DISCRETE_PERCENTILE_AGGREGATION"}


class Member:
    """`TimeGranularity.WEEK` / `DatePart.DOW` as the templates use them."""

    def __init__(self, name: str) -> None:
        self.name = name.upper()
        self.value = name


def enumeration(values: list[str]) -> dict[str, Member]:
    return {v.upper(): Member(v) for v in values}


def member(value: Any) -> str:
    return (value.value if isinstance(value, Member) else str(value)).lower()


def cast_to_ts(string_literal: str) -> str:
    return f"CAST('{string_literal}' AS TIMESTAMP)"


def render_time_constraint(expr: str, start_time: str | None = None, stop_time: str | None = None) -> str:
    """Start inclusive; a date-only stop includes that whole day, a timestamp stop that second."""
    parts = []
    if start_time:
        parts.append(f"CAST({expr} AS TIMESTAMP) >= {cast_to_ts(start_time)}")
    if stop_time:
        if len(stop_time) == 10:
            end = (dt.date.fromisoformat(stop_time) + dt.timedelta(days=1)).isoformat()
        else:
            sep = "T" if "T" in stop_time else " "
            end = (dt.datetime.fromisoformat(stop_time) + dt.timedelta(seconds=1)).isoformat(sep=sep)
        parts.append(f"CAST({expr} AS TIMESTAMP) < {cast_to_ts(end)}")
    if not parts:
        raise ValueError("render_time_constraint: give start_time or stop_time")
    return " AND ".join(parts)


def render_date_trunc(expr: str, granularity: Any) -> str:
    return f"DATE_TRUNC('{member(granularity)}', CAST({expr} AS TIMESTAMP))"


def _unit(granularity: Any) -> tuple[int, str]:
    g = member(granularity)
    return {"week": (7, "DAY"), "quarter": (3, "MONTH")}.get(g, (1, g.upper()))


def render_date_sub(table_alias: str, column_alias: str, count: int, granularity: Any) -> str:
    times, unit = _unit(granularity)
    return f"({table_alias}.{column_alias} - INTERVAL ({count * times}) {unit})"


def render_date_add(date_column: str, count_column: str, granularity: Any) -> str:
    times, unit = _unit(granularity)
    return f"(CAST({date_column} AS TIMESTAMP) + INTERVAL (CAST(({count_column}) AS BIGINT) * {times}) {unit})"


def render_extract(expr: str, date_part: Any) -> str:
    part = {"dow": "isodow"}.get(member(date_part), member(date_part))
    return f"EXTRACT({part} FROM CAST({expr} AS TIMESTAMP))"


def render_percentile_expr(
    expr: str, percentile: float, use_discrete_percentile: bool, use_approximate_percentile: bool
) -> str:
    if use_approximate_percentile:
        if use_discrete_percentile:
            raise ValueError("DuckDB has no approximate discrete percentile")
        return f"approx_quantile({expr}, {percentile})"
    kind = "percentile_disc" if use_discrete_percentile else "percentile_cont"
    return f"{kind}({percentile}) WITHIN GROUP (ORDER BY {expr})"


def _seq(value: Any) -> str:
    if not value:
        return "()"
    if isinstance(value, str):
        return repr(value)
    return "[" + ", ".join(repr(v) for v in value) + "]"


def time_dimension_template(
    time_dimension_name: str, time_granularity: str | None = None, entity_path: Any = ()
) -> str:
    grain = f"'{time_granularity}', " if time_granularity else ""
    return f"{{{{ TimeDimension('{time_dimension_name}', {grain}entity_path={_seq(entity_path)}) }}}}"


def environment(with_templates: bool) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals.update(
        source_schema=SCHEMA,
        mf_time_spine_source=f"{SCHEMA}.mf_time_spine",
        double_data_type_name="DOUBLE",
        TimeGranularity=enumeration(GRAINS),
        DatePart=enumeration(DATE_PARTS),
        cast_to_ts=cast_to_ts,
        render_time_constraint=render_time_constraint,
        render_date_trunc=render_date_trunc,
        render_date_sub=render_date_sub,
        render_date_add=render_date_add,
        render_extract=render_extract,
        render_percentile_expr=render_percentile_expr,
        generate_random_uuid=lambda: "uuid()",
    )
    if with_templates:
        env.globals.update(
            render_dimension_template=lambda dimension_name, entity_path=(): (
                f"{{{{ Dimension('{dimension_name}', entity_path={_seq(entity_path)}) }}}}"
            ),
            render_entity_template=lambda entity_name, entity_path=(): (
                f"{{{{ Entity('{entity_name}', entity_path={_seq(entity_path)}) }}}}"
            ),
            render_metric_template=lambda metric_name, group_by=(): (
                f"{{{{ Metric('{metric_name}', group_by={_seq(group_by)}) }}}}"
            ),
            render_time_dimension_template=time_dimension_template,
        )
    return env


@dataclass
class Result:
    case: str
    outcome: str  # pass, fail, skip
    reason: str = ""


def cases(suite: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for f in sorted((suite / "test_cases").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc and "integration_test" in doc:
                case = doc["integration_test"]
                out.append((f"{f.name}::{case['name']}", case))
    return out


def group_bys(case: dict[str, Any]) -> list[str]:
    names = list(case.get("group_bys") or [])
    for obj in case.get("group_by_objs") or []:
        if obj.get("date_part"):
            names.append(f"{obj['name']}__extract_{obj['date_part']}")
        elif obj.get("grain"):
            names.append(f"{obj['name']}__{obj['grain']}")
        else:
            names.append(obj["name"])
    return names


def ask_canary(case: dict[str, Any], where: str | None) -> run.Answer:
    import canary

    start, end = (case.get("time_constraint") or [None, None])[:2]
    try:
        res = canary.mf_query(
            run.SUITE / "semantic_manifest_yamls" / MODELS[case["model"]],
            run.DATA,
            metrics=case.get("metrics") or [],
            group_by=group_bys(case),
            where=[where] if where else [],
            order_by=case.get("order_bys") or [],
            limit=case.get("limit"),
            start_time=start,
            end_time=end,
            saved_query=case.get("saved_query_name"),
            min_max_only=bool(case.get("min_max_only")),
            apply_group_by=case.get("apply_group_by", True) is not False,
        )
    except Exception as e:
        return run.Answer(error=f"{type(e).__name__}: {' '.join(str(e).split())}"[:600])
    table = res.to_arrow()
    rows = [tuple(run.norm(v) for v in r.values()) for r in table.to_pylist()]
    return run.Answer([c.lower() for c in table.column_names], rows)


def judge(case: dict[str, Any], expected: run.Answer, actual: run.Answer) -> str | None:
    """None when they agree, else why not (the suite's comparison)."""
    if actual.error is not None:
        return f"canary: {actual.error}"
    exp_cols, act_cols = expected.columns or [], actual.columns or []
    if sorted(exp_cols) != sorted(act_cols):
        return f"columns differ: expected {exp_cols}, got {act_cols}"
    ordered = bool(case.get("check_order"))
    if ordered and exp_cols != act_cols:
        return f"column order differs: expected {exp_cols}, got {act_cols}"
    if not case.get("allow_empty") and not expected.rows:
        return "the expected result is empty and the case does not set allow_empty"
    idx = [act_cols.index(c) for c in exp_cols]
    rows = [tuple(r[i] for i in idx) for r in actual.rows or []]
    if run.same_rows(expected.rows or [], rows, ordered):
        return None
    only_e, only_a = run.row_diff(expected.rows or [], rows)
    return (
        f"rows differ: {len(expected.rows or [])} expected, {len(rows)} got; "
        f"only expected {only_e[:3]}, only got {only_a[:3]}"
    )


def run_suite(only: str | None = None) -> list[Result]:
    conn = duckdb.connect()
    load_snapshots(conn, run.SUITE / "source_table_snapshots")
    checks, filters = environment(False), environment(True)
    results = []
    for name, case in cases(run.SUITE):
        if only and only not in name:
            continue
        missing = set(case.get("required_features") or []) & UNSUPPORTED
        if missing:
            results.append(Result(name, "skip", f"DuckDB cannot compute {sorted(missing)}"))
            continue
        try:
            sql = checks.from_string(case["check_query"]).render()
            cur = conn.execute(sql)
            expected = run.Answer(
                [d[0].lower() for d in cur.description], [tuple(run.norm(v) for v in r) for r in cur.fetchall()]
            )
            where = filters.from_string(case["where_filter"]).render() if case.get("where_filter") else None
        except Exception as e:
            results.append(Result(name, "fail", f"check query: {type(e).__name__}: {' '.join(str(e).split())[:300]}"))
            continue
        reason = judge(case, expected, ask_canary(case, where))
        results.append(Result(name, "pass" if reason is None else "fail", reason or ""))
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filter", help="only cases whose <file>::<name> contains this text")
    ap.add_argument("--verbose", action="store_true", help="also list passing and skipped cases")
    args = ap.parse_args()
    results = run_suite(args.filter)
    for r in results:
        if r.outcome == "fail" or args.verbose:
            print(f"{r.outcome.upper()} {r.case}: {r.reason}")
    n = {k: sum(r.outcome == k for r in results) for k in ("pass", "fail", "skip")}
    print(f"{n['pass']} passed, {n['fail']} failed, {n['skip']} skipped (check queries on DuckDB)")
    return 0 if n["fail"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
