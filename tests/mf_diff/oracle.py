"""MetricFlow itself, in-process on DuckDB, as the oracle for Canary's MetricFlow front door.

The suite's manifests (MetricFlow YAML) are parsed by MetricFlow's own parser and validated
by its own rules; the suite's table snapshots are loaded into an in-memory DuckDB straight
from their YAML (not from the Parquet files Canary reads, so a conversion slip on either
side shows). Queries go through `MetricFlowEngine.query`, which plans, renders DuckDB SQL
and runs it through the minimal `SqlClient` below.

Nothing here imports Canary.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import yaml
from metricflow.data_table.mf_table import MetricFlowDataTable
from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow.protocols.sql_client import SqlEngine
from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
from metricflow_semantic_interfaces.parsing.dir_to_model import parse_directory_of_yaml_files_to_semantic_manifest
from metricflow_semantic_interfaces.type_enums.date_part import DatePart
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup
from metricflow_semantics.specs.query_param_implementations import (
    DimensionOrEntityParameter,
    MetricParameter,
    OrderByParameter,
    TimeDimensionParameter,
)
from metricflow_semantics.sql.sql_bind_parameters import SqlBindParameterSet

SCHEMA = "mf_src"
NO_BINDS = SqlBindParameterSet()
GRAINS = {
    "nanosecond",
    "microsecond",
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
}
TYPES = {"STRING": "VARCHAR", "TIME": "TIMESTAMP", "FLOAT": "DOUBLE", "INT": "BIGINT", "BOOLEAN": "BOOLEAN"}


class DuckDbClient:
    """The `SqlClient` protocol over one in-memory DuckDB connection."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self._renderer = DuckDbSqlPlanRenderer()

    @property
    def sql_engine_type(self) -> SqlEngine:
        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self) -> DuckDbSqlPlanRenderer:
        return self._renderer

    def _params(self, binds: SqlBindParameterSet) -> dict[str, Any]:
        return {p.key: p.value.api_value for p in binds.param_items}

    def query(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = NO_BINDS) -> MetricFlowDataTable:
        cur = self.conn.execute(stmt, self._params(sql_bind_parameter_set) or None)
        names = [d[0] for d in cur.description]
        return MetricFlowDataTable.create_from_rows(column_names=names, rows=cur.fetchall())

    def execute(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = NO_BINDS) -> None:
        self.conn.execute(stmt, self._params(sql_bind_parameter_set) or None)

    def dry_run(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = NO_BINDS) -> None:
        self.conn.execute(f"EXPLAIN {stmt}", self._params(sql_bind_parameter_set) or None)

    def close(self) -> None:
        self.conn.close()

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


def load_snapshots(conn: duckdb.DuckDBPyConnection, snapshots: Path) -> None:
    """Every table snapshot of the suite, typed as declared, into schema `mf_src`."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for f in sorted(snapshots.rglob("*.yaml")):
        snap = yaml.load(f.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["table_snapshot"]
        cols = snap["column_definitions"]
        ddl = ", ".join(f'"{c["name"]}" {TYPES[c["type"]]}' for c in cols)
        conn.execute(f'CREATE TABLE {SCHEMA}."{snap["table_name"]}" ({ddl})')
        rows = snap.get("rows") or []
        if rows:
            marks = ", ".join(f"CAST(? AS {TYPES[c['type']]})" for c in cols)
            conn.executemany(f'INSERT INTO {SCHEMA}."{snap["table_name"]}" VALUES ({marks})', [list(r) for r in rows])


def manifest_folder(manifests: Path, name: str, into: Path) -> Path:
    """A copy of one manifest folder that MetricFlow's parser reads: the suite stores the shared
    project configuration as a file holding the relative path to it, so that path is followed."""
    src = manifests / name
    dst = into / name
    for f in src.rglob("*"):
        if not f.is_file() or f.suffix not in (".yaml", ".yml"):
            continue
        text = f.read_text()
        if "\n" not in text.strip() and text.strip().endswith((".yaml", ".yml")) and ":" not in text:
            text = (f.parent / text.strip()).read_text()
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return dst


class Oracle:
    """MetricFlow engines for the suite's manifests, sharing one DuckDB with every table."""

    def __init__(self, suite: Path) -> None:
        self.suite = suite
        self.conn = duckdb.connect()
        load_snapshots(self.conn, suite / "source_table_snapshots")
        self._tmp = tempfile.TemporaryDirectory(prefix="mf-oracle-")
        self._engines: dict[str, MetricFlowEngine] = {}

    def run_sql(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of SQL run on the suite's tables (MetricFlow's, corrected)."""
        cur = self.conn.execute(sql)
        return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]

    def engine(self, manifest: str) -> MetricFlowEngine:
        if manifest not in self._engines:
            folder = manifest_folder(self.suite / "semantic_manifest_yamls", manifest, Path(self._tmp.name))
            built = parse_directory_of_yaml_files_to_semantic_manifest(
                str(folder), template_mapping={"source_schema": SCHEMA}
            )
            lookup = SemanticManifestLookup(built.semantic_manifest)
            self._engines[manifest] = MetricFlowEngine(lookup, DuckDbClient(self.conn))
        return self._engines[manifest]

    def query(
        self,
        manifest: str,
        metrics: Sequence[str] = (),
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        saved_query: str | None = None,
        apply_group_by: bool = True,
    ) -> tuple[list[str], list[tuple[Any, ...]], str]:
        """Column names, rows and the SQL MetricFlow ran.

        MetricFlow takes date parts only as objects, not as names (`metric_time__extract_dow`
        does not parse), so a query naming one is passed as objects, as its own tests do."""
        engine = self.engine(manifest)
        objects = any("__extract_" in n for n in [*group_by, *order_by])
        if objects:
            custom = set(engine._semantic_manifest_lookup.semantic_model_lookup.custom_granularity_names)
            by: Any = [self._param(n, GRAINS | custom) for n in group_by] or None
            order: Any = [
                OrderByParameter(
                    MetricParameter(n.lstrip("-"))
                    if n.lstrip("-") in metrics
                    else self._param(n.lstrip("-"), GRAINS | custom),
                    descending=n.startswith("-"),
                )
                for n in order_by
            ] or None
        request = MetricFlowQueryRequest.create(
            saved_query_name=saved_query,
            metric_names=list(metrics) or None,
            group_by_names=None if objects else (list(group_by) or None),
            group_by=by if objects else None,
            where_constraints=list(where) or None,
            order_by_names=None if objects else (list(order_by) or None),
            order_by=order if objects else None,
            limit=limit,
            time_constraint_start=start,
            time_constraint_end=end,
            apply_group_by=apply_group_by,
        )
        result = engine.query(request)
        table = result.result_df
        assert table is not None
        return list(table.column_names), [tuple(r) for r in table.rows], result.sql or ""

    @staticmethod
    def _param(name: str, grains: set[str]) -> Any:
        base, _, last = name.rpartition("__")
        if last.startswith("extract_"):
            return TimeDimensionParameter(base, date_part=DatePart(last.removeprefix("extract_")))
        if base and last in grains:
            return TimeDimensionParameter(base, grain=last)
        return DimensionOrEntityParameter(name)
