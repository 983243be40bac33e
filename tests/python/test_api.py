"""The wheel's API: Arrow interchange, notebook display, project introspection, errors,
interrupts, fork safety, plots."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pyarrow as pa
import pytest

import canary
import slow_project
from conftest import SAMPLE


@pytest.fixture(scope="module")
def result(project):
    return project.compute(["revenue", "completed_orders"], grain="month", by="channel", start="2025-01", end="2025-07")


# --- Arrow without copies -------------------------------------------------------------


def test_pyarrow_reads_the_stream(result):
    table = pa.table(result)
    assert table.column_names == ["period", "channel", "revenue", "completed_orders"]
    assert table.num_rows == len(result) == 18  # 6 months x 3 channels
    assert table.schema.field("period").type == pa.timestamp("us", tz="UTC")
    # The stream can be read again: each call exports the same batches anew.
    assert pa.table(result).equals(table)


def test_arrow_buffers_are_shared_not_copied(result):
    a = pa.table(result).column("revenue").chunk(0).buffers()[1]
    b = pa.table(result).column("revenue").chunk(0).buffers()[1]
    assert a.address == b.address


def test_polars_reads_the_stream(result):
    pl = pytest.importorskip("polars")
    df = pl.DataFrame(result)
    assert df.shape == (18, 4)
    assert df["completed_orders"].sum() == result.to_pandas()["completed_orders"].sum()
    assert result.to_polars().equals(df)
    # polars' rule for any Arrow stream that is not pyarrow's own: a struct Series, one
    # field per column.
    series = pl.from_arrow(result)
    assert len(series) == 18 and series.struct.unnest().equals(df)


def test_duckdb_queries_the_result_by_name(result):
    duckdb = pytest.importorskip("duckdb")
    r = result  # noqa: F841 (DuckDB finds Python variables by name)
    rows = duckdb.sql("select channel, sum(completed_orders) from r group by channel order by channel").fetchall()
    df = result.to_pandas()
    assert rows == [(c, int(df[df.channel == c].completed_orders.sum())) for c in sorted(df.channel.unique())]


def test_to_pandas_types(result):
    df = result.to_pandas()
    assert str(df["period"].dtype).startswith("datetime64") and str(df["period"].dt.tz) == "UTC"
    assert df["completed_orders"].dtype == "int64"
    assert df["revenue"].dtype == "float64"


# --- Display ----------------------------------------------------------------------------


def test_repr_is_a_readable_table(result):
    text = repr(result)
    lines = text.splitlines()
    assert lines[0] == "canary.Result: 18 rows × 4 columns, grain month"
    assert lines[1].split() == ["period", "channel", "revenue", "completed_orders"]
    assert lines[3].startswith("2025-01  app")
    assert lines[-1] == "(18 rows)"


def test_repr_of_a_long_result_is_cut(project):
    r = project.compute("revenue", grain="day", start="2025-01-01", end="2025-03-01")
    lines = repr(r).splitlines()
    assert len(lines) == 1 + 2 + 20 + 2
    assert lines[-2:] == ["…", "(59 rows)"]


def test_html_for_notebooks(result):
    html = result._repr_html_()
    assert html.startswith('<table class="canary-result">')
    assert html.count("<tr>") == 1 + 18
    assert '<th style="text-align:right">revenue</th>' in html
    assert "18 rows" in html


def test_html_escapes_values(tmp_path):
    """A dimension value with markup in it is shown as text, not run as HTML."""
    import pyarrow.parquet as pq

    root = tmp_path / "p"
    for d in ("products", "kpis", "data"):
        (root / d).mkdir(parents=True)
    (root / "canary.yaml").write_text(
        "project: html\nversion: 1.0.0\nowner: t@example.com\nproducts: [products/*.yaml]\nkpis: [kpis/*.yaml]\n"
    )
    (root / "products" / "t.yaml").write_text(
        "product: t\nversion: 1.0.0\nowner: t@example.com\nlocation: data/\n"
        "columns:\n  - {name: id, type: int64, nullable: false}\n  - {name: label, type: string}\n"
        "entities:\n  - {name: row, type: primary, column: id}\n"
        "dimensions:\n  - {name: label, type: categorical}\n"
        "measures:\n  - {name: n, agg: count}\n"
    )
    (root / "kpis" / "k.yaml").write_text("kpis:\n  - {id: rows, version: 1.0.0, type: simple, measure: t.n}\n")
    pq.write_table(
        pa.table({"id": [1, 2], "label": ["<script>alert(1)</script>", "a & b"]}), root / "data" / "t.parquet"
    )
    html = canary.Project(root).compute("rows", grain=None, by="label")._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "a &amp; b" in html


# --- Project ----------------------------------------------------------------------------


def test_kpis_products_and_dimensions(project):
    assert len(project.kpis) == 38
    rate = project.kpis["return_rate"]
    assert (rate.type, rate.direction, rate.target, rate.warn, rate.critical) == (
        "ratio",
        "lower_is_better",
        0.07,
        0.08,
        0.09,
    )
    assert "demo" in rate.tags and rate.file == "kpis/sales.yaml"
    orders = project.products["orders"]
    assert ("quantity", "int64") in orders.columns and orders.tenant_column == "tenant_id"
    names = [d.name for d in project.dimensions("revenue")]
    assert {"channel", "segment", "country", "category"} <= set(names)
    # Balances do not reach orders: their KPIs have no channel.
    assert "channel" not in [d.name for d in project.dimensions("closing_loyalty_balance")]
    with pytest.raises(canary.QueryError, match="unknown KPI `revnue`") as e:
        project.dimensions("revnue")
    assert "did you mean `revenue`" in e.value.hint


def test_every_listed_dimension_can_be_grouped_by(project):
    for d in project.dimensions("return_rate"):
        r = project.compute("return_rate", grain="year", by=d.name)
        assert d.name.split(".")[-1] in r.column_names[1]


def test_tags_select_kpis(project):
    r = project.compute("@demo", grain="year")
    demo = [k for k, v in project.kpis.items() if "demo" in v.tags]
    assert r.kpi_columns == demo and len(demo) == 19


def test_explain_gives_plans_and_sql(project):
    e = project.explain("revenue", grain="month", by="channel")
    assert "Aggregate" in e.logical and "TableScan: orders" in e.logical
    assert "TableScan" in e.optimized
    assert e.sql is not None and "GROUP BY" in e.sql and e.sql_error is None
    assert str(e).startswith(e.logical)


def test_dates_and_datetimes_as_range(project):
    import datetime as dt

    a = project.compute("revenue", start=dt.date(2025, 1, 1), end=dt.datetime(2025, 4, 1, tzinfo=dt.timezone.utc))
    b = project.compute("revenue", start="2025-01-01", end="2025-04-01")
    assert pa.table(a).equals(pa.table(b)) and len(a) == 3


# --- Errors -----------------------------------------------------------------------------


def broken_copy(tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("data"))
    os.symlink(SAMPLE / "data", root / "data")
    sales = root / "kpis" / "sales.yaml"
    sales.write_text(sales.read_text().replace("measure: orders.net_revenue", "measure: orders.net_revenu", 1))
    return root


def test_spec_error_carries_diagnostics(tmp_path):
    root = broken_copy(tmp_path)
    with pytest.raises(canary.SpecError) as caught:
        canary.Project(root)
    err = caught.value
    assert isinstance(err, canary.CanaryError)
    assert len(err.diagnostics) == 1
    d = err.diagnostics[0]
    assert (d.code, d.file) == ("C0302", "kpis/sales.yaml")
    assert d.line > 0 and d.column > 0 and "net_revenu" in d.message
    assert "did you mean `net_revenue`" in d.hint
    assert "kpis/sales.yaml" in str(err)
    # As the CLI prints it.
    assert str(d) == f"{d.file}:{d.line}:{d.column}: error[{d.code}]: {d.message}\n  hint: {d.hint}"
    assert str(err).splitlines()[:2] == ["the project has 1 problem", str(d).splitlines()[0]]


def test_validate_reads_the_specs_again(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("data"))
    os.symlink(SAMPLE / "data", root / "data")
    p = canary.Project(root)
    assert p.validate() == []
    (root / "kpis" / "extra.yaml").write_text("kpis:\n  - id: Bad Id\n")
    problems = p.validate()
    assert problems and all(d.file == "kpis/extra.yaml" for d in problems)
    assert "C0103" in {d.code for d in problems}  # `version`, `type`, ... are missing
    # The opened project is unchanged.
    assert len(p.kpis) == 38


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"kpis": "nope"}, "unknown KPI `nope`"),
        ({"kpis": "@nope"}, "no KPI has the tag `nope`"),
        ({"kpis": "revenue", "grain": "fortnight"}, "fortnight"),
        ({"kpis": "revenue", "start": "yesterday"}, "`yesterday` is not a time"),
        ({"kpis": "revenue", "by": "colour"}, "colour"),
        ({"kpis": "revenue", "where": "no_such_column = 1"}, "no_such_column"),
    ],
)
def test_query_errors(project, kwargs, message):
    with pytest.raises(canary.QueryError, match=message):
        project.compute(**kwargs)


def test_a_tenant_without_rows_is_refused_as_the_cli_refuses_it():
    # A misspelt tenant would give zeros that look real; the CLI exits 2 with the same words.
    with pytest.raises(canary.QueryError, match="tenant `acmee` has no rows in any tenant-scoped product"):
        canary.Project(SAMPLE, tenant="acmee").compute("revenue", grain="quarter")
    acme = canary.Project(SAMPLE, tenant="acme").compute("revenue", grain="quarter")
    assert acme.num_rows > 0


def test_bad_argument_types(project):
    with pytest.raises(TypeError, match="kpis must hold strings"):
        project.compute(["revenue", 3])
    with pytest.raises(TypeError, match="start must be a string, date or datetime"):
        project.compute("revenue", start=2025)
    with pytest.raises(ValueError, match="at least one KPI"):
        project.compute([])


def test_data_error_when_data_is_gone(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(SAMPLE, root)
    p = canary.Project(root)
    shutil.rmtree(root / "data" / "orders")
    (root / "data" / "orders").mkdir()
    (root / "data" / "orders" / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(canary.DataError):
        p.compute("revenue")


def test_missing_project_folder(tmp_path):
    with pytest.raises(canary.CanaryError):
        canary.Project(tmp_path / "nowhere")


# --- Interrupts, threads, fork ------------------------------------------------------------


@pytest.fixture(scope="module")
def endless(tmp_path_factory):
    """A project whose `users` by `user_id` at day grain reads 10^9 events (one Parquet file
    of 10^6, hard-linked 1000 times): minutes of CPU even in a release build, many more in
    the tests' debug build, so no machine finishes it before the tests interrupt it."""
    root = slow_project.write(tmp_path_factory.mktemp("endless") / "p", 1_000_000, files=1, copies=1000)
    return canary.Project(root)


