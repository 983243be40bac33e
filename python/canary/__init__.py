"""Canary: KPIs declared once as versioned specs over Parquet data products, computed
in-process by the Rust engine; results are Arrow tables that pandas, polars, pyarrow and
DuckDB read without copying.

>>> import canary
>>> project = canary.Project("examples/retail")
>>> result = project.compute("completed_orders", grain="year", start="2024-01", end="2026-01")
>>> result.to_pandas()["completed_orders"].tolist()
[98050, 109706]
"""

from canary import _native
from canary._lineage import Lineage, Problem, Verification
from canary._native import (
    CanaryError,
    DataError,
    Diagnostic,
    Dimension,
    InternalError,
    Kpi,
    Product,
    QueryError,
    SpecError,
)
from canary._project import Explanation, Impact, Project, Validation, mf_query, validate
from canary._result import Result

__version__: str = _native.__version__

__all__ = [
    "CanaryError",
    "DataError",
    "Diagnostic",
    "Dimension",
    "Explanation",
    "Impact",
    "InternalError",
    "Kpi",
    "Lineage",
    "Problem",
    "Product",
    "Project",
    "QueryError",
    "Result",
    "SpecError",
    "Validation",
    "Verification",
    "__version__",
    "mf_query",
    "validate",
]
