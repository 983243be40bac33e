"""The package itself: the facade wraps every native symbol, the stubs describe the
extension, the docstring examples run, and the example notebook and its script agree."""

from __future__ import annotations

import ast
import doctest
import inspect
import json
import runpy
from pathlib import Path

import pytest

import canary
from canary import _native
from conftest import ROOT

FACADE = Path(canary.__file__).parent
NOTEBOOK = ROOT / "docs" / "notebook.ipynb"
SCRIPT = ROOT / "docs" / "notebook.py"


def public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_") or n in {"__version__", "__arrow_c_stream__"}}


def facade_source() -> str:
    return "\n".join(p.read_text() for p in sorted(FACADE.glob("*.py")))


def test_every_native_symbol_is_wrapped_by_the_facade():
    source = facade_source()
    for name in public(_native):
        obj = getattr(_native, name)
        if hasattr(canary, name) and getattr(canary, name) is obj:
            continue  # re-exported as is (exceptions, read-only descriptions, __version__)
        assert f"_native.{name}" in source, f"canary._native.{name} is not used by the facade"
        if inspect.isclass(obj):
            for member in public(obj):
                assert f".{member}" in source, f"canary._native.{name}.{member} is not used by the facade"
    # What the facade exports exists.
    for name in canary.__all__:
        assert hasattr(canary, name), name


def test_the_stubs_describe_the_extension():
    stub = ast.parse((FACADE / "_native.pyi").read_text())
    declared = {}
    for node in stub.body:
        if isinstance(node, ast.ClassDef):
            declared[node.name] = {
                n.target.id if isinstance(n, ast.AnnAssign) else n.name
                for n in node.body
                if isinstance(n, (ast.AnnAssign, ast.FunctionDef))
            }
        elif isinstance(node, ast.FunctionDef):
            declared[node.name] = set()
        elif isinstance(node, ast.AnnAssign):
            declared[node.target.id] = set()
    native = {n for n in public(_native)}
    stub_public = {n for n in declared if not n.startswith("_") or n == "__version__"}
    assert stub_public == native
    for name in native:
        obj = getattr(_native, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            members = public(obj) - {"__arrow_c_stream__"} if name != "Result" else public(obj)
            assert members <= declared[name] | {"__init__"}, (
                f"{name}: {sorted(members - declared[name])} not in the stub"
            )
    assert (FACADE / "py.typed").exists()


def test_exceptions_form_one_hierarchy():
    for e in (canary.SpecError, canary.DataError, canary.QueryError, canary.InternalError):
        assert issubclass(e, canary.CanaryError) and e.__module__ == "canary"
    assert issubclass(canary.CanaryError, Exception)


@pytest.mark.parametrize("module", ["canary", "canary._project", "canary._result"])
def test_docstring_examples_run(module, monkeypatch):
    import importlib

    monkeypatch.chdir(ROOT)
    mod = importlib.import_module(module)
    project = canary.Project("examples/retail")
    failures, tried = doctest.testmod(
        mod, extraglobs={"canary": canary, "project": project}, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert tried > 0 and failures == 0


def notebook_code() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = ["".join(c["source"]).strip() for c in cells if c["cell_type"] == "code"]
    return "\n\n".join(code) + "\n"


def test_the_notebook_is_committed_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None


def test_the_script_is_the_notebook():
    """docs/notebook.py is the notebook's code cells, in order (apart from comments)."""

    def code_lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]

    assert code_lines(SCRIPT.read_text()) == code_lines(notebook_code())


def test_the_notebook_script_runs(monkeypatch, tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(ROOT)
    namespace = runpy.run_path(str(SCRIPT), run_name="__main__")
    assert isinstance(namespace["result"], canary.Result) and len(namespace["df"]) == 36
    namespace["fig"].savefig(tmp_path / "revenue.png")
    assert (tmp_path / "revenue.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "SELECT" in out and "did you mean `revenue`" in out
