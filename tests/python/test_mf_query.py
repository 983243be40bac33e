"""`canary.mf_query` against `canary mf query` on cases of MetricFlow's own suite: the
same rows and values, or the same error."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

import canary
from conftest import CANARY_BIN, ROOT, SHARED, require_shared

SUITE = ("conformance", "metricflow")
MANIFEST = ("conformance", "metricflow", "semantic_manifest_yamls", "simple_manifest")
# Written by the conformance runner (`make conformance`, which `make test` runs first).
DATA = ROOT / "target" / "conformance-data"
#: One case in this many, spread over every file of the suite.
EVERY = 5


def cases() -> list[dict]:
    """One in EVERY SIMPLE_MODEL cases needing no Jinja rendering; none without the suite
    (test_the_suite_sample_is_there then says what is missing)."""
    import yaml

    folder = SHARED.joinpath(*SUITE, "test_cases")
    out = []
    for f in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            c = doc["integration_test"]
            if c["model"] != "SIMPLE_MODEL" or c.get("where_filter") or c.get("min_max_only"):
                continue
            if c.get("saved_query_name") or c.get("apply_group_by") is False:
                continue
            out.append(c)
    return out[::EVERY]


def group_bys(case: dict) -> list[str]:
    names = list(case.get("group_bys") or [])
    for g in case.get("group_by_objs") or []:
        if "grain" in g:
            names.append(f"{g['name']}__{g['grain']}")
        elif "date_part" in g:
            names.append(f"{g['name']}__extract_{g['date_part']}")
        else:
            names.append(g["name"])
    return names


CASES = cases()


def test_the_suite_sample_is_there():
    require_shared(*SUITE)
    assert len(CASES) >= 20, len(CASES)
    if not DATA.is_dir():
        pytest.fail(f"{DATA} is missing: run `make conformance` first (it writes the suite's tables)")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_same_answer_as_the_cli(case, tmp_path):
    manifest = require_shared(*MANIFEST)
    metrics = case.get("metrics") or []
    groups = group_bys(case)
    order = case.get("order_bys") or []
    start, end = (case.get("time_constraint") or [None, None])[:2]
    args = [CANARY_BIN, "mf", "query", "--manifest", str(manifest), "--data", str(DATA)]
    if metrics:
        args += ["--metrics", ",".join(metrics)]
    if groups:
        args += ["--group-by", ",".join(groups)]
    for o in order:
        args += ["--order-by", o]
    if case.get("limit") is not None:
        args += ["--limit", str(case["limit"])]
    if start:
        args += ["--start-time", start, "--end-time", end]
    out = tmp_path / "cli.parquet"
    cli = subprocess.run([*args, "--format", "parquet", "--output", str(out)], capture_output=True, text=True)

    def python():
        return canary.mf_query(
            manifest,
            DATA,
            metrics=metrics,
            group_by=groups,
            order_by=order,
            limit=case.get("limit"),
            start_time=start,
            end_time=end,
        )

    if cli.returncode != 0:
        with pytest.raises(canary.CanaryError) as e:
            python()
        assert str(e.value).splitlines()[0] in cli.stderr
        return
    want = pd.read_parquet(out)
    got = python().to_pandas()
    assert list(got.columns) == list(want.columns)
    if not order:
        got = got.sort_values(list(got.columns), ignore_index=True)
        want = want.sort_values(list(want.columns), ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=True)


def test_where_as_a_string_or_a_list():
    manifest = require_shared(*MANIFEST)
    one = canary.mf_query(
        manifest,
        DATA,
        metrics="bookings",
        group_by="metric_time__day",
        where="{{ Dimension('booking__is_instant') }}",
    )
    both = canary.mf_query(
        manifest,
        DATA,
        metrics=["bookings"],
        group_by=["metric_time__day"],
        where=["{{ Dimension('booking__is_instant') }}", "{{ TimeDimension('metric_time', 'day') }} >= '2019-12-20'"],
    )
    a, b = one.to_pandas(), both.to_pandas()
    assert len(b) < len(a) and set(b["metric_time__day"]) < set(a["metric_time__day"])
    assert one.kpi_columns == ["bookings"] and one.period_column == "metric_time__day"


# The suite's saved queries (semantic_manifest_yamls/simple_manifest/saved_queries.yaml),
# written out by hand as the explicit queries they stand for.
SAVED = {
    "p0_booking": dict(
        metrics=["bookings", "instant_bookings"],
        group_by=["metric_time__day", "listing__capacity_latest"],
        where=["{{ Dimension('listing__capacity_latest') }} > 3"],
    ),
    "p0_booking_with_order_by_and_limit": dict(
        metrics=["bookings", "views"],
        group_by=["metric_time__day", "listing__capacity_latest"],
        order_by=["-metric_time__day", "listing__capacity_latest", "-bookings", "views"],
        limit=10,
    ),
    "saved_query_with_cumulative_metric": dict(metrics=["trailing_2_months_revenue"], group_by=["metric_time__day"]),
    "saved_query_with_metric_joins_and_filter": dict(
        metrics=["bookings", "views", "bookings_per_view"],
        group_by=["listing__capacity_latest"],
        where=[
            "{{ Dimension('listing__is_lux_latest') }}",
            "{{ TimeDimension('metric_time', 'day') }} >= '2020-01-02'",
        ],
    ),
    "dimensions_only": dict(group_by=["listing__capacity_latest", "metric_time__month"]),
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_saved_queries_are_their_queries(name):
    manifest = require_shared(*MANIFEST)
    saved = canary.mf_query(manifest, DATA, saved_query=name).to_pandas()
    explicit = canary.mf_query(manifest, DATA, **SAVED[name]).to_pandas()
    assert len(saved) > 0
    pd.testing.assert_frame_equal(saved, explicit)


def test_a_saved_query_refined_and_misused():
    manifest = require_shared(*MANIFEST)
    refined = canary.mf_query(manifest, DATA, saved_query="p0_booking", limit=3, order_by=["-bookings"])
    df = refined.to_pandas()
    assert len(df) == 3 and df["bookings"].is_monotonic_decreasing
    with pytest.raises(canary.QueryError, match="no saved query `p0_bookin`") as e:
        canary.mf_query(manifest, DATA, saved_query="p0_bookin")
    assert "did you mean `p0_booking`" in e.value.hint
    with pytest.raises(canary.QueryError, match="brings its own metrics"):
        canary.mf_query(manifest, DATA, metrics="bookings", saved_query="p0_booking")


@pytest.mark.parametrize(
    ("option", "value", "message", "suggestion"),
    [
        ("--order-by", "nosuch", "cannot order by `nosuch`", "valid names: bookings, metric_time__day"),
        ("--order-by", "-bookngs", "cannot order by `bookngs`", "did you mean `bookings`?"),
        ("--metrics", "bookngs", "unknown metric `bookngs`", "did you mean `bookings`?"),
        (
            "--group-by",
            "booking__is_instan",
            "cannot resolve `booking__is_instan`",
            "did you mean `booking__is_instant`?",
        ),
    ],
)
def test_a_typo_in_an_option_is_the_users_mistake(option: str, value: str, message: str, suggestion: str):
    """A misspelt name in any option exits 2 naming what is valid, never as a bug; the wheel
    raises the same message."""
    args = {"--metrics": ["bookings"], "--group-by": ["metric_time__day"], "--order-by": []}
    args[option] = [value]
    cli_args = [f"{k}={','.join(v)}" for k, v in args.items() if v]
    out = subprocess.run(
        [CANARY_BIN, "mf", "query", "--manifest", str(require_shared(*MANIFEST)), "--data", str(DATA), *cli_args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and suggestion in out.stderr, out.stderr
    assert "bug" not in out.stderr
    with pytest.raises(canary.QueryError, match=message.replace("`", ".")) as e:
        canary.mf_query(
            require_shared(*MANIFEST),
            DATA,
            metrics=args["--metrics"],
            group_by=args["--group-by"],
            order_by=args["--order-by"],
        )
    assert e.value.hint is not None and suggestion in e.value.hint


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("random() < 0.5", "`random`, which is not an allowed function"),
        ("now() is not null", "`now`, which is not an allowed function"),
        ("(select 1) = 1", "subqueries are not allowed"),
    ],
)
def test_metricflow_filters_go_through_the_allow_list(where: str, message: str):
    """Filters in SQL over the output (no `{{ }}`) are user expressions like any other."""
    out = subprocess.run(
        [
            CANARY_BIN,
            "mf",
            "query",
            "--manifest",
            str(require_shared(*MANIFEST)),
            "--data",
            str(DATA),
            "--metrics",
            "bookings",
            "--where",
            where,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2, out.stdout
    assert message in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("flag", "kwargs", "query"),
    [
        ("--no-dedupe", {"apply_group_by": False}, ["--group-by", "listing__country_latest"]),
        ("--min-max-only", {"min_max_only": True}, ["--metrics", "bookings", "--group-by", "metric_time__day"]),
    ],
)
def test_flags_mean_the_same_in_python_and_the_cli(flag, kwargs, query, tmp_path):
    manifest = require_shared(*MANIFEST)
    out = tmp_path / "cli.parquet"
    args = [CANARY_BIN, "mf", "query", "--manifest", str(manifest), "--data", str(DATA), *query, flag]
    subprocess.run([*args, "--format", "parquet", "--output", str(out)], check=True, capture_output=True)
    names = query[1::2]
    metrics = names[0].split(",") if query[0] == "--metrics" else []
    group_by = names[-1].split(",")
    got = canary.mf_query(manifest, DATA, metrics=metrics, group_by=group_by, **kwargs).to_pandas()
    want = pd.read_parquet(out)
    plain = canary.mf_query(manifest, DATA, metrics=metrics, group_by=group_by).to_pandas()
    assert len(got) != len(plain), "the flag changed nothing: the test would not see it ignored"
    cols = list(want.columns)
    assert list(got.columns) == cols
    got = got.sort_values(cols, ignore_index=True)
    want = want.sort_values(cols, ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=True)
