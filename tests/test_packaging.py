"""The set-up files agree with each other and the package imports cheaply."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    """Distribution name of a requirement string, normalised (PEP 503), extras dropped."""
    name = re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_names_the_same_runtime_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    for extra in ("dask", "app"):
        wanted |= {_name(r) for r in extras[extra]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    # packages only on PyPI are installed by conda's pip section
    conda |= {_name(d) for d in env["dependencies"] if isinstance(d, dict) for d in d.get("pip", [])
              if not d.startswith("-")}
    # conda-forge splits dask[distributed] into dask + distributed
    conda_as_pip = (conda - {"distributed"})
    assert conda_as_pip == wanted, (
        f"only in environment.yml: {sorted(conda_as_pip - wanted)}; only in pyproject: {sorted(wanted - conda_as_pip)}"
    )
    assert any(isinstance(d, dict) and "-e ." in d.get("pip", []) for d in env["dependencies"])


def test_import_poolkit_is_light():
    code = "import sys, poolkit, poolkit.data; print(sorted(m for m in ('scipy', 'matplotlib', 'papermill', 'ipywidgets', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_finance_modules_never_import_upward():
    names = r"(plotting|widgets|reporting|cli|batch)"
    upward = re.compile(
        rf"^\s*(from\s+poolkit\.{names}\b|from\s+poolkit\s+import\s+[^\n]*\b{names}\b|import\s+poolkit\.{names}\b)",
        re.M,
    )
    # the pattern itself must catch every spelling of an upward import
    for spelling in ("from poolkit import plotting", "    from poolkit.reporting import record",
                     "import poolkit.widgets", "from poolkit import risk, cli"):
        assert upward.search(spelling), spelling
    assert not upward.search("from poolkit import risk, data")
    heavy_top = re.compile(r"^(from|import)\s+(matplotlib|papermill|ipywidgets|scipy|sklearn|dask)\b", re.M)
    for name in ("data", "risk", "allocation", "pooling", "credit", "funds", "_numerics", "_validation"):
        paths = [ROOT / "poolkit" / f"{name}.py", *sorted((ROOT / "poolkit" / name).glob("*.py"))]
        for path in [p for p in paths if p.exists()]:
            text = path.read_text(encoding="utf-8")
            assert not upward.search(text), f"{path.name} imports a presentation module"
            assert not heavy_top.search(text), f"{path.name} imports a heavy module at top level"


def test_notebooks_are_kept_once_and_shipped_by_the_build_step():
    # one copy in the repository (notebooks/); the wheel gets poolkit/notebooks/ from setup.py's build step
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "*.ipynb"], capture_output=True, text=True)
    if tracked.returncode != 0:
        import pytest

        pytest.skip("not a git checkout")
    assert tracked.stdout.split() and all(p.startswith("notebooks/") for p in tracked.stdout.split())
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert "include notebooks/[0-9][0-9]_*.ipynb" in manifest  # the source distribution carries them
    assert "build_py" in (ROOT / "setup.py").read_text(encoding="utf-8")
