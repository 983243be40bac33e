"""Projects, explanations and MetricFlow queries."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from canary import _native
from canary._args import Instant, Names, instant, names, optional_text
from canary._lineage import Lineage, Verification
from canary._native import Diagnostic, Dimension, Kpi, Product
from canary._result import Result

if TYPE_CHECKING:
    from canary._native import _Request

PathLike: TypeAlias = str | os.PathLike[str]


@dataclass(frozen=True)
class Explanation:
    """The plan of a query: as built, as optimized, and as SQL where it can be written so.

    ``str(explanation)`` shows the plan as built, then the SQL.
    """

    logical: str
    optimized: str
    sql: str | None
    #: Why the plan cannot be written as SQL, when it cannot.
    sql_error: str | None

    def __str__(self) -> str:
        sql = self.sql if self.sql is not None else f"-- not expressible as SQL: {self.sql_error}"
        return f"{self.logical}\n\n{sql}"


@dataclass(frozen=True)
class Validation:
    """The outcome of :func:`canary.validate`: every problem of a project, or none.

    ``str(validation)`` and :meth:`to_json` are exactly what ``canary validate`` prints;
    ``bool(validation)`` is whether the project is valid.
    """

    diagnostics: list[Diagnostic]
    #: Products and KPIs of a valid project (0 when there are problems).
    products: int
    kpis: int
    _text: str = field(repr=False)
    _json: str = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self._text

    def to_json(self) -> str:
        """The diagnostics as JSON, as ``canary validate --format json`` prints them."""
        return self._json


def validate(path: PathLike, files: Sequence[PathLike] = ()) -> Validation:
    """Validate the project in ``path`` (specs and data), with extra spec ``files`` checked
    as part of it, as ``canary validate`` does. Problems are the outcome, not an error: a
    project that cannot be opened as a :class:`Project` can still be validated.

    >>> canary.validate("examples/retail").ok
    True
    """
    diagnostics, products, kpis, text, json_text = _native.validate(os.fspath(path), [os.fspath(f) for f in files])
    return Validation(diagnostics, products, kpis, text, json_text)


@dataclass(frozen=True)
class Impact:
    """What changed between two versions of a contract, and which KPIs and dimensions each
    change affects (from :meth:`Project.impact`).

    ``str(impact)`` and :meth:`to_json` are exactly what ``canary impact`` prints.
    """

    #: Whether a breaking change affects a KPI (``canary impact`` then exits 1).
    breaks_kpis: bool
    _text: str = field(repr=False)
    _json: str = field(repr=False)

    def __str__(self) -> str:
        return self._text

    def to_json(self) -> str:
        return self._json

    def to_dict(self) -> dict[str, Any]:
        """The report: ``product``, ``old_version``, ``new_version``, ``changes`` (each with
        ``change``, ``kpis``, ``dimensions``) and ``untraced``."""
        report: dict[str, Any] = json.loads(self._json)
        return report


class Project:
    """A Canary project opened in-process: specs validated, data checked, one engine.

    Opening fails with :class:`canary.SpecError` (listing every problem in
    ``.diagnostics``) when the specs or the data they describe have problems. With
    ``tenant``, every computation is restricted to that tenant's rows.

    >>> project = canary.Project("examples/retail")
    >>> project.name
    'retail'
    >>> "revenue" in project.kpis
    True
    """

    def __init__(self, path: PathLike, tenant: str | None = None) -> None:
        self._native = _native.Project(os.fspath(path), optional_text(tenant, "tenant"))

    def __repr__(self) -> str:
        tenant = f", tenant={self.tenant!r}" if self.tenant is not None else ""
        return f"canary.Project({str(self.path)!r}{tenant}: {len(self.kpis)} KPIs, {len(self.products)} products)"

    @property
    def path(self) -> os.PathLike[str]:
        """The project folder."""
        return self._native.path

    @property
    def name(self) -> str:
        """The project's name, from ``canary.yaml``."""
        return self._native.name

    @property
    def tenant(self) -> str | None:
        """The tenant every computation is restricted to, if any."""
        return self._native.tenant

    def validate(self) -> list[Diagnostic]:
        """Validate the specs and the data as they are on disk now.

        Returns every problem found (an empty list when there is none); each has
        ``code``, ``file``, ``line``, ``column``, ``message`` and ``hint``. The project
        already opened is not changed: open a new :class:`Project` to use edited specs.

        >>> project.validate()
        []
        """
        return self._native.validate()

    @property
    def kpis(self) -> dict[str, Kpi]:
        """The KPIs by id, in project order.

        >>> project.kpis["revenue"].type, project.kpis["revenue"].unit
        ('simple', 'USD')
        """
        return {k.id: k for k in self._native.kpis}

    @property
    def products(self) -> dict[str, Product]:
        """The data-product contracts by id, in project order.

        >>> project.products["orders"].time_dimension
        'ordered_at'
        """
        return {p.id: p for p in self._native.products}

    def dimensions(self, kpi: str | None = None) -> list[Dimension]:
        """The dimensions ``kpi`` can be grouped by (without a KPI: every product's), named
        as ``by=`` takes them, as ``canary list dimensions [--kpi KPI]`` lists them.

        >>> [d.name for d in project.dimensions("revenue")][:3]
        ['ordered_at', 'channel', 'status']
        """
        return self._native.dimensions(optional_text(kpi, "kpi"))

    def impact(self, old: PathLike, new: PathLike) -> Impact:
        """The impact of the contract ``new`` replacing ``old`` on this project's KPIs and
        dimensions, as ``canary impact OLD NEW``: each a contract file, or ``REV:PATH`` for
        the file at a git revision.
        """
        text, json_text, breaks = self._native.impact(os.fspath(old), os.fspath(new))
        return Impact(breaks, text, json_text)

    def compute(
        self,
        kpis: Names,
        grain: str | None = "month",
        by: Names = (),
        where: str | None = None,
        start: Instant | None = None,
        end: Instant | None = None,
    ) -> Result:
        """Compute KPIs: one row per period (and dimension values), one column per KPI.

        ``kpis`` are KPI ids or ``@tag`` selections, one or several. ``grain`` is
        ``hour`` … ``year``, or ``None`` for one row over the whole range. ``by`` names
        dimensions to drill down by (``channel``, ``product.dimension``,
        ``order_date:week``). ``where`` is a SQL condition over dimensions and columns.
        ``start`` (inclusive) and ``end`` (exclusive) are widened to whole periods; they
        take ISO text (``2025``, ``2025-07``, ``2025-07-01``) or dates and datetimes
        (naive ones are UTC). The GIL is released while the engine works; Ctrl-C
        interrupts it.

        >>> r = project.compute(["revenue", "completed_orders"], grain="quarter", by="channel",
        ...                     start="2025-10-01", end="2026-01-01")
        >>> r.column_names
        ['period', 'channel', 'revenue', 'completed_orders']
        >>> r.to_pandas()["completed_orders"].tolist()
        [8889, 13416, 16000]
        """
        return Result(self._native.compute(self._request(kpis, grain, by, where, start, end)))

    def lineage(
        self,
        kpis: Names,
        grain: str | None = None,
        by: Names = (),
        where: str | None = None,
    ) -> Lineage:
        """Column-level lineage of KPIs, read off the plan that computes them.

        Arguments as for :meth:`compute`. Returns a :class:`Lineage`: ``to_dict()``,
        ``to_json()``, ``to_dot()``, ``to_mermaid()``, ``to_openlineage()``.

        >>> project.lineage("revenue").columns["revenue"][-1]["column"]
        'unit_price'
        """
        return Lineage(self._native.lineage(self._request(kpis, grain, by, where, None, None)))

    def verify(self, path: PathLike | None = None, key: PathLike | None = None) -> Verification:
        """Verify the project's evidence log (``canary run`` writes it), or an exported
        bundle at ``path``: every hash, the chain, the signatures and the results.

        With ``key`` (a public key file), every record must be signed by it. Problems
        name the first broken record or file; ``bool(verification)`` is whether all
        verified.

        >>> project.verify().problems
        []
        """
        return Verification._from_json(
            self._native.verify(
                os.fspath(path) if path is not None else None, os.fspath(key) if key is not None else None
            )
        )

    def explain(
        self,
        kpis: Names,
        grain: str | None = "month",
        by: Names = (),
        where: str | None = None,
        start: Instant | None = None,
        end: Instant | None = None,
    ) -> Explanation:
        """The plan :meth:`compute` would run for the same arguments, as text and SQL.

        >>> e = project.explain("completed_orders", grain="year")
        >>> "TableScan: orders" in e.logical
        True
        >>> e.sql.startswith("SELECT")
        True
        """
        logical, optimized, sql, sql_error = self._native.explain(self._request(kpis, grain, by, where, start, end))
        return Explanation(logical, optimized, sql, sql_error)

    @staticmethod
    def _request(
        kpis: Names,
        grain: str | None,
        by: Names,
        where: str | None,
        start: Instant | None,
        end: Instant | None,
    ) -> _Request:
        selected = names(kpis, "kpis")
        if not selected:
            raise ValueError("name at least one KPI (an id or an @tag)")
        return {
            "kpis": selected,
            "grain": optional_text(grain, "grain"),
            "by": names(by, "by"),
            "filter": optional_text(where, "where"),
            "start": instant(start, "start"),
            "end": instant(end, "end"),
        }


