"""The documentation cannot fall behind the package.

`make docs` (run by `make test`) builds the pages with warnings as errors; these tests
check what a warning-free build would not: that every public module has a reference
page, that every name of a module's ``__all__`` is documented on it (autosummary
generates the pages from ``__all__``; the test runs that generation and reads its
output), and that every notebook is in the user guide.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import poolkit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_INDEX = DOCS / "api" / "index.rst"

PUBLIC_MODULES = sorted(
    m.name for m in pkgutil.iter_modules(poolkit.__path__) if not m.name.startswith("_")
)


def test_every_public_module_is_listed_in_the_api_reference() -> None:
    listed = set(re.findall(r"^\s+poolkit\.(\w+)\s*$", API_INDEX.read_text(encoding="utf-8"), re.M))
    assert set(PUBLIC_MODULES) - listed == set(), "add the module to docs/api/index.rst"
    assert listed - set(PUBLIC_MODULES) == set(), "docs/api/index.rst lists a module that does not exist"
    exported = set(poolkit.__all__) - {"__version__"}
    assert exported <= set(PUBLIC_MODULES)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The API pages that autosummary generates from the sources (as `make docs` does)."""
    pytest.importorskip("sphinx", reason="the docs extra is not installed (make docs installs it)")
    out = tmp_path_factory.mktemp("api")
    subprocess.run(
        [sys.executable, "-m", "sphinx.ext.autosummary.generate", "-a",
         "-t", str(DOCS / "_templates"), "-o", str(out), str(API_INDEX)],
        cwd=DOCS, check=True, capture_output=True, text=True, timeout=300,
    )
    return out


@pytest.mark.slow  # imports every module and runs autosummary: about 10 s
@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_is_documented(generated: Path, module: str) -> None:
    page = (generated / f"poolkit.{module}.rst").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. auto(?:function|class|exception|data):: (\w+)\s*$", page, re.M))
    public = set(importlib.import_module(f"poolkit.{module}").__all__)
    assert public - documented == set(), f"names of poolkit.{module}.__all__ missing from its API page"
    assert documented <= public


def test_every_notebook_is_in_the_user_guide() -> None:
    guide = (DOCS / "guide" / "index.md").read_text(encoding="utf-8")
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks, "no notebooks where docs/conf.py looks for them"
    for notebook in notebooks:
        assert f"../notebooks/{notebook.name}" in guide, f"{notebook.name} has no row in docs/guide/index.md"


BUILT = DOCS / "_build" / "html"


@pytest.mark.skipif(not (BUILT / "index.html").exists(), reason="docs not built (make docs; make test builds them)")
def test_built_pages_are_static_and_the_notebooks_ran() -> None:
    pages = sorted(BUILT.rglob("*.html"))
    remote = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)
    loading = [p.relative_to(BUILT) for p in pages if remote.search(p.read_text(encoding="utf-8"))]
    assert loading == [], "pages that load a script, style or image from the network"
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        page = (BUILT / "notebooks" / notebook.with_suffix(".html").name).read_text(encoding="utf-8")
        assert page.count('class="cell_output') >= 3, f"{notebook.name} was not executed into the guide"
        assert "<math" in page, f"{notebook.name}: formulas not rendered as MathML"
