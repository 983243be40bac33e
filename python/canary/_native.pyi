"""Types of the Rust extension ``canary._native``. Use the facade, ``canary``."""

from os import PathLike
from typing import Optional, TypedDict

__version__: str

class CanaryError(Exception): ...

class SpecError(CanaryError):
    diagnostics: list[Diagnostic]

class DataError(CanaryError): ...

class QueryError(CanaryError):
    hint: Optional[str]

class InternalError(CanaryError): ...

class Diagnostic:
    code: str
    file: str
    line: int
    column: int
    message: str
    hint: Optional[str]

class Kpi:
    id: str
    name: Optional[str]
    type: str
    version: str
    description: Optional[str]
    owner: Optional[str]
    unit: Optional[str]
    direction: str
    target: Optional[float]
    warn: Optional[float]
    critical: Optional[float]
    tags: list[str]
    file: str

class Product:
    id: str
    version: str
    owner: str
    description: Optional[str]
    location: str
    columns: list[tuple[str, str]]
    dimensions: list[str]
    measures: list[str]
    entities: list[str]
    time_dimension: Optional[str]
    tenant_column: Optional[str]
    file: str

class Dimension:
    name: str
    product: str
    type: str
    granularity: Optional[str]
    description: Optional[str]

class _Request(TypedDict):
    kpis: list[str]
    grain: Optional[str]
    by: list[str]
    filter: Optional[str]
    start: Optional[str]
    end: Optional[str]

class Project:
    def __init__(self, path: str, tenant: Optional[str] = None) -> None: ...
    @property
    def path(self) -> PathLike[str]: ...
    @property
    def tenant(self) -> Optional[str]: ...
    @property
    def name(self) -> str: ...
    def validate(self) -> list[Diagnostic]: ...
    @property
    def kpis(self) -> list[Kpi]: ...
    @property
    def products(self) -> list[Product]: ...
    def dimensions(self, kpi: str) -> list[Dimension]: ...
    def compute(self, request: _Request) -> Result: ...
    def explain(self, request: _Request) -> tuple[str, str, Optional[str], Optional[str]]: ...
    def lineage(self, request: _Request) -> Lineage: ...
    def verify(self, path: Optional[str] = None, key: Optional[str] = None) -> str: ...

class Lineage:
    def json(self) -> str: ...
    def text(self) -> str: ...
    def dot(self) -> str: ...
    def mermaid(self) -> str: ...
    def openlineage(self) -> list[str]: ...

class Result:
    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...
    @property
    def num_rows(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def period_column(self) -> Optional[str]: ...
    @property
    def dimension_columns(self) -> list[str]: ...
    @property
    def kpi_columns(self) -> list[str]: ...
    @property
    def grain(self) -> Optional[str]: ...
    @property
    def kpis(self) -> list[Kpi]: ...
    def text_cells(self, max_rows: Optional[int] = None) -> tuple[list[str], list[bool], list[list[str]], int]: ...
    def to_text(self, max_rows: Optional[int] = None) -> str: ...

def mf_query(
    manifest: str,
    data: str,
    metrics: list[str],
    group_by: list[str],
    where_filters: list[str],
    order_by: list[str],
    limit: Optional[int],
    start_time: Optional[str],
    end_time: Optional[str],
    saved_query: Optional[str],
) -> Result: ...