def mf_query(
    manifest: PathLike,
    data: PathLike,
    metrics: Names = (),
    group_by: Names = (),
    where: Names | None = None,
    order_by: Names = (),
    limit: int | None = None,
    start_time: Instant | None = None,
    end_time: Instant | None = None,
    saved_query: str | None = None,
    min_max_only: bool = False,
    apply_group_by: bool = True,
) -> Result:
    """Answer a MetricFlow query, as ``canary mf query`` does.

    ``manifest`` is a folder of MetricFlow YAML, a dbt project's property files, or dbt's
    ``semantic_manifest.json``; ``data`` is the folder of Parquet tables it names.
    ``group_by`` takes MetricFlow names (``metric_time__month``,
    ``listing__country_latest``); ``where`` is one filter or a list of them, in
    MetricFlow's filter language; ``order_by`` names outputs, ``-name`` for descending.
    ``min_max_only`` gives only the minimum and maximum of each group-by
    (``--min-max-only``); ``apply_group_by=False`` keeps duplicate rows of a query without
    metrics (``--no-dedupe``, MetricFlow's ``apply_group_by: false``).
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer, not {limit!r}")
    return Result(
        _native.mf_query(
            os.fspath(manifest),
            os.fspath(data),
            names(metrics, "metrics"),
            names(group_by, "group_by"),
            names(where, "where"),
            names(order_by, "order_by"),
            limit,
            instant(start_time, "start_time"),
            instant(end_time, "end_time"),
            optional_text(saved_query, "saved_query"),
            bool(min_max_only),
            bool(apply_group_by),
        )
    )
