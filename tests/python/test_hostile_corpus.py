"""The hostile-input corpus (`testdata/hostile/`, issue 12): every case runs the CLI once on
a project built for it and must end as its `case.yaml` says, within 5 s: the exit code
expected, never killed by a signal, never a panic or an internal error, and, where it
succeeds, the right number (hand-counted in the case, or recomputed here with pandas).
The case format is described in `testdata/hostile/README.md`."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import resource
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from conftest import CANARY_BIN, ROOT, SAMPLE

CORPUS = ROOT / "testdata" / "hostile"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.yaml").is_file())
TIMEOUT = 5.0
#: Address space each command may use: input that makes memory grow without bound aborts
#: (and fails its case as a signal) instead of exhausting the machine.
MEMORY = 4 << 30
NOW = "2026-01-31"
#: What stderr never says, whatever the input: a panic, or an error the product calls its own.
NEVER = ("panicked", "RUST_BACKTRACE", "this is a bug", "internal error")
PROJECTS = ("sample", "none", "init")
CASE_KEYS = {"about", "class", "project", "project_flag", "env", "setup", "args", "expect"}
EXPECT_KEYS = {"exit", "stderr", "stdout", "stderr_absent", "stdout_absent", "files", "oracle"}
ACTIONS = {"write", "append", "copy", "remove", "mkdir", "mkfifo", "symlink", "truncate", "run"}


def classes() -> set[str]:
    """The classes the README documents: the rows of its table under `## Classes`."""
    text = (CORPUS / "README.md").read_text().split("\n## Classes\n", 1)[1]
    return set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.MULTILINE))


def load(name: str) -> dict[str, Any]:
    case = yaml.safe_load((CORPUS / name / "case.yaml").read_text())
    assert isinstance(case, dict), name
    return case


# --- building the inputs ------------------------------------------------------------------


def text(spec: Any, places: dict[str, str]) -> str | bytes:
    """A text as a case writes it: a string (with `{project}`, `{tmp}` replaced), `{hex: …}`
    for bytes that are not UTF-8, or `{head, repeat, times, tail}` for long generated text
    (`repeat` written `times` times, with `{i}` the repetition's number from 1 and `{i-1}`
    the one before)."""
    if isinstance(spec, str):
        for key, value in places.items():
            spec = spec.replace("{" + key + "}", value)
        return spec
    if isinstance(spec, int | float):
        return str(spec)
    assert isinstance(spec, dict), spec
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    unit, times = str(spec.get("repeat", "")), int(spec.get("times", 1))
    if "{i" in unit:
        body = "".join(unit.replace("{i}", str(i)).replace("{i-1}", str(i - 1)) for i in range(1, times + 1))
    else:
        body = unit * times
    return "".join(str(text(p, places)) for p in (spec.get("head", ""), body, spec.get("tail", "")))


def path_text(spec: Any, places: dict[str, str]) -> str:
    """A path as a case writes it; `{hex: …}` for names that are not UTF-8."""
    return os.fsdecode(text(spec, places))


def inside(tmp: Path, project: Path, rel: str) -> Path:
    """`rel` in the project, which must stay below `tmp` (the case's temporary folder): a
    case never writes anywhere else, not through a link into the sample either."""
    path = project / rel
    path = path.parent.resolve() / path.name
    assert path.is_relative_to(tmp.resolve()), f"{rel} is outside the case's folder"
    return path


def uses_data(case: dict[str, Any], name: str) -> bool:
    """Whether the case adds or changes files under the sample's data/ (then data/ is copied)."""
    if (CORPUS / name / "project" / "data").exists():
        return True
    for action in case.get("setup") or []:
        (kind, arg), *_ = action.items()
        if kind == "run":
            continue
        paths = [arg] if isinstance(arg, str) else [arg.get("path"), arg.get("to"), arg.get("from")]
        if any(isinstance(p, str) and p.startswith("data") for p in paths):
            return True
    return False


@pytest.fixture(scope="session")
def init_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `canary init` makes, once; each case gets a copy."""
    folder = tmp_path_factory.mktemp("init") / "project"
    out = subprocess.run(
        [CANARY_BIN, "init", str(folder)], capture_output=True, text=True, timeout=30, env=environment({})
    )
    assert out.returncode == 0, out.stderr
    return folder


def environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CANARY_", "RUST_"))}
    env.update({"CANARY_NOW": NOW, "NO_COLOR": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def build(case: dict[str, Any], name: str, tmp: Path, init_template: Path) -> Path:
    """The case's project (or, for `project: none`, its empty folder), with its files."""
    kind = case["project"]
    work = tmp / "w"
    work.mkdir()
    if kind == "none":
        project = work
    else:
        project = tmp / "p"
        if kind == "init":
            shutil.copytree(init_template, project, symlinks=True)
        else:
            project.mkdir()
            for sub in ("products", "kpis"):
                shutil.copytree(SAMPLE / sub, project / sub)
            shutil.copy(SAMPLE / "canary.yaml", project / "canary.yaml")
            if uses_data(case, name):
                shutil.copytree(SAMPLE / "data", project / "data")
            else:
                (project / "data").symlink_to(SAMPLE / "data", target_is_directory=True)
    overlay = CORPUS / name / "project"
    if overlay.is_dir():
        shutil.copytree(overlay, project, dirs_exist_ok=True)
    return project


def setup(case: dict[str, Any], tmp: Path, project: Path, env: dict[str, str], places: dict[str, str]) -> None:
    """The case's setup actions, in order (the closed list in the README)."""
    for action in case.get("setup") or []:
        assert len(action) == 1, action
        (kind, arg), *_ = action.items()
        assert kind in ACTIONS, f"unknown setup action {kind}"
        if kind == "run":
            out = canary(case, project, tmp / "w", arg, env, places)
            assert out.returncode == 0, f"setup {arg}: {out.stderr!r}"
            continue
        if kind in ("remove", "mkdir", "mkfifo"):
            path = inside(tmp, project, path_text(arg, places))
            if kind == "remove":
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            elif kind == "mkdir":
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.mkfifo(path)
            continue
        if kind == "symlink":
            link = inside(tmp, project, path_text(arg["from"], places))
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path_text(arg["to"], places))
            continue
        if kind == "copy":
            source = inside(tmp, project, path_text(arg["from"], places))
            dest = inside(tmp, project, path_text(arg["to"], places))
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            continue
        path = inside(tmp, project, path_text(arg["path"], places))
        if kind == "truncate":
            with path.open("r+b") as f:
                f.truncate(int(arg["size"]))
            continue
        content = text(arg.get("text", ""), places)
        data = content if isinstance(content, bytes) else content.encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab" if kind == "append" else "wb") as f:
            f.write(data)


