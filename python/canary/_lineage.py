"""Lineage of KPIs and verification of their evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from canary import _native


class Lineage:
    """Column-level lineage of a query: raw sources -> data-product columns -> output columns.

    Read off the plan that computes the query. Each output column lists its source
    columns with OpenLineage's transformation kinds (DIRECT: ``IDENTITY``,
    ``TRANSFORMATION``, ``AGGREGATION``; INDIRECT: ``FILTER``, ``JOIN``, ``GROUP_BY``,
    ``SORT``, ``WINDOW``, ``CONDITIONAL``); ``dataset`` lists what decides the rows of the
    whole result. ``str(lineage)`` is the text form.

    >>> lineage = project.lineage("revenue", grain="month")
    >>> lineage.columns["revenue"][0]["column"], lineage.columns["revenue"][0]["transformations"][0]["subtype"]
    ('discount', 'AGGREGATION')
    >>> lineage.to_mermaid().splitlines()[0]
    'flowchart LR'
    """

    def __init__(self, native: _native.Lineage) -> None:
        self._native = native
        self._dict: dict[str, Any] = json.loads(native.json())

    def to_dict(self) -> dict[str, Any]:
        """Canary's lineage document (see docs/lineage.md): a new dict each call."""
        copy: dict[str, Any] = json.loads(json.dumps(self._dict))
        return copy

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self._dict, indent=indent)

    @property
    def columns(self) -> dict[str, list[dict[str, Any]]]:
        """Inputs of each output column, by column name."""
        return {c["name"]: c["inputs"] for c in self._dict["columns"]}

    @property
    def dataset(self) -> list[dict[str, Any]]:
        """Source columns that decide the rows of the whole result."""
        return list(self._dict["dataset"])

    @property
    def unresolved(self) -> list[str]:
        """What could not be resolved (nothing is guessed); empty for Canary's plans."""
        return list(self._dict["unresolved"])

    def to_dot(self) -> str:
        """A Graphviz graph (``dot -Tsvg``)."""
        return self._native.dot()

    def to_mermaid(self) -> str:
        """A Mermaid flowchart."""
        return self._native.mermaid()

    def render(self, format: str = "text") -> str:
        """The lineage as ``canary lineage --format FORMAT`` prints it: ``text``, ``json``,
        ``openlineage`` (one event per line), ``dot`` or ``mermaid``. OpenLineage events are
        stamped by ``CANARY_NOW`` when it is set, as in the CLI.
        """
        return self._native.render(format)

    def to_openlineage(self) -> list[dict[str, Any]]:
        """OpenLineage RunEvents (spec 2-0-2), stamped now (or at ``CANARY_NOW``): the
        query's event, whose output carries the column-lineage facet, then one per product
        declaring raw sources."""
        return [json.loads(e) for e in self._native.openlineage()]

    def __str__(self) -> str:
        return self._native.text()

    def __repr__(self) -> str:
        names = ", ".join(self.columns)
        return f"<canary.Lineage of {names}>"


@dataclass(frozen=True)
class Problem:
    """Something verification found wrong, and where."""

    file: str
    record: int | None
    message: str
    #: Left by a run that did not finish (its next run removes it).
    uncommitted: bool

    def __str__(self) -> str:
        where = f"record {self.record} ({self.file})" if self.record is not None else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying an evidence log or an exported bundle.

    ``bool(verification)`` is whether everything verified.
    """

    path: str
    bundle: bool
    records: int
    signed: int
    #: The last record's number and hash.
    head: tuple[int, str] | None
    problems: list[Problem] = field(default_factory=list)
    #: Files a run that did not finish left (the next run removes them): not problems.
    leftovers: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok

    @classmethod
    def _from_json(cls, text: str) -> Verification:
        d = json.loads(text)
        head: tuple[int, str] | None = None
        if d["head"] is not None:
            number, digest = d["head"]
            head = (number, digest)
        return cls(
            path=d["path"],
            bundle=d["bundle"],
            records=d["records"],
            signed=d["signed"],
            head=head,
            problems=[Problem(**p) for p in d["problems"]],
            leftovers=[Problem(**p) for p in d.get("leftovers", [])],
        )
