"""MetricFlow itself as the oracle: a bounded, seeded sample of generated queries through
MetricFlow (on DuckDB) and through Canary, and the frozen regression cases.

`make conformance-diff N=...` runs a longer sample; `run.py` documents the outcomes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402

#: The sample `make test` runs: fixed seed, about two minutes.
QUERIES = 600
SEED = 20261206
#: The agreement this sample has reached (95.9% on 2026-12-06; a ratchet: raise it as fixes land, never lower it).
FLOOR = 0.95
#: The cases `canary-conformance` keeps passing (MetricFlow's YAML form of the manifests).
ROOT_PASSING = run.ROOT / "crates" / "conformance" / "passing" / "metricflow_yaml.txt"


def require_inputs() -> None:
    if not run.SUITE.is_dir():
        pytest.fail(f"the external suite is missing: {run.SUITE} (../shared beside the repository)")
    if not run.DATA.is_dir():
        pytest.fail(f"{run.DATA} is missing: run `make conformance` first (it writes the suite's tables)")


def test_generated_queries_agree_with_metricflow() -> None:
    require_inputs()
    summary = run.run(QUERIES, SEED, [], show=10, report=run.ROOT / "target" / "mf-diff-test.json")
    assert summary["agreement"] is not None
    assert summary["agreement"] >= FLOOR, (
        f"agreement with MetricFlow fell to {summary['agreement']:.2%} (floor {FLOOR:.0%}); "
        "see target/mf-diff-test.json"
    )


def frozen_cases() -> list[dict]:
    import yaml

    return list(yaml.safe_load((HERE / "regressions.yaml").read_text()))


@pytest.mark.parametrize("case", frozen_cases(), ids=lambda c: c["why"][:60])
def test_frozen_regressions_keep_metricflow_s_answer(case: dict) -> None:
    require_inputs()
    problem = run.check_frozen(case)
    assert problem is None, f"{case['query']}: {problem}"


def test_the_suite_passes_with_check_queries_run_by_duckdb() -> None:
    """The shared suite's expected results computed by DuckDB rather than DataFusion: every
    case `canary-conformance` lists as passing passes here too, and at least 161 of 163."""
    import suite_duckdb

    require_inputs()
    listed = ROOT_PASSING.read_text().split("\n")
    listed = {line.strip() for line in listed if line.strip() and not line.startswith("#")}
    results = suite_duckdb.run_suite()
    failed = {r.case: r.reason for r in results if r.outcome == "fail"}
    passed = sum(r.outcome == "pass" for r in results)
    regressed = {case: why for case, why in failed.items() if case in listed}
    assert not regressed, f"listed cases fail with DuckDB's check queries: {regressed}"
    assert passed >= 161, f"{passed} of {len(results)} pass with DuckDB's check queries: {failed}"


def test_a_spine_joined_on_one_time_column_is_a_known_metricflow_bug_only_with_evidence() -> None:
    """MetricFlow joins the time spine on one `metric_time` column: the week of Jan 27, 2020
    (across January and February) gets the week's bookings in each month. Its own SQL,
    joined on both columns, gives Canary's answer; an answer that differs otherwise is
    still a disagreement."""
    import datetime as dt

    from generate import Query
    from oracle import Oracle

    require_inputs()
    q = Query(
        "simple_manifest",
        ["bookings_fill_nulls_with_0"],
        ["metric_time__week", "metric_time__month"],
        [],
        start=dt.datetime(2020, 1, 20),
        end=dt.datetime(2020, 2, 10),
    )
    oracle = Oracle(run.SUITE)
    mf, cn = run.ask_metricflow(oracle, q), run.ask_canary(q)
    known = run.load_known(HERE / "mf_bugs.yaml")
    assert not run.same_answer(q, mf, cn), "MetricFlow now answers like Canary: drop the entry"
    assert run.judge(q, mf, cn, known, oracle.run_sql) == "known_mf_bug"
    wrong = run.Answer(cn.columns, [(*r[:-1], 1.0 + (r[-1] or 0)) for r in cn.rows or []])
    assert run.judge(q, mf, wrong, known, oracle.run_sql) == "disagree"