#: CPU time the process spends, beyond what it had spent when compute() was called, that
#: shows the engine is computing (the calling thread waits without using CPU).
STARTED_CPU = 0.25


def interrupt_once_computing(ready=lambda: True, limit=120.0):
    """A thread sending SIGINT to this process once the engine has started computing (the
    process has used `STARTED_CPU` more seconds of CPU than when this was called) and
    `ready()` holds. Its `sent` is the `time.monotonic()` of the signal; it gives up after
    `limit` seconds (leaving `sent` None), and sends nothing once `stop` is set."""
    # A process started in the background by a non-interactive shell inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: install it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop = threading.Event()
    state = {"sent": None}
    baseline = time.process_time()
    deadline = time.monotonic() + limit

    def run():
        while not stop.is_set() and time.monotonic() < deadline:
            if time.process_time() - baseline >= STARTED_CPU and ready():
                state["sent"] = time.monotonic()
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, stop, state


def test_ctrl_c_interrupts_a_long_computation(endless):
    """SIGINT once the engine is demonstrably computing something that takes minutes:
    KeyboardInterrupt comes out of compute() promptly after the signal, and the project
    still works afterwards."""
    thread, stop, state = interrupt_once_computing()
    completed = False
    interrupted_at = None
    try:
        endless.compute("users", grain="day", by="user_id")
        completed = True
    except KeyboardInterrupt:
        interrupted_at = time.monotonic()
    finally:
        stop.set()
        thread.join()
    assert not completed, "a computation of 10^9 rows finished before the interrupt"
    assert state["sent"] is not None, "the engine never started computing"
    assert interrupted_at is not None
    latency = interrupted_at - state["sent"]
    assert latency < 2.0, f"KeyboardInterrupt took {latency:.2f} s after SIGINT"
    pings = endless.compute("ping_count", grain=None).to_pandas()["ping_count"].tolist()
    assert pings == [slow_project.PINGS_ROWS]


