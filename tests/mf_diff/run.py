"""Differential run: generated MetricFlow queries through MetricFlow itself (on DuckDB) and
through Canary (`canary.mf_query`, the wheel over `canary_core::mf`), row sets compared.

    python tests/mf_diff/run.py --queries 2000 --seed 1 [--manifest simple_manifest] [--report out.json]

Outcomes per query:
  agree            both answered, same columns and rows (floats within 1e-6 relative)
  disagree         both answered, different answers
  canary_error     MetricFlow answered, Canary refused or failed
  both_refuse      MetricFlow refused the query and so did Canary
  canary_only      MetricFlow refused the query, Canary answered it
  known_mf_bug     a disagreement listed in mf_bugs.yaml (MetricFlow's answer is wrong)
Agreement is agree / (agree + disagree + canary_error): over the queries MetricFlow answers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import Generator, Query, Space  # noqa: E402
from oracle import Oracle  # noqa: E402

ROOT = HERE.parents[1]
SUITE = ROOT.parent / "shared" / "conformance" / "metricflow"
DATA = ROOT / "target" / "conformance-data"
REL_TOL = 1e-6
# Manifests MetricFlow itself refuses to load are not queried (reported, not hidden).
WEIGHTS = {"simple_manifest": 12, "extended_date_manifest": 3, "partitioned_multi_hop_join_manifest": 2}


def norm(v: Any) -> Any:
    """One representation per value: numbers as float, instants as naive datetimes."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float | Decimal):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None) if v.tzinfo is None else v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return v


def sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for v in row:
        if v is None:
            out.append((0, ""))
        elif isinstance(v, float):
            out.append((1, f"{v:.5e}"))
        else:
            out.append((2, str(v)))
    return tuple(out)


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))
    return a == b


