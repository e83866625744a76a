"""Every notebook runs on its defaults, is stored without outputs and declares `out_dir`.

Numbers are tested in the module tests; this file checks that the teaching and
report notebooks run end to end through papermill in the poolkit kernel.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _cells(nb: Path, kind: str) -> list[str]:
    data = json.loads(nb.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in data["cells"] if c["cell_type"] == kind]


def test_the_notebooks_are_numbered_in_order_and_listed_in_the_readme():
    numbers = [int(nb.name[:2]) for nb in NOTEBOOKS]
    assert numbers[:6] == list(range(1, 7)) and len(set(numbers)) == len(numbers), [nb.name for nb in NOTEBOOKS]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `(\d\d_\w+)` \|", readme, re.M)  # the README's notebook table
    assert table == [nb.stem for nb in NOTEBOOKS]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_code_cells_stay_thin(nb):
    # at most 3 statements and 3 lines of code per cell, unless the cell is one statement spread
    # over lines; the logic lives in poolkit (STYLE.md section 6)
    for source in _cells(nb, "code")[1:]:  # the parameters cell may be long
        statements = len(ast.parse(source).body)
        lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert statements <= 3 and (len(lines) <= 3 or statements == 1), f"{nb.name}: move logic into poolkit:\n{source}"


def test_pooling_notebook_lists_as_many_mistakes_as_it_announces():
    (nb,) = [p for p in NOTEBOOKS if p.stem == "04_pooling"]
    text = _cells(nb, "markdown")
    (announced,) = {m for cell in text for m in re.findall(r"the (\w+) mistakes", cell)}
    (listing,) = [cell for cell in text if "mistakes, one per function" in cell]
    items = re.findall(r"^\d\. \*\*`(\w+)`", listing, re.M)  # "1. **`calculate_std`..."
    assert NUMBER_WORDS[announced] == len(items) == 4
    # one item per function of the source document's sample code
    assert items == ["calculate_std", "calculate_corr", "calculate_weights", "pool_assets"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean_with_a_parameters_cell(nb):
    data = json.loads(nb.read_text(encoding="utf-8"))
    code = [c for c in data["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs"
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be tagged parameters"
    src = "".join(code[0]["source"])
    assert "out_dir" in src, "every notebook declares out_dir"


@pytest.mark.notebook
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_sample_data(nb, tmp_path):
    import papermill as pm

    from poolkit.reporting import run_notebook

    assert pm.inspect_notebook(str(nb)), f"{nb.name}: no cell tagged 'parameters'"
    out = tmp_path / nb.name
    run_notebook(nb, out, {"out_dir": str(tmp_path / "out")})
    executed = json.loads(out.read_text(encoding="utf-8"))
    errors = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
