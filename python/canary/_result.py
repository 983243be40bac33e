"""Results: Arrow without copies, tables for notebooks, plots."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from canary import _native
from canary._native import Kpi

if TYPE_CHECKING:  # optional dependencies, imported when used
    import matplotlib.axes
    import matplotlib.figure
    import pandas
    import polars
    import pyarrow

#: Rows shown by ``repr`` and in notebooks.
DISPLAY_ROWS = 20


class Result:
    """Computed values: one row per period and dimension values, one column per KPI.

    A ``Result`` implements the Arrow PyCapsule interface (``__arrow_c_stream__``), so
    ``pyarrow.table(r)``, ``polars.from_arrow(r)`` and ``duckdb.sql("select * from r")``
    read its buffers directly; :meth:`to_arrow`, :meth:`to_pandas` and :meth:`to_polars`
    are shortcuts.

    >>> r = project.compute("completed_orders", grain="year", start="2024-01", end="2026-01")
    >>> r
    canary.Result: 2 rows × 2 columns, grain year
    period  completed_orders
    ──────  ────────────────
    2024               98050
    2025              109706
    (2 rows)
    >>> len(r), r.kpi_columns
    (2, ['completed_orders'])
    """

    def __init__(self, native: _native.Result) -> None:
        self._native = native

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The result as an Arrow C stream (a PyCapsule), for any Arrow consumer."""
        return self._native.__arrow_c_stream__(requested_schema)

    def __len__(self) -> int:
        return self._native.num_rows

    @property
    def num_rows(self) -> int:
        return self._native.num_rows

    @property
    def column_names(self) -> list[str]:
        """Column names, in order: period, dimensions, KPIs."""
        return self._native.column_names

    @property
    def period_column(self) -> str | None:
        """The column holding the start of each period, if the result has one."""
        return self._native.period_column

    @property
    def dimension_columns(self) -> list[str]:
        return self._native.dimension_columns

    @property
    def kpi_columns(self) -> list[str]:
        """The KPI (or MetricFlow metric) columns."""
        return self._native.kpi_columns

    @property
    def grain(self) -> str | None:
        """The grain of the period column (``None`` for MetricFlow queries, whose grain is
        in the column name)."""
        return self._native.grain

    @property
    def kpis(self) -> dict[str, Kpi]:
        """The declared KPIs of the KPI columns (empty for MetricFlow queries)."""
        return {k.id: k for k in self._native.kpis}

    def to_arrow(self) -> pyarrow.Table:
        """The result as a ``pyarrow.Table`` (no copy)."""
        import pyarrow

        return pyarrow.table(self)

    def to_pandas(self) -> pandas.DataFrame:
        """The result as a ``pandas.DataFrame`` (needs pandas)."""
        return self.to_arrow().to_pandas()

    def to_polars(self) -> polars.DataFrame:
        """The result as a ``polars.DataFrame`` (needs polars)."""
        try:
            import polars
        except ImportError:
            raise ImportError("to_polars() needs polars: pip install 'canary[polars]'") from None
        frame = polars.from_arrow(self.to_arrow())
        assert isinstance(frame, polars.DataFrame)  # a Table becomes a DataFrame (a Series comes of an array)
        return frame

    def to_text(self, max_rows: int | None = None) -> str:
        """The first ``max_rows`` rows (all by default) as an aligned table, as the CLI
        prints it: periods labelled at the grain, floats with up to four decimals."""
        return self._native.to_text(max_rows)

    def __repr__(self) -> str:
        grain = f", grain {self.grain}" if self.grain else ""
        head = f"canary.Result: {self.num_rows} rows × {len(self.column_names)} columns{grain}"
        return f"{head}\n{self.to_text(DISPLAY_ROWS).rstrip()}"

    def _repr_html_(self) -> str:
        headers, numeric, rows, total = self._native.text_cells(DISPLAY_ROWS)
        align = ['style="text-align:right"' if n else 'style="text-align:left"' for n in numeric]
        out = ['<table class="canary-result">', "<thead><tr>"]
        out += [f"<th {a}>{html.escape(h)}</th>" for h, a in zip(headers, align, strict=True)]
        out.append("</tr></thead><tbody>")
        for row in rows:
            out.append(
                "<tr>" + "".join(f"<td {a}>{html.escape(c)}</td>" for c, a in zip(row, align, strict=True)) + "</tr>"
            )
        out.append("</tbody></table>")
        shown = f"first {len(rows)} of {total} rows" if len(rows) < total else f"{total} rows"
        grain = f", grain {html.escape(self.grain)}" if self.grain else ""
        out.append(f"<p><small>canary.Result: {shown}{grain}</small></p>")
        return "".join(out)

    def plot(self, kpi: str | None = None, ax: matplotlib.axes.Axes | None = None) -> matplotlib.figure.Figure:
        """A matplotlib figure of a KPI over time: one line per combination of dimension
        values, the target as a dashed line, and warn and critical bands where the KPI
        declares thresholds. Without ``kpi``, every KPI column gets its own panel. With
        ``ax``, the KPI is drawn on it. Needs matplotlib.

        >>> fig = project.compute("revenue", by="channel", start="2025-01", end="2026-01").plot()
        >>> [line.get_label() for line in fig.axes[0].get_lines()][:3]
        ['channel=app', 'channel=store', 'channel=web']
        """
        from canary._plot import plot

        return plot(self, kpi, ax)

    def _columns(self) -> dict[str, list[Any]]:
        """Every column as a Python list (for plotting)."""
        return self.to_arrow().to_pydict()
