"""Data products in real object storage: the sample project's data in moto's S3 (server
mode, on loopback, every request's signature checked), read through the CLI and the wheel.
Listing and reads give exactly the numbers of the local files; `run` records the objects it
read; credentials come from the environment; and a store that stops answering (a server
that never responds, or a proxy that stalls in the middle of a Parquet object) ends the
command with a clear error within the configured timeout, publishing nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import canary
import s3_server
from conftest import CANARY_BIN, SAMPLE, copy_sample, period
from s3_server import Moto, Request, SilentServer, StallingProxy

BUCKET = "lake"
NOW = "2026-01-31T12:00:00Z"
# A command that has not ended by then hangs (the timeouts below allow about 5 s).
HANG = 20.0
# How long a command may take when the store stops answering (timeout 2 s, one retry).
WITHIN = 15.0
TIMEOUTS = """\
  object_store:
    timeout: 2s
    connect_timeout: 1s
    retries: 1
"""

# Queries over every kind of location: a hive-partitioned folder (orders), a plain folder
# (sessions, balances), single files joined in (customers, stores, regions); a tenant; a
# filter on the partition column; distinct counts.
QUERIES = {
    "month-by-channel": ["revenue", "completed_orders", "active_customers", "--grain", "month", "--by", "channel"],
    "tenant-joined": ["revenue", "aov", "--grain", "quarter", "--by", "customers.segment", "--tenant", "acme"],
    "distinct-counts": [
        "active_customers",
        "visits",
        "loyalty_accounts",
        "closing_loyalty_balance",
        "--grain",
        "month",
    ],
    "partition-filter": ["revenue", "--grain", "month", "--by", "regions.country", "--where", "month >= '2025-10'"],
}


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = s3_server.start_moto(BUCKET, SAMPLE / "data")
    yield server
    server.stop()


def s3_project(dest: Path, *, settings: str = "", glob: bool = False) -> Path:
    """A copy of the sample project whose products are in the bucket, with no local data.
    The balances' glob becomes their folder unless `glob` (same files either way)."""
    copy_sample(dest)
    (dest / "data").unlink()
    moved = 0
    for spec in (dest / "products").glob("*.yaml"):
        text, n = re.subn(r"^location: data/", f"location: s3://{BUCKET}/", spec.read_text(), flags=re.M)
        if not glob:
            text = text.replace(f"s3://{BUCKET}/balances/*.parquet", f"s3://{BUCKET}/balances/")
        spec.write_text(text)
        moved += n
    assert moved == 7, "every product of the sample should have moved to the bucket"
    if settings:
        config = dest / "canary.yaml"
        text = config.read_text()
        assert text.endswith("settings:\n  memory_limit: 1GiB\n"), "the sample's settings changed"
        config.write_text(text + settings)
    return dest


@pytest.fixture(scope="module")
def lake(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return s3_project(tmp_path_factory.mktemp("lake"))


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its own `AWS_*` settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "NO_COLOR": "1", "CANARY_NOW": NOW, **(extra or {})}


def cli(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI on `project`; its output and how long it took. A hang fails the test."""
    start = time.monotonic()
    try:
        out = subprocess.run(
            [CANARY_BIN, "--project", str(project), *args],
            capture_output=True,
            text=True,
            check=False,
            env=environment(env),
            timeout=HANG,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`canary {' '.join(args)}` did not end within {HANG:.0f} s (stderr so far: {e.stderr!r})")
    return out, time.monotonic() - start


def ok(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    out, _ = cli(project, *args, env=env)
    assert out.returncode == 0, f"`canary {' '.join(args)}` failed ({out.returncode}):\n{out.stderr}{out.stdout}"
    assert "panicked" not in out.stderr
    return out.stdout


def records(project: Path) -> list[dict]:
    log = project / ".canary" / "evidence" / "log"
    return [json.loads(p.read_text()) for p in sorted(log.glob("*.json"))]


def evidence_state(project: Path) -> dict[str, bytes]:
    """The evidence folder's committed files (temporary leftovers aside), with their bytes."""
    root = project / ".canary" / "evidence"
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".tmp")
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- Listing and reads ---------------------------------------------------------------


