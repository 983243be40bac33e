"""The CLI and the wheel are two front doors to the same core operations: the same request
through each gives the same output, byte for byte."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import canary
from conftest import CANARY_BIN, SAMPLE, copy_sample

NOW = "2026-01-31T12:00:00Z"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CANARY_BIN, *args],
        cwd=SAMPLE,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


@pytest.fixture()
def fixed_clock() -> Iterator[None]:
    """CANARY_NOW for this process (the wheel reads it as the CLI does)."""
    before = os.environ.get("CANARY_NOW")
    os.environ["CANARY_NOW"] = NOW
    yield
    if before is None:
        del os.environ["CANARY_NOW"]
    else:
        os.environ["CANARY_NOW"] = before


@pytest.fixture()
def broken(tmp_path: Path) -> Path:
    """The sample project with a typo in a KPI file."""
    copy_sample(tmp_path)
    kpis = sorted((tmp_path / "kpis").glob("*.yaml"))[0]
    text = kpis.read_text()
    kpis.write_text(text.replace("version:", "verison:", 1))
    return tmp_path


def test_validate_agrees(broken: Path):
    ok = cli("validate")
    v = canary.validate(SAMPLE)
    assert (ok.returncode, ok.stdout) == (0, str(v))
    assert v.ok and str(v).startswith("ok: ")

    bad = cli("--project", str(broken), "validate")
    v = canary.validate(broken)
    assert bad.returncode == 1
    assert bad.stdout == str(v)
    assert not v.ok and "verison" in str(v)
    assert str(v).endswith(f"{len(v.diagnostics)} problem{'s' if len(v.diagnostics) != 1 else ''} found\n")
    as_json = cli("--project", str(broken), "validate", "--format", "json")
    assert as_json.stdout == v.to_json()


@pytest.mark.parametrize("kpi", [None, "revenue", "closing_loyalty_balance"])
def test_list_dimensions_agrees(project, kpi: str | None):
    args = ["list", "dimensions", "--format", "csv"] + (["--kpi", kpi] if kpi else [])
    out = cli(*args)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    dims = project.dimensions(kpi)
    assert [(r["name"], r["product"], r["type"], r["granularity"], r["description"]) for r in rows] == [
        (d.name, d.product, d.type, d.granularity or "", d.description or "") for d in dims
    ]
    # Every name listed is one `by` takes.
    for d in dims[:4]:
        some_kpi = kpi or "revenue"
        if kpi is None and d.product != "orders":
            continue
        project.compute(some_kpi, grain=None, by=d.name)


def test_unknown_kpi_is_the_same_error(project):
    out = cli("list", "dimensions", "--kpi", "revnue")
    assert out.returncode == 2
    with pytest.raises(canary.QueryError, match="unknown KPI `revnue`") as e:
        project.dimensions("revnue")
    assert "unknown KPI `revnue`" in out.stderr
    assert e.value.hint is not None and e.value.hint in out.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "openlineage", "dot", "mermaid"])
def test_lineage_agrees_in_every_format(project, fixed_clock: None, fmt: str):
    args = ["lineage", "revenue", "aov", "--grain", "month", "--by", "channel", "--format", fmt]
    out = cli(*args, env={"CANARY_NOW": NOW})
    assert out.returncode == 0, out.stderr
    lineage = project.lineage(["revenue", "aov"], grain="month", by="channel")
    assert lineage.render(fmt) == out.stdout
    if fmt == "openlineage":
        events = lineage.to_openlineage()
        assert {e["eventTime"] for e in events} == {"2026-01-31T12:00:00.000Z"}
        assert len(events) == out.stdout.count("\n")


def test_impact_agrees(project, tmp_path: Path):
    old = SAMPLE / "products" / "orders.yaml"
    new = tmp_path / "orders.yaml"
    # A breaking change (a column's type) and a compatible one (a description).
    text = old.read_text()
    assert "    description: Where the order was placed (web, app or store).\n" in text
    new.write_text(
        text.replace("version: 1.2.0", "version: 2.0.0", 1)
        .replace(
            "  - name: store_id\n    type: int64",
            "  - name: store_id\n    type: string",
            1,
        )
        .replace("Where the order was placed (web, app or store).", "Where the order was placed.", 1)
    )
    for fmt in ("text", "json"):
        out = cli("impact", str(old), str(new), "--format", fmt)
        impact = project.impact(old, new)
        assert out.returncode == (1 if impact.breaks_kpis else 0), out.stderr
        assert out.stdout == (str(impact) if fmt == "text" else impact.to_json())
    report = project.impact(old, new).to_dict()
    kinds = sorted(c["change"]["kind"] for c in report["changes"])
    assert "type_changed" in kinds and "documentation" in kinds, kinds