def bounded_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def canary(
    case: dict[str, Any], project: Path, cwd: Path, args: list[Any], env: dict[str, str], places: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    argv: list[str | bytes] = [CANARY_BIN]
    if case["project"] != "none" and case.get("project_flag", True):
        argv += ["--project", str(project)]
    argv += [text(a, places) for a in args]
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, env=env, timeout=TIMEOUT, check=False, preexec_fn=bounded_memory
        )
    except subprocess.TimeoutExpired:
        shown = " ".join(os.fsdecode(a) for a in argv[1:])
        pytest.fail(f"hang: `canary {shown[:300]}` did not end within {TIMEOUT} s")


# --- checking the outcome -----------------------------------------------------------------


def net_revenue(tenant: str | None, channels: list[str] | None) -> pd.DataFrame:
    """The sample's completed order lines with their net revenue, read with pandas."""
    o = pd.read_parquet(SAMPLE / "data" / "orders")
    o = o[o["status"] == "completed"]
    if tenant:
        o = o[o["tenant_id"] == tenant]
    if channels:
        o = o[o["channel"].isin(channels)]
    o = o.assign(net=o["quantity"] * o["unit_price"] * (1 - o["discount"].fillna(0.0)))
    return o


def contains(raw: bytes, needle: str | bytes) -> bool:
    """Whether an output holds a text: bytes as they are, a string in its UTF-8 form."""
    return (needle if isinstance(needle, bytes) else needle.encode()) in raw