def test_validate_over_s3(lake: Path, moto: Moto):
    local, _ = cli(SAMPLE, "validate")
    assert local.returncode == 0 and local.stdout.startswith("ok: 7 products")
    assert ok(lake, "validate", env=moto.env()) == local.stdout


@pytest.mark.parametrize("query", QUERIES.values(), ids=list(QUERIES))
def test_compute_over_s3_is_the_local_result(lake: Path, moto: Moto, query: list[str]):
    args = ["compute", *query, "--format", "csv"]
    local = ok(SAMPLE, *args)
    assert local.count("\n") > 8, local  # a result worth comparing
    assert ok(lake, *args, env=moto.env()) == local


def test_distinct_count_over_s3_against_pandas(lake: Path, moto: Moto, orders: pd.DataFrame):
    """The numbers themselves, not only their agreement: active customers by month and
    channel recomputed with pandas from the local files."""
    out = ok(
        lake, "compute", "active_customers", "--grain", "month", "--by", "channel", "--format", "csv", env=moto.env()
    )
    rows = [line.split(",") for line in out.splitlines()]
    assert rows[0] == ["period", "channel", "active_customers"]
    got = {(pd.Timestamp(p), c): int(v) for p, c, v in rows[1:]}
    o = orders.query("status == 'completed'").assign(period=lambda d: period(d.ordered_at, "month"))
    want = {k: int(v) for k, v in o.groupby(["period", "channel"])["customer_id"].nunique().items()}
    assert got == want
    assert len(got) == 24 * 3


def test_a_glob_location_over_s3(moto: Moto, tmp_path: Path):
    """`s3://lake/balances/*.parquet`, as the sample writes its local glob: the same files,
    the same numbers."""
    project = s3_project(tmp_path, glob=True)
    assert "location: s3://lake/balances/*.parquet" in (project / "products" / "balances.yaml").read_text()
    args = ["compute", "loyalty_accounts", "closing_loyalty_balance", "--grain", "quarter", "--format", "csv"]
    assert ok(project, *args, env=moto.env()) == ok(SAMPLE, *args)


def test_run_over_s3_records_the_objects_it_read(moto: Moto, tmp_path: Path):
    project = s3_project(tmp_path / "s3")
    local = copy_sample(tmp_path / "local")
    args = ["run", "revenue", "active_customers", "--grain", "month", "--by", "channel", "--format", "csv"]
    published = ok(project, *args, env=moto.env())
    assert published == ok(local, *args)
    [record] = records(project)
    [local_record] = records(local)
    # The same result, hashed the same way.
    assert record["result"]["sha256"] == local_record["result"]["sha256"]
    assert record["result"]["rows"] == 24 * 3
    # Every object the plan scanned, by its URL, with the size and hash of the file uploaded.
    inputs = {i["path"]: i for i in record["inputs"]}
    orders = sorted((SAMPLE / "data" / "orders").rglob("*.parquet"))
    assert len(orders) == 24
    for file in orders:
        url = f"s3://{BUCKET}/{file.relative_to(SAMPLE / 'data').as_posix()}"
        assert url in inputs, f"{url} not among the recorded inputs {sorted(inputs)[:3]}…"
        assert inputs[url]["size"] == file.stat().st_size
        assert inputs[url]["sha256"] == sha256(file)
        assert inputs[url]["product"] == "orders"
    assert all(p.startswith(f"s3://{BUCKET}/") for p in inputs), sorted(inputs)
    assert {i["path"].replace(f"s3://{BUCKET}/", "data/") for i in record["inputs"]} == {
        i["path"] for i in local_record["inputs"]
    }
    # The log as the CLI shows it, and its proof.
    [logged] = json.loads(ok(project, "evidence", "log", "--format", "json", env=moto.env()))
    assert (logged["seq"], logged["hash"], logged["rows"]) == (1, record["hash"], 24 * 3)
    verified = ok(project, "evidence", "verify", env=moto.env())
    assert verified.startswith("ok: ") and "1 record" in verified
    # Replaying reads every object again from the bucket and finds the same result.
    ok(project, "evidence", "replay", record["run_id"], env=moto.env())


