"""Lineage and evidence from Python and the CLI: every OpenLineage event validated against
the official JSON Schemas in ../shared/openlineage; the Python forms equal the CLI's;
verification of a recorded run, and of one changed afterwards."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import CANARY_BIN, SAMPLE, copy_sample, require_shared

# Every KPI kind of the sample project, with and without drill-downs.
QUERIES = [
    (["revenue", "aov"], "month", ["channel"]),
    (["completed_orders"], None, []),
    (["return_rate"], "quarter", []),
    (["revenue_mom_growth"], "month", []),
    (["revenue_ytd", "revenue_trailing_3m"], "month", []),
    (["session_conversion_rate"], "month", []),
    (["closing_loyalty_balance"], "month", []),
    (["median_unit_price", "p90_basket_value", "active_customers"], "month", []),
]


@pytest.fixture(scope="module")
def validators():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    folder = require_shared("openlineage")
    registry = Registry()
    for path in sorted(folder.glob("*.json")):
        schema = json.loads(path.read_text())
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))

    def validator(url: str):
        base, _, pointer = url.partition("#")
        schema = {"$ref": url} if pointer else {"$ref": base}
        return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)

    return validator


def validate_event(event: dict, validators) -> int:
    """Validate a RunEvent and every facet in it by its _schemaURL; the number of facets."""
    validators(event["schemaURL"]).validate(event)
    facets = 0
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        for facet in dataset.get("facets", {}).values():
            validators(facet["_schemaURL"]).validate(facet)
            facets += 1
    return facets


def cli(*args: str, cwd: Path = SAMPLE, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([CANARY_BIN, *args], cwd=cwd, capture_output=True, text=True, check=check)


@pytest.mark.parametrize("kpis,grain,by", QUERIES)
def test_openlineage_events_validate(project, validators, kpis, grain, by):
    events = project.lineage(kpis, grain=grain, by=by).to_openlineage()
    args = ["lineage", *kpis, "--format", "openlineage"]
    if grain:
        args += ["--grain", grain]
    for b in by:
        args += ["--by", b]
    cli_events = [json.loads(line) for line in cli(*args).stdout.splitlines()]
    assert len(events) == len(cli_events) >= 2  # the query's, and orders' contract
    for event in events + cli_events:
        validate_event(event, validators)
    main = events[0]
    facet = main["outputs"][0]["facets"]["columnLineage"]
    assert set(facet["fields"]) == set(project.compute(kpis, grain=grain, by=by).column_names)
    # The events of one query agree but for the run (ids and time).
    for a, b in zip(events, cli_events, strict=True):
        assert a["job"] == b["job"] and a["outputs"] == b["outputs"] and a["inputs"] == b["inputs"]


def test_invalid_events_are_rejected(project, validators):
    """The validation can fail: a transformation without its type, a run id not a UUID."""
    from jsonschema import ValidationError

    event = project.lineage("revenue").to_openlineage()[0]
    broken = json.loads(json.dumps(event))
    fields = broken["outputs"][0]["facets"]["columnLineage"]["fields"]
    del fields["revenue"]["inputFields"][0]["transformations"][0]["type"]
    with pytest.raises(ValidationError):
        validate_event(broken, validators)
    broken = json.loads(json.dumps(event))
    broken["run"]["runId"] = "not-a-uuid"
    with pytest.raises(ValidationError):
        validate_event(broken, validators)


def test_lineage_forms_equal_the_cli(project):
    lineage = project.lineage(["revenue", "aov"], grain="month", by="channel")
    args = ["lineage", "revenue", "aov", "--grain", "month", "--by", "channel"]
    assert lineage.to_dict() == json.loads(cli(*args, "--format", "json").stdout)
    assert str(lineage) == cli(*args).stdout
    assert lineage.to_dot() == cli(*args, "--format", "dot").stdout
    assert lineage.to_mermaid() == cli(*args, "--format", "mermaid").stdout
    # Hand-checked: net revenue = sum(quantity * unit_price * (1 - coalesce(discount, 0)))
    # over completed orders, by channel.
    inputs = {f["column"]: [t["subtype"] for t in f["transformations"]] for f in lineage.columns["revenue"]}
    assert inputs == {
        "discount": ["TRANSFORMATION", "AGGREGATION", "CONDITIONAL"],
        "quantity": ["TRANSFORMATION", "AGGREGATION"],
        "status": ["FILTER"],
        "unit_price": ["TRANSFORMATION", "AGGREGATION"],
    }
    assert lineage.columns["channel"] == [
        {
            "product": "orders",
            "column": "channel",
            "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}],
        }
    ]
    raw = {(e["source"], e["source_column"]) for e in lineage.to_dict()["raw"] if e["column"] == "channel"}
    assert raw == {("shop.orders", "sales_channel")}
    assert lineage.unresolved == []


@pytest.fixture()
def scratch(tmp_path: Path) -> Path:
    """A copy of the sample project's specs over its data, to record runs in."""
    return copy_sample(tmp_path)


def test_verify_a_recorded_run_then_a_changed_one(scratch: Path):
    import canary

    key = scratch / "key.pem"
    cli("evidence", "keygen", str(key), cwd=scratch)
    run = cli("run", "revenue", "--grain", "quarter", "--sign-key", str(key), cwd=scratch)
    assert "2025-Q4" in run.stdout
    project = canary.Project(scratch)
    v = project.verify(key=scratch / "key.pem.pub")
    assert v and v.records == 1 and v.signed == 1 and v.head[0] == 1
    assert cli("evidence", "replay", "1", cwd=scratch).returncode == 0

    record = scratch / ".canary" / "evidence" / "log" / "00000001.json"
    text = record.read_text()
    record.write_text(text.replace('"rows_read":', '"rows_read":1', 1))
    v = project.verify()
    assert not v and v.problems[0].record == 1 and v.problems[0].file == "log/00000001.json", v.problems
    out = cli("evidence", "verify", cwd=scratch, check=False)
    assert out.returncode == 1 and "record 1 (log/00000001.json)" in out.stdout
