"""Shared fixtures: the bundled sample and an isolated Jupyter/matplotlib home (removed at the end)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"

# Runs never depend on the home folder: Jupyter, IPython and matplotlib state go to
# a temporary folder created for this test session (set before any kernel starts) and
# removed when the session ends (each xdist worker has its own).
_HOME = Path(tempfile.mkdtemp(prefix="poolkit-tests-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _var, _sub in {
    "JUPYTER_CONFIG_DIR": "jupyter-config",
    "JUPYTER_DATA_DIR": "jupyter-data",
    "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
}.items():
    os.environ[_var] = str(_HOME / _sub)
    (_HOME / _sub).mkdir(parents=True, exist_ok=True)
os.environ["MPLBACKEND"] = "Agg"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's temporary home folder."""
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def prices() -> pd.DataFrame:
    """Bundled daily prices of 20 S&P 500 stocks (never mutate it in a test)."""
    import poolkit as pk

    return pk.data.load_prices("sample")


@pytest.fixture(scope="session")
def returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns of the bundled sample, last ten years (never mutate it)."""
    import poolkit as pk

    return pk.data.to_returns(prices.loc["2013-01-01":])


@pytest.fixture(scope="session")
def notebooks_dir() -> Path:
    """The project's notebooks folder."""
    return NOTEBOOKS_DIR