# --- The wheel -------------------------------------------------------------------------


@pytest.fixture()
def s3_env(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    """The `AWS_*` settings in this process's environment, where the wheel reads them."""
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    for k, v in moto.env().items():
        monkeypatch.setenv(k, v)
    return moto


def test_wheel_over_s3_is_the_cli_result(lake: Path, s3_env: Moto):
    project = canary.Project(lake)
    assert project.products["orders"].location == f"s3://{BUCKET}/orders/"
    assert project.validate() == []
    for name in ("month-by-channel", "distinct-counts"):
        query = QUERIES[name]
        kpis = [a for a in query[: query.index("--grain")]]
        grain = query[query.index("--grain") + 1]
        by = query[query.index("--by") + 1] if "--by" in query else ()
        result = project.compute(kpis, grain=grain, by=by)
        cli_result = ok(lake, "compute", *query, "--format", "csv", env=s3_env.env())
        assert result.to_pandas().to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ") == cli_result, name
    acme = canary.Project(lake, tenant="acme").compute(["revenue", "aov"], grain="quarter", by="customers.segment")
    local = canary.Project(SAMPLE, tenant="acme").compute(["revenue", "aov"], grain="quarter", by="customers.segment")
    assert acme.to_arrow().equals(local.to_arrow())
    assert len(acme) == 8 * 2


# --- Credentials from the environment ----------------------------------------------------


@pytest.mark.parametrize("wrong", ["secret", "key-id"])
def test_wrong_credentials_are_a_clear_error(lake: Path, moto: Moto, wrong: str):
    env = (
        moto.env(secret_key="not-the-secret")
        if wrong == "secret"
        else {**moto.env(), "AWS_ACCESS_KEY_ID": "AKIANOBODY"}
    )
    for args in (["compute", "revenue", "--grain", "month"], ["validate"]):
        out, took = cli(lake, *args, env=env)
        text = out.stderr + out.stdout
        assert took < WITHIN
        assert "panicked" not in text
        assert out.returncode == 2, f"`canary {' '.join(args)}`: exit {out.returncode}:\n{text}"
        assert f"s3://{BUCKET}/" in text, text
        assert re.search(r"forbidden|access|credential|signature|privileges", text, re.I), text
        if args[0] == "compute":
            assert out.stdout == ""


def test_wheel_wrong_credentials_are_a_clear_error(lake: Path, s3_env: Moto, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(canary.CanaryError) as e:
        canary.Project(lake)
    text = str(e.value) + "".join(d.message for d in getattr(e.value, "diagnostics", []))
    assert f"s3://{BUCKET}/" in text and re.search(r"forbidden|access|signature|privileges", text, re.I), text


# --- A store that stops answering --------------------------------------------------------


def stalls_on_any_read(request: Request, headers: list[tuple[str, str]]) -> bool:
    """Every GET of a Parquet object: the first one a command makes reads a footer."""
    return request.path.split("?")[0].endswith(".parquet")


def stalls_on_data(request: Request, headers: list[tuple[str, str]]) -> bool:
    """GETs of a Parquet object's pages or whole bytes, not of its footer (the last 8 bytes
    and the metadata before them): opening the project works, the scan stalls."""
    if not stalls_on_any_read(request, headers):
        return False
    content_range = s3_server._header(headers, "content-range")
    if content_range is None:
        return True
    span, size = content_range.removeprefix("bytes ").split("/")
    return int(span.split("-")[1]) < int(size) - 9


@pytest.fixture(params=["silent", "stall-open", "stall-scan"])
def dead_store(request: pytest.FixtureRequest, moto: Moto) -> Iterator[SilentServer | StallingProxy]:
    """A store that stops answering: a server that never responds, or a proxy in front of
    moto that stalls mid-body on a footer (while the project opens) or on a scan."""
    if request.param == "silent":
        server: SilentServer | StallingProxy = SilentServer()
    else:
        stall = stalls_on_any_read if request.param == "stall-open" else stalls_on_data
        server = StallingProxy(moto.endpoint, stall)
    yield server
    server.stop()


def assert_stalled(server: SilentServer | StallingProxy) -> None:
    """The store did stop answering in the middle of something (else nothing was tested)."""
    if isinstance(server, StallingProxy):
        assert any(e.stalled for e in server.log.entries), "the proxy never stalled: the test tested nothing"
    else:
        assert server.connections, "nothing connected to the silent server"


def assert_timed_out(out: subprocess.CompletedProcess[str], took: float, endpoint: str) -> None:
    message = out.stderr
    assert took < WITHIN, f"took {took:.1f} s (timeout 2 s, one retry):\n{message}"
    assert "panicked" not in message
    assert out.returncode == 2, f"exit {out.returncode}:\n{message}{out.stdout}"
    assert out.stdout == ""
    where = endpoint.removeprefix("http://")
    assert f"s3://{BUCKET}/" in message or where in message, f"names neither the location nor the store:\n{message}"
    assert re.search(r"timed out|timeout", message, re.I), message


def test_compute_ends_when_the_store_stops_answering(
    dead_store: SilentServer | StallingProxy, moto: Moto, tmp_path: Path
):
    project = s3_project(tmp_path, settings=TIMEOUTS)
    ok(project, "validate", env=moto.env())  # the settings are valid, the data is there
    out, took = cli(project, "compute", "revenue", "--grain", "month", env=moto.env(endpoint=dead_store.endpoint))
    assert_timed_out(out, took, dead_store.endpoint)
    assert_stalled(dead_store)


def test_run_publishes_nothing_when_the_store_stops_answering(
    dead_store: SilentServer | StallingProxy, moto: Moto, tmp_path: Path
):
    project = s3_project(tmp_path, settings=TIMEOUTS)
    ok(project, "run", "revenue", "--grain", "month", env=moto.env())
    before = evidence_state(project)
    assert len(records(project)) == 1
    args = ["run", "revenue", "active_customers", "--grain", "month", "--by", "channel"]
    out, took = cli(project, *args, env=moto.env(endpoint=dead_store.endpoint))
    assert_timed_out(out, took, dead_store.endpoint)
    assert_stalled(dead_store)
    assert "recorded run" not in out.stderr
    after = evidence_state(project)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a run that failed changed the evidence: {changed}"
    verified = ok(project, "evidence", "verify", env=moto.env())
    assert verified.startswith("ok: ") and "1 record" in verified
    # The next run, with the store back, records as usual.
    again, _ = cli(project, *args, env=moto.env())
    assert again.returncode == 0, again.stderr
    assert "as record 2" in again.stderr


def within(call: Callable[[], object]) -> tuple[object, float]:
    """`call()`'s value or exception, and its time; a call into the wheel cannot be killed,
    so it runs on a thread and a hang fails the test."""
    outcome: list[object] = []

    def work() -> None:
        try:
            outcome.append(call())
        except Exception as e:
            outcome.append(e)

    start = time.monotonic()
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(HANG)
    if not outcome:
        pytest.fail(f"the wheel hung: no end within {HANG:.0f} s")
    return outcome[0], time.monotonic() - start


def test_wheel_ends_when_the_store_stalls(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same settings through the wheel: a scan that stalls raises, within the timeout."""
    project = s3_project(tmp_path, settings=TIMEOUTS)
    proxy = StallingProxy(moto.endpoint, stalls_on_data)
    try:
        for k, v in moto.env(endpoint=proxy.endpoint).items():
            monkeypatch.setenv(k, v)
        opened, _ = within(lambda: canary.Project(project))  # footers only: the proxy lets them through
        assert isinstance(opened, canary.Project), f"opening failed: {opened!r}"
        error, took = within(lambda: opened.compute("revenue", grain="month"))
        assert isinstance(error, canary.DataError), f"expected DataError, got {error!r}"
        assert took < WITHIN, f"took {took:.1f} s"
        assert re.search(r"timed out|timeout", str(error), re.I), str(error)
        assert any(e.stalled for e in proxy.log.entries)
    finally:
        proxy.stop()