def test_the_gil_is_released_while_computing(endless):
    """A Python thread keeps running while the engine computes: the interrupt is sent only
    once a ticking thread has run 20 times after the engine started, so compute() (which
    cannot finish by itself first) ends in KeyboardInterrupt only if the GIL was free."""
    ticks = 0
    started = None
    done = threading.Event()

    def tick():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.01)

    def ready():
        nonlocal started
        if started is None:
            started = ticks
        return ticks - started >= 20

    ticker = threading.Thread(target=tick)
    ticker.start()
    thread, stop, state = interrupt_once_computing(ready)
    completed = False
    try:
        endless.compute("users", grain="day", by="user_id")
        completed = True
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        thread.join()
        done.set()
        ticker.join()
    assert not completed, "a computation of 10^9 rows finished before the interrupt"
    assert state["sent"] is not None, "the ticking thread did not run while the engine computed"


def test_threads_compute_concurrently(project):
    results = {}

    def run(kpi):
        results[kpi] = project.compute(kpi, grain="year").to_pandas()[kpi].tolist()

    threads = [threading.Thread(target=run, args=(k,)) for k in ["revenue", "completed_orders", "aov"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in results:
        assert results[k] == project.compute(k, grain="year").to_pandas()[k].tolist()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_use_after_fork_fails_clearly(project):
    project.compute("revenue", grain="year")  # the engine's threads exist now
    pid = os.fork()
    if pid == 0:  # the child: must raise, not hang
        code = 3
        try:
            project.compute("revenue", grain="year")
            code = 1
        except canary.CanaryError as e:
            code = 0 if "fork" in str(e) else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the forked child hung")
    # The parent is unaffected.
    assert len(project.compute("revenue", grain="year")) == 2


# --- Plots ------------------------------------------------------------------------------


def test_plot_renders_to_png(project, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    r = project.compute(["revenue", "return_rate"], grain="month", by="channel", start="2025-01", end="2026-01")
    fig = r.plot()
    assert len(fig.axes) == 2
    top = fig.axes[0]
    labels = [line.get_label() for line in top.get_lines()]
    assert labels == ["channel=app", "channel=store", "channel=web", "target 1.2e+06"]
    # Warn and critical bands for a higher-is-better KPI sit below their thresholds.
    spans = [p for p in top.patches]
    assert len(spans) == 2
    out = tmp_path / "plot.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_plot_on_given_axes_and_bad_arguments(project):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = project.compute(["revenue", "aov"], start="2025-01", end="2025-07")
    fig, ax = plt.subplots()
    assert r.plot("aov", ax=ax) is fig
    assert ax.get_title() == "Average order value (derived)"
    with pytest.raises(ValueError, match="pass kpi="):
        r.plot(ax=ax)
    with pytest.raises(ValueError, match="no KPI column 'nope'"):
        r.plot("nope")
    with pytest.raises(ValueError, match="needs values over time"):
        project.compute("revenue", grain=None).plot()
    plt.close("all")


def test_expression_bounds_hold_in_the_wheel(project):
    """The wheel plans on the runtime's worker threads, whose stacks are smaller than the
    CLI's main thread: an expression at the documented bound still computes, one past it
    is refused before anything runs."""
    at_bound = "quantity" + " + 1" * 255 + " > 0"
    kept = project.compute("completed_orders", grain=None, where=at_bound).to_pandas()["completed_orders"]
    every = project.compute("completed_orders", grain=None).to_pandas()["completed_orders"]
    assert kept.tolist() == every.tolist() and every.iloc[0] > 0
    with pytest.raises(canary.QueryError, match="chains 257 operators; at most 256 are allowed"):
        project.compute("completed_orders", grain=None, where="quantity" + " + 1" * 256 + " > 0")
