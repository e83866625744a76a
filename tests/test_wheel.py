"""The wheel is a product: built from the source distribution, installed into a fresh environment, it
ships the notebooks and runs `poolkit report`, `poolkit notebooks` and `poolkit app` from an empty folder.

The build and the install use uv (from the test environment) with its cache, so a warm run takes
seconds; the report is the real suite on the bundled sample.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(UV is None, reason="uv is not installed")]


# The installed commands run without PYTHONDONTWRITEBYTECODE: the first process that imports a module
# byte-compiles it once for the others (compiling every package at install time costs more).
ENV = {k: v for k, v in os.environ.items()
       if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"))}


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", ENV)
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build sdist + wheel (the wheel from the sdist), install the wheel into a fresh venv."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    run([UV, "build", "--quiet", "--out-dir", str(dist), str(ROOT)])
    [wheel] = sorted(dist.glob("poolkit-*.whl"))
    venv = root / "venv"
    run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)])
    # with the `app` extra (Voilà) for `poolkit app`
    run([UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"poolkit[app] @ {wheel.as_uri()}"])
    yield {"root": root, "wheel": wheel, "venv": venv, "bin": venv / "bin"}
    shutil.rmtree(root, ignore_errors=True)


def test_the_wheel_ships_every_numbered_notebook_once(installed):
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        shipped = {Path(n).name: wheel.read(n) for n in wheel.namelist() if n.startswith("poolkit/notebooks/")}
        assert not [n for n in wheel.namelist() if n.endswith(".ipynb") and not n.startswith("poolkit/notebooks/")]
    assert shipped == {nb.name: nb.read_bytes() for nb in NOTEBOOKS}  # the repository's, byte for byte
    assert "06_explorers.ipynb" in shipped  # the app's notebook too


def test_installed_poolkit_runs_the_suite_from_an_empty_folder(installed, tmp_path):
    # two notebooks (one reads the benchmark sample too) keep this within a minute; every notebook is
    # shipped (above) and every one runs in tests/test_notebooks.py
    work = tmp_path / "empty"
    work.mkdir()
    result = run([str(installed["bin"] / "poolkit"), "report", "--name", "smoke", "--notebooks", "01", "02",
                  "--quiet"], cwd=work)
    folder = work / "reports" / "smoke"
    assert result.stdout.strip() == str(Path("reports") / "smoke")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok"
    site = installed["venv"].resolve()
    ran = [Path(e["notebook"]) for e in manifest["notebooks"]]
    assert [p.name for p in ran] == [nb.name for nb in NOTEBOOKS[:2]]
    assert all(p.resolve().is_relative_to(site) and p.parent.name == "notebooks" for p in ran)  # package data
    assert manifest["python"]["executable"].startswith(str(installed["venv"]))
    for nb in NOTEBOOKS[:2]:
        assert (folder / f"{nb.stem}.html").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["reports"]  # nothing else written in the folder


def test_installed_poolkit_copies_notebooks_and_runs_the_copies(installed, tmp_path):
    poolkit = str(installed["bin"] / "poolkit")
    mine = tmp_path / "mine"
    (mine).mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    run([poolkit, "notebooks", "copy", str(mine)], cwd=tmp_path)
    assert sorted(p.name for p in mine.iterdir()) == sorted([nb.name for nb in NOTEBOOKS] + ["notes.txt"])
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"
    refused = subprocess.run([poolkit, "notebooks", "copy", str(mine)], capture_output=True, text=True, cwd=tmp_path,
                             env=ENV)
    assert refused.returncode == 2 and "already holds 01_data_loading.ipynb" in refused.stderr
    listed = run([poolkit, "notebooks", "list"], cwd=tmp_path).stdout.split()
    assert [Path(p).name for p in listed] == [nb.name for nb in NOTEBOOKS]
    run([poolkit, "report", "--name", "mine", "--notebooks-dir", str(mine), "--notebooks", "01", "--quiet"],
        cwd=tmp_path)
    manifest = json.loads((tmp_path / "reports" / "mine" / "manifest.json").read_text(encoding="utf-8"))
    assert [e["notebook"] for e in manifest["notebooks"]] == [str(mine / "01_data_loading.ipynb")]
    app = run([poolkit, "app", "--dry-run", "--port", "8931"], cwd=tmp_path).stdout
    served = next(line for line in app.splitlines() if "serving" in line).split("serving ")[1]
    assert Path(served).is_file() and Path(served).resolve().is_relative_to(installed["venv"].resolve())
