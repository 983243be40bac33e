"""Types of the Rust extension ``canary._native``. Use the facade, ``canary``."""

from os import PathLike
from typing import TypedDict

__version__: str

class CanaryError(Exception): ...

class SpecError(CanaryError):
    diagnostics: list[Diagnostic]

class DataError(CanaryError): ...

class QueryError(CanaryError):
    hint: str | None

class InternalError(CanaryError): ...

class Diagnostic:
    code: str
    file: str
    line: int
    column: int
    message: str
    hint: str | None

class Kpi:
    id: str
    name: str | None
    type: str
    version: str
    description: str | None
    owner: str | None
    unit: str | None
    direction: str
    target: float | None
    warn: float | None
    critical: float | None
    tags: list[str]
    file: str

class Product:
    id: str
    version: str
    owner: str
    description: str | None
    location: str
    columns: list[tuple[str, str]]
    dimensions: list[str]
    measures: list[str]
    entities: list[str]
    time_dimension: str | None
    tenant_column: str | None
    file: str

class Dimension:
    name: str
    product: str
    type: str
    granularity: str | None
    description: str | None

class _Request(TypedDict):
    kpis: list[str]
    grain: str | None
    by: list[str]
    filter: str | None
    start: str | None
    end: str | None

class Project:
    def __init__(self, path: str, tenant: str | None = None) -> None: ...
    @property
    def path(self) -> PathLike[str]: ...
    @property
    def tenant(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    def validate(self) -> list[Diagnostic]: ...
    @property
    def kpis(self) -> list[Kpi]: ...
    @property
    def products(self) -> list[Product]: ...
    def dimensions(self, kpi: str | None = None) -> list[Dimension]: ...
    def impact(self, old: str, new: str) -> tuple[str, str, bool]: ...
    def compute(self, request: _Request) -> Result: ...
    def explain(self, request: _Request) -> tuple[str, str, str | None, str | None]: ...
    def lineage(self, request: _Request) -> Lineage: ...
    def verify(self, path: str | None = None, key: str | None = None) -> str: ...

class Lineage:
    def json(self) -> str: ...
    def render(self, format: str) -> str: ...
    def text(self) -> str: ...
    def dot(self) -> str: ...
    def mermaid(self) -> str: ...
    def openlineage(self) -> list[str]: ...

class Result:
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    @property
    def num_rows(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def period_column(self) -> str | None: ...
    @property
    def dimension_columns(self) -> list[str]: ...
    @property
    def kpi_columns(self) -> list[str]: ...
    @property
    def grain(self) -> str | None: ...
    @property
    def kpis(self) -> list[Kpi]: ...
    def text_cells(self, max_rows: int | None = None) -> tuple[list[str], list[bool], list[list[str]], int]: ...
    def to_text(self, max_rows: int | None = None) -> str: ...

def mf_query(
    manifest: str,
    data: str,
    metrics: list[str],
    group_by: list[str],
    where_filters: list[str],
    order_by: list[str],
    limit: int | None,
    start_time: str | None,
    end_time: str | None,
    saved_query: str | None,
    min_max_only: bool,
    apply_group_by: bool,
) -> Result: ...
def validate(path: str, files: list[str]) -> tuple[list[Diagnostic], int, int, str, str]: ...