def check_oracle(oracle: dict[str, Any], stdout: str) -> None:
    """The CSV on stdout against the sample's revenue recomputed with pandas: per `by`
    group, times `factor`, in the column `column`."""
    rows = list(csv.DictReader(io.StringIO(stdout)))
    o = net_revenue(oracle.get("tenant"), oracle.get("channels"))
    by = list(oracle.get("by") or [])
    factor = float(oracle.get("factor", 1))
    column = oracle.get("column", "revenue")
    want = (
        {(): o["net"].sum()}
        if not by
        else {k if isinstance(k, tuple) else (k,): v for k, v in o.groupby(by)["net"].sum().items()}
    )
    got = {tuple(r[b] for b in by): r[column] for r in rows}
    assert set(got) == set(want), (got, want)
    for key, value in want.items():
        assert got[key] != "", f"{key}: NULL, expected {value * factor}"
        assert math.isclose(float(got[key]), value * factor, rel_tol=1e-9), (key, got[key], value * factor)


def check_files(files: list[dict[str, Any]], project: Path, places: dict[str, str]) -> None:
    """Each file as `expect.files` says: its kind (never followed through a link), its text."""
    for f in files:
        rel = path_text(f["path"], places)
        path = Path(rel) if Path(rel).is_absolute() else project / rel
        kind = f.get("kind")
        st = os.lstat(path) if os.path.lexists(path) else None
        if kind == "missing":
            assert st is None, f"{rel} exists"
            continue
        assert st is not None, f"{rel} is missing"
        tests = {
            "file": stat.S_ISREG,
            "symlink": stat.S_ISLNK,
            "folder": stat.S_ISDIR,
            "fifo": stat.S_ISFIFO,
            "char-device": stat.S_ISCHR,
        }
        if kind:
            assert tests[kind](st.st_mode), f"{rel} is no longer a {kind}"
        if "contains" in f:
            assert str(text(f["contains"], places)) in path.read_text(errors="replace"), rel
        if "equals" in f:
            assert path.read_text(errors="replace") == str(text(f["equals"], places)), rel


def test_the_corpus_is_large_and_every_class_documented():
    documented = classes()
    assert len(CASES) >= 80, len(CASES)
    assert len(documented) >= 10, documented
    seen: dict[str, int] = {}
    for name in CASES:
        assert re.fullmatch(r"\d{3}-[a-z0-9-]+", name), name
        case = load(name)
        assert set(case) <= CASE_KEYS, (name, set(case) - CASE_KEYS)
        assert set(case["expect"]) <= EXPECT_KEYS, (name, set(case["expect"]) - EXPECT_KEYS)
        assert case["class"] in documented, (name, case["class"])
        assert case["project"] in PROJECTS, (name, case["project"])
        assert case["expect"]["exit"] in (0, 1, 2), name
        assert case["about"].strip(), name
        seen[case["class"]] = seen.get(case["class"], 0) + 1
    assert set(seen) == documented, documented - set(seen)


@pytest.mark.parametrize("name", CASES)
def test_hostile_case(name: str, tmp_path: Path, init_template: Path):
    case = load(name)
    expect = case["expect"]
    project = build(case, name, tmp_path, init_template)
    places = {"project": str(project), "tmp": str(tmp_path)}
    env = environment(case.get("env") or {})
    setup(case, tmp_path, project, env, places)
    out = canary(case, project, tmp_path / "w", case["args"], env, places)
    stdout = out.stdout.decode(errors="replace")
    stderr = out.stderr.decode(errors="replace")
    shown = f"exit {out.returncode}\n--- stderr:\n{stderr[:3000]}\n--- stdout:\n{stdout[:1500]}"
    assert out.returncode >= 0, f"killed by signal {-out.returncode}\n{shown}"
    for word in NEVER:
        assert word not in stderr, f"stderr says {word!r}\n{shown}"
    assert out.returncode == expect["exit"], shown
    streams = {"stdout": out.stdout, "stderr": out.stderr}
    for stream, raw in streams.items():
        for s in expect.get(stream) or []:
            assert contains(raw, text(s, places)), f"{s!r} not in {stream}\n{shown}"
        for s in expect.get(f"{stream}_absent") or []:
            assert not contains(raw, text(s, places)), f"{s!r} in {stream}\n{shown}"
    if "oracle" in expect:
        check_oracle(expect["oracle"], stdout)
    check_files(expect.get("files") or [], project, places)
