"""Result.plot: KPIs over time with targets and threshold bands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure

    from canary._native import Kpi
    from canary._result import Result

#: Colours of the status bands.
WARN_COLOR = "#f2c14e"
CRITICAL_COLOR = "#e4572e"


def plot(result: Result, kpi: str | None, ax: matplotlib.axes.Axes | None) -> matplotlib.figure.Figure:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plot() needs matplotlib: pip install 'canary[plot]'") from None
    period = result.period_column
    if period is None:
        raise ValueError("plot() needs values over time: compute with a grain (or group by metric_time)")
    available = result.kpi_columns
    if kpi is not None and kpi not in available:
        raise ValueError(f"no KPI column {kpi!r} in the result; it has {', '.join(available) or 'none'}")
    chosen = [kpi] if kpi is not None else available
    if not chosen:
        raise ValueError("the result has no KPI columns to plot")
    if ax is not None and len(chosen) > 1:
        raise ValueError(f"one axes, {len(chosen)} KPIs: pass kpi= to choose one ({', '.join(chosen)})")
    columns = result._columns()
    declared = result.kpis
    if ax is None:
        fig, axes = plt.subplots(len(chosen), 1, sharex=True, squeeze=False, figsize=(9, 3.2 * len(chosen)))
        panels = [row[0] for row in axes]
    else:
        # The figure the axes are drawn in (a subfigure's axes: the figure holding it).
        fig, panels = ax.figure.figure, [ax]
    for name, panel in zip(chosen, panels, strict=True):
        draw(panel, name, period, result.dimension_columns, columns, declared.get(name))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def draw(
    ax: matplotlib.axes.Axes,
    name: str,
    period: str,
    dimensions: list[str],
    columns: dict[str, list[Any]],
    kpi: Kpi | None,
) -> None:
    """One KPI on one axes: a line per dimension values, then target and bands."""
    series: dict[tuple[Any, ...], list[tuple[Any, Any]]] = {}
    for i, when in enumerate(columns[period]):
        if when is None:
            continue
        key = tuple(columns[d][i] for d in dimensions)
        series.setdefault(key, []).append((when, columns[name][i]))
    for key in sorted(series, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        points = sorted(series[key], key=lambda p: p[0])
        label = ", ".join(f"{d}={v}" for d, v in zip(dimensions, key, strict=True)) or name
        xs = [p[0] for p in points]
        ys = [float("nan") if p[1] is None else float(p[1]) for p in points]
        ax.plot(xs, ys, marker="o" if len(xs) < 40 else None, markersize=3, label=label)
    if kpi is not None:
        # The target first, so the view includes it; the bands then fill the view.
        if kpi.target is not None:
            ax.axhline(kpi.target, color="#333333", linestyle="--", linewidth=1, label=f"target {kpi.target:g}")
        bands(ax, kpi)
    ax.set_title(kpi.name or kpi.id if kpi is not None else name)
    if kpi is not None and kpi.unit:
        ax.set_ylabel(kpi.unit)
    ax.grid(True, alpha=0.3)
    if len(series) > 1 or (kpi is not None and kpi.target is not None):
        ax.legend(fontsize="small", loc="best")


def bands(ax: matplotlib.axes.Axes, kpi: Kpi) -> None:
    """Warn and critical zones, on the side of the thresholds the KPI's direction makes bad."""
    warn, critical = kpi.warn, kpi.critical
    if warn is None and critical is None:
        return
    low, high = ax.get_ylim()
    if kpi.direction == "higher_is_better":
        if critical is not None:
            ax.axhspan(min(low, critical), critical, color=CRITICAL_COLOR, alpha=0.15, label=f"critical < {critical:g}")
        if warn is not None:
            ax.axhspan(
                critical if critical is not None else min(low, warn),
                warn,
                color=WARN_COLOR,
                alpha=0.15,
                label=f"warn < {warn:g}",
            )
    elif kpi.direction == "lower_is_better":
        if critical is not None:
            ax.axhspan(
                critical, max(high, critical), color=CRITICAL_COLOR, alpha=0.15, label=f"critical > {critical:g}"
            )
        if warn is not None:
            ax.axhspan(
                warn,
                critical if critical is not None else max(high, warn),
                color=WARN_COLOR,
                alpha=0.15,
                label=f"warn > {warn:g}",
            )
    ax.set_ylim(low, high)