def row_diff(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows of `a` without a match in `b`, and of `b` without one in `a` (multisets): rows are
    matched within buckets of equal `sort_key`, so the cost stays near linear."""
    buckets: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for y in b:
        buckets[sort_key(y)].append(y)
    only_a = []
    for x in a:
        bucket = buckets.get(sort_key(x), [])
        hit = next((i for i, y in enumerate(bucket) if len(x) == len(y) and all(map(same_value, x, y))), None)
        if hit is None:
            only_a.append(x)
        else:
            bucket.pop(hit)
    rest = [y for bucket in buckets.values() for y in bucket]
    return sorted(only_a, key=sort_key), sorted(rest, key=sort_key)


def same_rows(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], ordered: bool) -> bool:
    if len(a) != len(b):
        return False
    if not ordered:
        a, b = sorted(a, key=sort_key), sorted(b, key=sort_key)
    return all(
        len(x) == len(y) and all(same_value(p, q) for p, q in zip(x, y, strict=True)) for x, y in zip(a, b, strict=True)
    )


@dataclass
class Answer:
    columns: list[str] | None = None
    rows: list[tuple[Any, ...]] | None = None
    error: str | None = None
    sql: str = ""


def ask_metricflow(oracle: Oracle, q: Query) -> Answer:
    try:
        cols, rows, sql = oracle.query(
            q.manifest,
            q.metrics,
            q.group_by,
            q.where,
            q.order_by,
            q.limit,
            q.start,
            q.end,
            q.saved_query,
            q.apply_group_by,
        )
    except Exception as e:  # MetricFlow refuses with many exception types
        return Answer(error=f"{type(e).__name__}: {' '.join(str(e).split())}"[:1500])
    return Answer([c.lower() for c in cols], [tuple(norm(v) for v in r) for r in rows], sql=sql)


def ask_canary(q: Query) -> Answer:
    import canary

    def iso(t: dt.datetime | None) -> str | None:
        return None if t is None else t.isoformat()

    try:
        res = canary.mf_query(
            SUITE / "semantic_manifest_yamls" / q.manifest,
            DATA,
            metrics=q.metrics,
            group_by=q.group_by,
            where=q.where,
            order_by=q.order_by,
            limit=q.limit,
            start_time=iso(q.start),
            end_time=iso(q.end),
            saved_query=q.saved_query,
            apply_group_by=q.apply_group_by,
        )
    except Exception as e:
        return Answer(error=f"{type(e).__name__}: {' '.join(str(e).split())}"[:1500])
    table = res.to_arrow()
    rows = [tuple(norm(v) for v in r.values()) for r in table.to_pylist()]
    return Answer([c.lower() for c in table.column_names], rows)


def shown(a: Answer) -> dict[str, Any]:
    return {"columns": a.columns, "rows": [list(map(str, r)) for r in (a.rows or [])[:20]]}


def cli_line(q: Query) -> str:
    """The same query as a `canary mf query` command line: the reproduction on Canary's side."""
    args = ["canary mf query", f"--manifest ../shared/conformance/metricflow/semantic_manifest_yamls/{q.manifest}"]
    args.append("--data target/conformance-data")
    if q.saved_query:
        args.append(f"--saved-query {q.saved_query}")
    if q.metrics:
        args.append("--metrics " + ",".join(q.metrics))
    if q.group_by:
        args.append("--group-by " + ",".join(q.group_by))
    for w in q.where:
        args.append("--where " + json.dumps(w))
    for o in q.order_by:
        args.append(f"--order-by={o}")
    if q.limit is not None:
        args.append(f"--limit {q.limit}")
    if q.start:
        args.append(f"--start-time {q.start.isoformat()} --end-time {q.end.isoformat() if q.end else ''}")
    if not q.apply_group_by:
        args.append("--no-dedupe")
    return " ".join(args)


def load_known(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return list(yaml.safe_load(path.read_text()) or [])


def spine_join_on_every_time_column(sql: str, q: Query) -> str | None:
    """MetricFlow's SQL with each time-spine join made on every `metric_time` group-by.

    MetricFlow joins the spine to a metric's rows on one `metric_time` column only, so with
    two (`metric_time__week` and `metric_time__quarter`) a week across two quarters gets the
    week's value in each, and a date part pair (`extract_quarter`, `extract_doy`) gets the
    quarter's value on every day. `None` when no such join is in the SQL."""
    times = [g for g in q.group_by if g.startswith("metric_time__")]
    if len(times) < 2 or "Join to Time Spine Dataset" not in sql:
        return None
    on = re.compile(r"ON\n(\s+)(subq_\d+)\.(metric_time__\w+) = (subq_\d+)\.(metric_time__\w+)\n")

    def every_column(m: re.Match[str]) -> str:
        indent, a, x, b, y = m.groups()
        if x != y or x not in times:
            return m.group(0)
        return m.group(0) + "".join(f"{indent}AND {a}.{t} = {b}.{t}\n" for t in times if t != x)

    fixed = on.sub(every_column, sql)
    return fixed if fixed != sql else None


# Corrections of MetricFlow's SQL that `mf_bugs.yaml` entries name (`correction:`).
CORRECTIONS: dict[str, Callable[[str, Query], str | None]] = {
    "spine_join_on_every_time_column": spine_join_on_every_time_column,
}


def known_bug(
    known: list[dict[str, Any]],
    q: Query,
    mf: Answer | None = None,
    cn: Answer | None = None,
    run_sql: Callable[[str], tuple[list[str], list[tuple[Any, ...]]]] | None = None,
) -> dict[str, Any] | None:
    """The entry of `known` that explains a disagreement: by `match` (strings of the query's
    description), or by `correction` (MetricFlow's SQL, corrected and run again, gives
    Canary's answer: the evidence is checked on every run)."""
    text = q.describe()
    for k in known:
        if "match" in k and all(s in text for s in k["match"]):
            return k
        correct = CORRECTIONS.get(k.get("correction", ""))
        if correct is None or mf is None or cn is None or run_sql is None or cn.rows is None:
            continue
        fixed = correct(mf.sql, q)
        if fixed is None:
            continue
        try:
            cols, rows = run_sql(fixed)
        except Exception:  # a correction that does not run explains nothing
            continue
        corrected = Answer([c.lower() for c in cols], [tuple(norm(v) for v in r) for r in rows])
        if same_answer(q, corrected, cn):
            return k
    return None


def same_answer(q: Query, mf: Answer, cn: Answer) -> bool:
    # MetricFlow's column order is an artefact of its planner (custom grains first, say); the
    # suite compares names, so do we: Canary's columns are put in MetricFlow's order.
    if sorted(mf.columns or []) != sorted(cn.columns or []) or len(set(cn.columns or [])) != len(cn.columns or []):
        return False
    idx = [(cn.columns or []).index(c) for c in mf.columns or []]
    rows = [tuple(r[i] for i in idx) for r in cn.rows or []]
    return same_rows(mf.rows or [], rows, bool(q.order_by))


def judge(
    q: Query,
    mf: Answer,
    cn: Answer,
    known: list[dict[str, Any]],
    run_sql: Callable[[str], tuple[list[str], list[tuple[Any, ...]]]] | None = None,
) -> str:
    if mf.error is not None:
        return "both_refuse" if cn.error is not None else "canary_only"
    if cn.error is not None:
        return "canary_error"
    if same_answer(q, mf, cn):
        return "agree"
    return "known_mf_bug" if known_bug(known, q, mf, cn, run_sql) else "disagree"


def manifests(oracle: Oracle, only: list[str]) -> dict[str, Space]:
    out = {}
    for m in sorted(os.listdir(SUITE / "semantic_manifest_yamls")):
        if m == "shared" or (only and m not in only):
            continue
        try:
            out[m] = Space(oracle, m)
        except Exception as e:
            print(f"skip manifest {m}: MetricFlow cannot load it ({str(e).splitlines()[0][:120]})", file=sys.stderr)
    return out


def run(n: int, seed: int, only: list[str], show: int, report: Path | None) -> dict[str, Any]:
    oracle = Oracle(SUITE)
    spaces = manifests(oracle, only)
    known = load_known(HERE / "mf_bugs.yaml")
    names = sorted(spaces)
    weights = [WEIGHTS.get(m, 1) for m in names]
    gens = {m: Generator(spaces[m], seed * 1000 + i) for i, m in enumerate(names)}
    import random

    pick = random.Random(seed)
    outcomes: Counter[str] = Counter()
    by_tag: dict[str, Counter[str]] = defaultdict(Counter)
    failures = []
    spent: Counter[str] = Counter()
    slowest: list[tuple[float, float, float, str]] = []
    started = time.monotonic()
    for i in range(n):
        m = pick.choices(names, weights)[0]
        q = gens[m].query()
        t0 = time.monotonic()
        mf = ask_metricflow(oracle, q)
        t1 = time.monotonic()
        cn = ask_canary(q)
        t2 = time.monotonic()
        spent["metricflow"] += t1 - t0
        spent["canary"] += t2 - t1
        slowest.append((t2 - t0, round(t1 - t0, 2), round(t2 - t1, 2), q.describe()))
        slowest = sorted(slowest, reverse=True)[:5]
        verdict = judge(q, mf, cn, known, oracle.run_sql)
        outcomes[verdict] += 1
        for t in [*sorted(q.tags), f"manifest:{m}"]:
            by_tag[t][verdict] += 1
        diff: dict[str, Any] = {}
        if verdict == "disagree" and sorted(mf.columns or []) == sorted(cn.columns or []):
            idx = [(cn.columns or []).index(c) for c in mf.columns or []]
            only_mf, only_cn = row_diff(mf.rows or [], [tuple(r[i] for i in idx) for r in cn.rows or []])
            diff = {
                "rows": [len(mf.rows or []), len(cn.rows or [])],
                "only_metricflow": [list(map(str, r)) for r in only_mf[:12]],
                "only_canary": [list(map(str, r)) for r in only_cn[:12]],
            }
        if verdict in ("disagree", "canary_error", "canary_only"):
            failures.append(
                {
                    "i": i,
                    "verdict": verdict,
                    "query": q.describe(),
                    "tags": sorted(q.tags),
                    "metricflow": mf.error
                    or {"columns": mf.columns, "rows": [list(map(str, r)) for r in (mf.rows or [])[:20]]},
                    "canary": cn.error
                    or {"columns": cn.columns, "rows": [list(map(str, r)) for r in (cn.rows or [])[:20]]},
                    "metricflow_sql": mf.sql,
                    "canary_cli": cli_line(q),
                    # The query as regression cases hold it (`query_of` reads it back).
                    "as_case": as_case(q),
                    **diff,
                }
            )
    elapsed = time.monotonic() - started
    answered = outcomes["agree"] + outcomes["disagree"] + outcomes["canary_error"]
    summary = {
        "queries": n,
        "seed": seed,
        "seconds": round(elapsed, 1),
        "outcomes": dict(outcomes),
        "seconds_metricflow": round(spent["metricflow"], 1),
        "seconds_canary": round(spent["canary"], 1),
        "slowest": [{"metricflow": s[1], "canary": s[2], "query": s[3]} for s in slowest],
        "agreement": round(outcomes["agree"] / answered, 4) if answered else None,
        "by_tag": {t: dict(c) for t, c in sorted(by_tag.items())},
    }
    print(f"time: MetricFlow {spent['metricflow']:.0f} s, Canary {spent['canary']:.0f} s")
    print(f"{n} queries in {elapsed:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    if answered:
        print(
            f"agreement where MetricFlow answers: {outcomes['agree']}/{answered} = {outcomes['agree'] / answered:.2%}"
        )
    for f in failures[:show]:
        print(f"\n--- {f['verdict']} #{f['i']}: {f['query']}")
        print(f"  MetricFlow: {json.dumps(f['metricflow'])[:600]}")
        print(f"  Canary:     {json.dumps(f['canary'])[:600]}")
        if "rows" in f:
            print(f"  rows {f['rows']}; only MetricFlow {f['only_metricflow'][:5]}; only Canary {f['only_canary'][:5]}")
        print(f"  reproduce:  {f['canary_cli']}")
    if report:
        report.write_text(json.dumps({"summary": summary, "failures": failures}, indent=1, default=str))
    summary["failures"] = failures
    return summary


def tag_table(summary: dict[str, Any]) -> str:
    """Agreement per metric type and per feature class, as a Markdown table."""
    lines = ["| class | queries | MetricFlow answers | agree | agreement | Canary refuses too | Canary answers |"]
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for tag, c in summary["by_tag"].items():
        answered = c.get("agree", 0) + c.get("disagree", 0) + c.get("canary_error", 0)
        rate = f"{c.get('agree', 0) / answered:.1%}" if answered else "-"
        total = sum(c.values())
        lines.append(
            f"| {tag} | {total} | {answered} | {c.get('agree', 0)} | {rate} | "
            f"{c.get('both_refuse', 0)} | {c.get('canary_only', 0)} |"
        )
    return "\n".join(lines)


def query_of(d: dict[str, Any]) -> Query:
    q = Query(d["manifest"])
    for k in ("metrics", "group_by", "where", "order_by"):
        setattr(q, k, list(d.get(k) or []))
    q.limit = d.get("limit")
    q.saved_query = d.get("saved_query")
    q.apply_group_by = d.get("apply_group_by", True)
    q.start = dt.datetime.fromisoformat(d["start"]) if d.get("start") else None
    q.end = dt.datetime.fromisoformat(d["end"]) if d.get("end") else None
    return q


def as_case(q: Query) -> dict[str, Any]:
    """The query as a regression case's `query:` mapping (the inverse of `query_of`)."""
    d: dict[str, Any] = {"manifest": q.manifest}
    for k in ("metrics", "group_by", "where", "order_by", "limit", "saved_query"):
        if getattr(q, k):
            d[k] = getattr(q, k)
    if q.start:
        d["start"] = q.start.isoformat()
    if q.end:
        d["end"] = q.end.isoformat()
    if not q.apply_group_by:
        d["apply_group_by"] = False
    return d


def freeze(path: Path) -> None:
    """Ask MetricFlow for the answer to every regression case and write it into the file."""
    oracle = Oracle(SUITE)
    cases = yaml.safe_load(path.read_text())
    for c in cases:
        mf = ask_metricflow(oracle, query_of(c["query"]))
        if mf.error is not None:
            c["metricflow"] = {"refuses": mf.error[:300]}
        else:
            # Unordered answers are stored sorted, so that freezing again rewrites nothing.
            rows = (mf.rows or []) if c["query"].get("order_by") else sorted(mf.rows or [], key=sort_key)
            c["metricflow"] = {"columns": mf.columns, "rows": [[encode(v) for v in r] for r in rows]}
    head = "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#"))
    path.write_text(head + yaml.safe_dump(cases, sort_keys=False, width=200))


def encode(v: Any) -> Any:
    return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v


def decode(v: Any) -> Any:
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == " ":
        try:
            return dt.datetime.fromisoformat(v)
        except ValueError:
            return v
    return norm(v)


def check_frozen(case: dict[str, Any]) -> str | None:
    """Canary against a frozen MetricFlow answer: `None` when they agree, else why not."""
    q = query_of(case["query"])
    cn = ask_canary(q)
    if "canary_refuses" in case:
        # A known gap: Canary refuses (with this message) rather than answer differently.
        if cn.error is None or case["canary_refuses"] not in cn.error:
            return f"expected Canary to refuse with {case['canary_refuses']!r}, got {cn.error or shown(cn)}"
        return None
    want = case["metricflow"]
    if "refuses" in want:
        return None if cn.error is not None else f"MetricFlow refuses ({want['refuses'][:120]}), Canary answers"
    if cn.error is not None:
        return f"Canary refuses: {cn.error}"
    mf = Answer([c.lower() for c in want["columns"]], [tuple(decode(v) for v in r) for r in want["rows"]])
    verdict = judge(q, mf, cn, [])
    return None if verdict == "agree" else f"{verdict}: MetricFlow {shown(mf)}, Canary {shown(cn)}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", "-n", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--manifest", action="append", default=[])
    p.add_argument("--show", type=int, default=20)
    p.add_argument("--report", type=Path)
    p.add_argument("--table", action="store_true", help="print agreement per metric type and feature class")
    p.add_argument("--freeze", type=Path, help="write MetricFlow's answers into a regression file, and stop")
    a = p.parse_args()
    if a.freeze:
        freeze(a.freeze)
        return
    summary = run(a.queries, a.seed, a.manifest, a.show, a.report)
    if a.table:
        print(tag_table(summary))


if __name__ == "__main__":
    main()
