"""Shared fixtures of the wheel's tests: the installed `canary` package, the sample
project, and its data read with pandas (the independent side of every comparison)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "retail"
SHARED = ROOT.parent / "shared"
CANARY_BIN = os.environ.get("CANARY_BIN", str(ROOT / "target" / "debug" / "canary"))


@pytest.fixture(scope="session")
def project():
    import canary

    return canary.Project(SAMPLE)


@pytest.fixture(scope="session")
def orders() -> pd.DataFrame:
    o = pd.read_parquet(SAMPLE / "data" / "orders")
    o["net"] = o["quantity"] * o["unit_price"] * (1 - o["discount"].fillna(0.0))
    return o


@pytest.fixture(scope="session")
def sessions() -> pd.DataFrame:
    s = pd.read_parquet(SAMPLE / "data" / "sessions")
    s["started_at"] = pd.to_datetime(s["started_at"], utc=True)
    return s


@pytest.fixture(scope="session")
def balances() -> pd.DataFrame:
    b = pd.read_parquet(SAMPLE / "data" / "balances")
    b["snapshot_date"] = pd.to_datetime(b["snapshot_date"], utc=True)
    return b


def period(ts: pd.Series, grain: str) -> pd.Series:
    """The start of each timestamp's period, in UTC."""
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    freq = {"month": "M", "quarter": "Q", "year": "Y", "day": "D"}[grain]
    return naive.dt.to_period(freq).dt.start_time.dt.tz_localize("UTC")


def copy_sample(dest: Path) -> Path:
    """A copy of the sample project's specs in `dest`, over the sample's data (linked)."""
    for sub in ("products", "kpis"):
        shutil.copytree(SAMPLE / sub, dest / sub)
    shutil.copy(SAMPLE / "canary.yaml", dest / "canary.yaml")
    (dest / "data").symlink_to(SAMPLE / "data", target_is_directory=True)
    return dest


def require_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"the external suite is missing: {path} (../shared beside the repository)")
    return path
