"""Seeded random MetricFlow queries over a manifest, drawn from what MetricFlow itself says
is queryable: its metric list and, for each set of metrics, its set of common group-by items
(entity paths of every length, every grain including sub-daily and custom ones, date parts).

Filters are written in MetricFlow's template language with values read from the data (through
MetricFlow), so that they select something. Nothing here imports Canary.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from metricflow.engine.metricflow_engine import MetricFlowEngine
from metricflow_semantic_interfaces.references import MetricReference
from metricflow_semantic_interfaces.type_enums.metric_type import MetricType

from oracle import Oracle

SUB_DAILY = ("nanosecond", "microsecond", "millisecond", "second", "minute", "hour")
COARSE = ("day", "week", "month", "quarter", "year")


@dataclass
class Query:
    """One generated query and the feature classes it exercises."""

    manifest: str
    metrics: list[str] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    limit: int | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    saved_query: str | None = None
    apply_group_by: bool = True
    tags: set[str] = field(default_factory=set)

    def describe(self) -> str:
        parts = [f"manifest={self.manifest}"]
        for name in ("saved_query", "metrics", "group_by", "where", "order_by", "limit", "start", "end"):
            v = getattr(self, name)
            if v:
                parts.append(f"{name}={v!r}")
        if not self.apply_group_by:
            parts.append("apply_group_by=False")
        return " ".join(parts)


@dataclass
class Item:
    name: str
    kind: str  # DIMENSION, TIME_DIMENSION, ENTITY
    properties: frozenset[str]
    grain: str | None
    date_part: str | None
    hops: int


class Space:
    """What one manifest offers, as MetricFlow sees it."""

    def __init__(self, oracle: Oracle, manifest: str) -> None:
        self.oracle = oracle
        self.manifest = manifest
        self.engine: MetricFlowEngine = oracle.engine(manifest)
        lookup = self.engine._semantic_manifest_lookup
        self.metric_lookup = lookup.metric_lookup
        self.metrics = {m.name: m for m in self.engine.list_metrics(include_dimensions=False)}
        self.saved_queries = [s.name for s in self.engine.list_saved_queries()]
        self.measures = {me.name: me for sm in lookup.semantic_manifest.semantic_models for me in sm.measures}
        self._items: dict[tuple[str, ...], list[Item]] = {}
        self._values: dict[tuple[str, str], list[Any]] = {}

    def items(self, metrics: tuple[str, ...]) -> list[Item]:
        if len(metrics) > 1:
            # The common group-by items of several metrics are those every one of them has;
            # asking MetricFlow per combination costs seconds, so intersect the cached sets.
            names = set.intersection(*({i.name for i in self.items((m,))} for m in metrics))
            return [i for i in self.items(metrics[:1]) if i.name in names]
        if metrics not in self._items:
            refs = tuple(MetricReference(m) for m in metrics)
            specs = self.metric_lookup.get_common_group_by_items(metric_references=refs).annotated_specs
            out = []
            for a in specs:
                props = frozenset(p.name for p in a.property_set)
                grain = a.time_grain.name.lower() if a.time_grain is not None else None
                part = a.date_part.name.lower() if a.date_part is not None else None
                out.append(Item(a.spec.dunder_name, a.element_type.name, props, grain, part, len(a.spec.entity_links)))
            out.sort(key=lambda i: i.name)
            self._items[metrics] = out
        return self._items[metrics]

    def no_metric_items(self) -> list[Item]:
        """Group-by items of a query without metrics: every dimension and entity of the manifest."""
        return [i for m in self.metrics for i in self.items((m,)) if "METRIC_TIME" not in i.properties]

    def metric_kind(self, name: str) -> str:
        m = self.metrics[name]
        kind = m.type.name.lower()
        if m.type is MetricType.SIMPLE or m.type is MetricType.CUMULATIVE:
            pydantic = self.metric_lookup.get_metric(MetricReference(name))
            tp = pydantic.type_params
            measure = tp.measure
            spine = getattr(tp, "join_to_timespine", False) or getattr(tp, "fill_nulls_with", None) is not None
            if measure is not None and (measure.join_to_timespine or measure.fill_nulls_with is not None):
                spine = True
            if spine:
                kind += "+timespine"
            semi = getattr(tp, "non_additive_dimension", None)
            if measure is not None and measure.name in self.measures:
                semi = semi or self.measures[measure.name].non_additive_dimension
            if semi is not None:
                kind += "+semi_additive"
        return kind

    def values(self, group_by: str, metric: str | None) -> list[Any]:
        """Distinct values of one group-by (for filters and time constraints), via MetricFlow."""
        key = (group_by, metric or "")
        if key not in self._values:
            try:
                _, rows, _ = self.oracle.query(self.manifest, [metric] if metric else [], [group_by])
                vals = sorted({r[0] for r in rows if r[0] is not None}, key=str)
            except Exception:
                vals = []
            self._values[key] = vals
        return self._values[key]


def literal(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dt.datetime):
        return f"'{v.isoformat(sep=' ')}'"
    return "'" + str(v).replace("'", "''") + "'"


class Generator:
    def __init__(self, space: Space, seed: int) -> None:
        self.s = space
        self.r = random.Random(seed)

    def pick_group_bys(self, items: list[Item], n: int, q: Query) -> None:
        r = self.r
        if not items:
            return
        # Favour metric_time, then spread over kinds so that rare ones are asked too.
        buckets: dict[str, list[Item]] = {}
        for i in items:
            if "METRIC_TIME" in i.properties:
                key = "metric_time"
            elif i.kind == "ENTITY":
                key = "entity"
            elif i.date_part:
                key = "date_part"
            elif i.grain in SUB_DAILY:
                key = "sub_daily"
            elif i.grain is not None and i.grain not in COARSE:
                key = "custom_grain"
            elif i.kind == "TIME_DIMENSION":
                key = "time_dimension"
            else:
                key = "dimension"
            buckets.setdefault(key, []).append(i)
        chosen: list[Item] = []
        for _ in range(n):
            key = r.choice(sorted(buckets))
            item = r.choice(buckets[key])
            # One time grain per time dimension: MetricFlow refuses two of one dimension only in
            # some cases; keep the generated queries in the common subset.
            if any(c.name == item.name for c in chosen):
                continue
            chosen.append(item)
        for c in chosen:
            q.group_by.append(c.name)
            q.tags.add(f"group_by:{classify(c)}")
            if c.hops >= 2:
                q.tags.add("multi_hop")

    def with_values(self, candidates: list[Item], metric: str | None) -> tuple[Item, list[Any]] | None:
        """One of `candidates`, drawn at random, with its values in the data (`None` when there
        is no candidate or it has no value)."""
        if not candidates:
            return None
        item = self.r.choice(candidates)
        vals = self.s.values(item.name, metric)
        return (item, vals) if vals else None

    def where(self, q: Query, items: list[Item]) -> None:
        r = self.r
        kind = r.choice(["Dimension", "TimeDimension", "Entity", "Metric"])
        metric = q.metrics[0] if q.metrics else None
        if kind == "Dimension":
            picked = self.with_values([i for i in items if i.kind == "DIMENSION"], metric)
            if picked is None:
                return
            d, vals = picked
            v = r.choice(vals)
            op = r.choice(["=", "!=", "IN"]) if not isinstance(v, bool) else "="
            expr = f"{{{{ Dimension('{d.name}') }}}}"
            text = f"{expr} IN ({literal(v)})" if op == "IN" else f"{expr} {op} {literal(v)}"
            if r.random() < 0.2:
                text = f"{expr} IS NULL OR {text}"
        elif kind == "TimeDimension":
            times = [i for i in items if i.kind == "TIME_DIMENSION" and i.grain in ("day", "month") and not i.date_part]
            picked = self.with_values(times, metric)
            if picked is None:
                return
            t, vals = picked
            base = t.name.rsplit("__", 1)[0]
            v = r.choice(vals)
            text = f"{{{{ TimeDimension('{base}', '{t.grain}') }}}} {r.choice(['>=', '<', '='])} {literal(v)}"
        elif kind == "Entity":
            picked = self.with_values([i for i in items if i.kind == "ENTITY"], metric)
            if picked is None:
                return
            e, vals = picked
            text = f"{{{{ Entity('{e.name}') }}}} {r.choice(['=', '!='])} {literal(r.choice(vals))}"
        else:
            ents = [i for i in items if i.kind == "ENTITY" and i.hops <= 1]
            if not ents:
                return
            e = r.choice(ents)
            local = e.name.split("__")[-1]
            candidates = [
                m
                for m in sorted(self.s.metrics)
                if any(i.kind == "ENTITY" and i.name == local for i in self.s.items((m,)))
            ]
            if not candidates:
                return
            m = r.choice(candidates)
            threshold = r.choice([0, 1, 2, 3, 5])
            text = f"{{{{ Metric('{m}', group_by=['{local}']) }}}} > {threshold}"
        q.where.append(text)
        q.tags.add(f"where:{kind}")

    def time_constraint(self, q: Query) -> None:
        vals = self.s.values("metric_time__day", q.metrics[0])
        if len(vals) < 2:
            return
        a, b = sorted(self.r.sample(vals, 2))
        if self.r.random() < 0.2:
            hours = self.r.randint(1, 23)
            a = a + dt.timedelta(hours=hours)
            q.tags.add("time_constraint:sub_daily")
        q.start, q.end = a, b
        q.tags.add("time_constraint")

    def query(self) -> Query:
        r = self.r
        s = self.s
        q = Query(s.manifest)
        roll = r.random()
        if s.saved_queries and roll < 0.05:
            q.saved_query = r.choice(s.saved_queries)
            q.tags.add("saved_query")
            return q
        if roll < 0.15:
            items = s.no_metric_items()
            if not items:
                return self.query()
            self.pick_group_bys(items, r.randint(1, 3), q)
            q.tags.add("no_metrics")
            if r.random() < 0.3:
                self.where(q, items)
            if r.random() < 0.15:
                q.apply_group_by = False
                q.tags.add("no_dedupe")
            return q
        names = sorted(s.metrics)
        q.metrics = r.sample(names, min(len(names), r.choice([1, 1, 1, 2, 2, 3, 4])))
        for m in q.metrics:
            q.tags.add(f"metric:{s.metric_kind(m)}")
        items = s.items(tuple(q.metrics))
        if len(q.metrics) > 1 and not items:
            q.metrics = q.metrics[:1]
            items = s.items(tuple(q.metrics))
        self.pick_group_bys(items, r.choice([0, 1, 1, 2, 2, 3]), q)
        if r.random() < 0.25:
            self.where(q, items)
        if r.random() < 0.2 and any(g.startswith("metric_time") for g in q.group_by):
            self.time_constraint(q)
        if r.random() < 0.15 and q.group_by:
            outs = q.group_by + q.metrics
            q.order_by = [("-" if r.random() < 0.5 else "") + o for o in outs]
            q.limit = r.randint(1, 8)
            q.tags.add("order_limit")
        return q


def classify(i: Item) -> str:
    if "METRIC_TIME" in i.properties:
        base = "metric_time"
    elif i.kind == "ENTITY":
        return "entity" if i.hops <= 1 else "entity_path"
    else:
        base = "dimension" if i.kind == "DIMENSION" else "time_dimension"
    if i.date_part:
        return f"{base}:date_part"
    if i.grain in SUB_DAILY:
        return f"{base}:sub_daily"
    if i.grain is not None and i.grain not in COARSE:
        return f"{base}:custom_grain"
    return base
