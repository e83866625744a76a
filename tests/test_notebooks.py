"""Every notebook runs on its defaults, is stored without outputs and declares `out_dir`.

Numbers are tested in the module tests; this file checks that the teaching and
report notebooks run end to end through papermill in the poolkit kernel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_name.ipynb notebook"


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
