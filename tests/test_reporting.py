"""Tests of poolkit.reporting: parameter checks, kernel choice, failures, atomic report runs.

Notebook executions use tiny throwaway notebooks written into tmp_path, so each
runs in about a second; the project's own notebooks are run by test_notebooks.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import poolkit
from poolkit.exceptions import ConfigurationError, ReportError
from poolkit.reporting import record, run_notebook, run_suite, save_tables

KERNELSPEC = {"name": "poolkit", "display_name": "Python (poolkit)", "language": "python"}

PARAMS_A = """source: str = "sample"
n: int = 3
level: float = 0.95
assets: list[str] = []
weights: dict[str, float] = {}
flag: bool = False
out_dir: str = \"\""""

CELLS_A = [
    "import sys\nimport poolkit as pk\nprint(sys.executable)",
    "import matplotlib.pyplot as plt\nplt.plot([1.0, 2.0, float(n)])\nplt.show()",
    "pk.reporting.record({'n': n, 'level': level, 'assets': assets}, out_dir)",
]
PARAMS_B = 'fail: bool = False\nlabel: str = "b"\nbenchmark_source: str = "sample:sp500_index"\nout_dir: str = ""'
CELLS_B = [
    "x = 40 + 2",
    "if fail:\n    raise ZeroDivisionError('the pool is empty')",
    "import poolkit as pk\npk.reporting.record({'x': x, 'label': label}, out_dir)",
]


def make_notebook(path: Path, params: str, cells: list[str], *, kernelspec: dict | None = None) -> Path:
    """Write a small notebook: a markdown cell with a formula, a parameters cell, code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = kernelspec or KERNELSPEC
    param_cell = nbformat.v4.new_code_cell(params)
    param_cell.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Demo\n\n" r"Pooled volatility $\sigma_P = \sqrt{w^\top \Sigma w}$."),
        param_cell,
        *[nbformat.v4.new_code_cell(src) for src in cells],
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def nb_a(tmp_path: Path) -> Path:
    return make_notebook(tmp_path / "nbs" / "01_alpha.ipynb", PARAMS_A, CELLS_A)


@pytest.fixture
def nb_b(tmp_path: Path) -> Path:
    return make_notebook(tmp_path / "nbs" / "02_beta.ipynb", PARAMS_B, CELLS_B)


def outputs_of(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def stdout_of(path: Path) -> str:
    return "".join("".join(o.get("text", "")) for o in outputs_of(path) if o.get("name") == "stdout")


# --------------------------------------------------------------------------- save_tables / record


def test_save_tables_and_record_write_files_and_skip_empty_out_dir(tmp_path):
    table = pd.DataFrame({"vol": [0.1, 0.2]}, index=pd.Index(["A", "资产1"], name="asset"))
    assert save_tables({"t": table}, "") == []
    assert record({"x": 1.0}, "") is None
    [path] = save_tables({"t": table}, tmp_path / "out")
    back = pd.read_csv(path, index_col=0)
    assert list(back.index) == ["A", "资产1"] and back["vol"].tolist() == [0.1, 0.2]
    record({"x": 1.5, "bad": float("nan")}, tmp_path / "out")
    summary = record({"y": pd.Series({"A": 2})}, tmp_path / "out")
    assert json.loads(summary.read_text(encoding="utf-8")) == {"bad": None, "x": 1.5, "y": {"A": 2}}


# --------------------------------------------------------------------------- parameter checks (nothing runs)


def test_undeclared_parameter_is_refused_with_a_suggestion(nb_a, tmp_path):
    out = tmp_path / "out.ipynb"
    with pytest.raises(ConfigurationError, match=r"01_alpha\.ipynb does not declare parameter `levl`") as info:
        run_notebook(nb_a, out, {"levl": 0.99})
    assert "Did you mean 'level'" in str(info.value)
    assert not out.exists(), "nothing may run when the configuration is wrong"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("level", "0.99", "float"),  # text for a float
        ("n", 2.5, "int"),  # a float is not an int
        ("n", True, "int"),  # a bool is not an int
        ("flag", 1, "bool"),  # nor an int a bool
        ("source", 3, "str"),
        ("assets", "AAPL", r"list\[str\]"),  # a bare string is not a list of strings
        ("assets", ["AAPL", 3], r"list\[str\]"),  # every item is checked
        ("weights", {"A": "half"}, r"dict\[str, float\]"),
    ],
)
def test_wrong_type_is_refused_naming_notebook_and_parameter(nb_a, tmp_path, key, value, expected):
    with pytest.raises(ConfigurationError, match=rf"01_alpha\.ipynb: parameter `{key}` must be {expected}"):
        run_notebook(nb_a, tmp_path / "out.ipynb", {key: value})


def test_untyped_parameter_is_checked_against_its_default(tmp_path):
    nb = make_notebook(tmp_path / "untyped.ipynb", "count = 5\nname = 'x'\nanything = None", ["pass"])
    with pytest.raises(ConfigurationError, match=r"parameter `count` must be int.*got str") as info:
        run_notebook(nb, tmp_path / "out.ipynb", {"count": "five", "name": 1, "anything": [1]})
    assert "parameter `name` must be str" in str(info.value)
    assert "`anything`" not in str(info.value)  # a None default accepts any value


def test_all_problems_are_reported_at_once(nb_a, tmp_path):
    with pytest.raises(ConfigurationError) as info:
        run_notebook(nb_a, tmp_path / "out.ipynb", {"level": "high", "n": 1.5, "nope": 1})
    message = str(info.value)
    assert all(f"`{k}`" in message for k in ("level", "n", "nope"))


def test_optional_and_union_annotations_and_type_comments(tmp_path):
    from poolkit.reporting import check_parameters, declared_parameters

    nb = make_notebook(tmp_path / "u.ipynb", "cap: int | None = None\nw: 'dict[str, float]' = {}\n"
                       "%matplotlib inline\nk = 2  # type: float", ["pass"])
    assert {k: v["inferred_type_name"] for k, v in declared_parameters(nb).items()} == {
        "cap": "int | None", "w": "'dict[str, float]'", "k": "float"}
    assert check_parameters([nb], {"cap": None, "w": {"A": 1}, "k": 1}) == []
    [cap, w, k] = check_parameters([nb], {"cap": 1.5, "w": {"A": "x"}, "k": "2"})
    assert "parameter `cap` must be int | None" in cap
    assert "parameter `w` must be dict[str, float]" in w and "parameter `k` must be float" in k


def test_quick_jsonschema_import_leaves_notebook_validation_and_the_package_usable():
    code = (
        "import importlib.util, sys\n"
        "from poolkit.reporting._execute import _import_jsonschema_quickly\n"
        "_import_jsonschema_quickly()\n"
        "assert 'jsonschema' in sys.modules and 'rfc3987_syntax' not in sys.modules\n"
        "import nbformat\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
        "nbformat.validate(nb)\n"
        "bad = nbformat.from_dict({'cells': [{'cell_type': 'code'}], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5})\n"
        "try:\n    nbformat.validate(bad)\nexcept nbformat.ValidationError:\n    print('invalid refused')\n"
        "print(importlib.util.find_spec('rfc3987_syntax') is not None)\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    import importlib.util

    assert out[:2] == ["invalid refused", str(importlib.util.find_spec("rfc3987_syntax") is not None)]


def test_missing_notebook_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        run_notebook(tmp_path / "missing.ipynb", tmp_path / "out.ipynb")


def test_suite_refuses_parameter_no_notebook_declares_and_runs_nothing(nb_a, nb_b, tmp_path):
    reports = tmp_path / "reports"
    with pytest.raises(ConfigurationError, match=r"`fial` is declared by none of .*Did you mean 'fail'"):
        run_suite(notebooks=[nb_a, nb_b], parameters={"fial": True}, reports_dir=reports, progress=False)
    assert not reports.exists() or not any(reports.iterdir())


def test_suite_refuses_out_dir_bad_name_and_unknown_notebook(nb_a, tmp_path):
    with pytest.raises(ConfigurationError, match="`out_dir` is set by the report run"):
        run_suite(notebooks=[nb_a], parameters={"out_dir": "x"}, reports_dir=tmp_path, progress=False)
    with pytest.raises(ConfigurationError, match="plain folder name"):
        run_suite(name="../up", notebooks=[nb_a], reports_dir=tmp_path, progress=False)
    with pytest.raises(ConfigurationError, match=r"'99_nothing.ipynb' not found"):
        run_suite(notebooks=[nb_a, "99_nothing.ipynb"], reports_dir=tmp_path, progress=False)


def test_suite_type_errors_name_the_declaring_notebook(nb_a, nb_b, tmp_path):
    with pytest.raises(ConfigurationError, match=r"02_beta\.ipynb: parameter `fail` must be bool"):
        run_suite(notebooks=[nb_a, nb_b], parameters={"fail": "yes"}, reports_dir=tmp_path, progress=False)


# --------------------------------------------------------------------------- real executions


@pytest.mark.notebook
def test_run_notebook_injects_checked_values(tmp_path):
    nb = make_notebook(tmp_path / "echo.ipynb", PARAMS_A, [
        "import json\nprint(json.dumps([n, level, type(level).__name__, assets, weights, flag, out_dir]))"])
    # an int is accepted for a float, a Path for a str, a tuple for a list
    run_notebook(nb, tmp_path / "out.ipynb",
                 {"level": 1, "n": 7, "assets": ("A", "B"), "weights": {"A": 1}, "flag": True, "out_dir": tmp_path})
    assert json.loads(stdout_of(tmp_path / "out.ipynb")) == [7, 1.0, "float", ["A", "B"], {"A": 1.0}, True,
                                                             str(tmp_path)]


@pytest.mark.notebook
def test_kernel_is_this_interpreter_even_with_decoy_kernelspecs(tmp_path, monkeypatch):
    # Decoy kernelspecs named "python3" and "poolkit" on JUPYTER_PATH: valid kernels, but
    # marked by an environment variable, so the notebook can tell which one ran it.
    decoys = tmp_path / "decoy-jupyter"
    for name in ("python3", "poolkit"):
        spec_dir = decoys / "kernels" / name
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"decoy {name}", "language": "python", "env": {"POOLKIT_DECOY": name}}
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(decoys))
    monkeypatch.delenv("POOLKIT_DECOY", raising=False)
    nb = make_notebook(
        tmp_path / "which.ipynb", 'out_dir: str = ""',
        ["import os, sys\nprint(sys.executable)\nprint(os.environ.get('POOLKIT_DECOY', 'none'))"],
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
    )
    run_notebook(nb, tmp_path / "ours.ipynb")
    assert stdout_of(tmp_path / "ours.ipynb").splitlines() == [sys.executable, "none"]
    # control: the decoy is really what a plain "python3" lookup finds
    run_notebook(nb, tmp_path / "decoy.ipynb", kernel_name="python3")
    assert stdout_of(tmp_path / "decoy.ipynb").splitlines()[-1] == "python3"


@pytest.mark.notebook
def test_report_kernel_starts_without_the_debugger_yet_can_import_it(tmp_path):
    # the kernel skips loading debugpy (a third of its start-up); the notebook may still import it
    nb = make_notebook(tmp_path / "k.ipynb", 'out_dir: str = ""', [
        "import sys\nprint('debugpy' in sys.modules)",
        "import importlib.util\nprint(importlib.util.find_spec('debugpy') is not None)"])
    run_notebook(nb, tmp_path / "out.ipynb")
    expected = __import__("importlib.util").util.find_spec("debugpy") is not None
    assert stdout_of(tmp_path / "out.ipynb").split() == ["False", str(expected)]


@pytest.mark.notebook
def test_kernel_runs_when_the_temporary_folder_is_too_deep_for_a_socket_path(tmp_path):
    # a Unix socket path holds at most 107 bytes: a deep $TMPDIR makes the kernel use TCP on 127.0.0.1
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    nb = make_notebook(tmp_path / "t.ipynb", 'out_dir: str = ""', ["print(6 * 7)"])
    code = "import sys; from poolkit.reporting import run_notebook; run_notebook(sys.argv[1], sys.argv[2])"
    import subprocess

    run = subprocess.run([sys.executable, "-c", code, str(nb), str(tmp_path / "out.ipynb")], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "TMPDIR": str(deep)})
    assert run.returncode == 0, run.stderr
    assert stdout_of(tmp_path / "out.ipynb").strip() == "42"
    assert list(deep.iterdir()) == []  # its kernel folder was removed at exit


@pytest.mark.notebook
def test_cell_error_names_notebook_cell_and_error_and_keeps_partial(nb_b, tmp_path):
    out = tmp_path / "deep" / "failed.ipynb"
    with pytest.raises(ReportError) as info:
        run_notebook(nb_b, out, {"fail": True})
    message = str(info.value)
    # cells of 02_beta: 0 markdown, 1 parameters, 2 "x = 40 + 2", 3 the raise
    assert "02_beta.ipynb failed in cell 3" in message
    assert "ZeroDivisionError: the pool is empty" in message
    assert str(out) in message
    assert info.value.cell_index == 3 and info.value.ename == "ZeroDivisionError"
    errors = [o for o in outputs_of(out) if o["output_type"] == "error"]
    assert [e["evalue"] for e in errors] == ["the pool is empty"]


# --------------------------------------------------------------------------- report suite


@pytest.fixture(scope="module")
def good_report(tmp_path_factory):
    """One successful two-notebook report run, shared by the checks below (do not modify)."""
    root = tmp_path_factory.mktemp("suite")
    a = make_notebook(root / "nbs" / "01_alpha.ipynb", PARAMS_A, CELLS_A)
    b = make_notebook(root / "nbs" / "02_beta.ipynb", PARAMS_B, CELLS_B)
    data = root / "prices.csv"
    data.write_text("date,A\n2020-01-01,1.0\n2020-01-02,1.1\n", encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(root)  # a relative data path is read from the caller's folder, not the notebook's
    try:
        folder = run_suite(name="demo", notebooks=[a, b], parameters={"n": 4, "label": "shared", "source": "prices.csv"},
                           reports_dir=root / "reports", progress=False)
    finally:
        os.chdir(cwd)
    params = {"n": 4, "label": "shared", "source": "prices.csv"}  # as given
    return {"root": root, "folder": folder, "notebooks": [a, b], "data": data.resolve(), "params": params}


@pytest.mark.notebook
def test_suite_writes_notebooks_html_outputs_and_nothing_else(good_report):
    folder = good_report["folder"]
    assert folder == good_report["root"] / "reports" / "demo"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["01_alpha", "01_alpha.html", "01_alpha.ipynb", "02_beta", "02_beta.html",
                     "02_beta.ipynb", "index.html", "manifest.json"]
    assert sorted(p.name for p in folder.parent.iterdir()) == ["demo"]  # no temporary folder left
    # each notebook got out_dir = <report>/<stem>/ and only the parameters it declares
    assert json.loads((folder / "01_alpha" / "summary.json").read_text()) == {"n": 4, "level": 0.95, "assets": []}
    assert json.loads((folder / "02_beta" / "summary.json").read_text()) == {"x": 42, "label": "shared"}
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert '<a href="01_alpha.html">' in index and "x: 42" in index and "level: 0.95" in index
    # the executed notebook names the folder its outputs ended up in, not the temporary one
    injected = [c.source for c in nbformat.read(str(folder / "01_alpha.ipynb"), as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert f'out_dir = "{folder.resolve() / "01_alpha"}"' in injected[0]


@pytest.mark.notebook
def test_manifest_records_parameters_versions_data_and_timings(good_report):
    manifest = json.loads((good_report["folder"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok" and manifest["name"] == "demo"
    assert manifest["parameters"] == good_report["params"]
    assert manifest["poolkit_version"] == poolkit.__version__
    assert manifest["python"]["version"] == platform.python_version()
    assert manifest["packages"]["pandas"] == pd.__version__
    assert manifest["packages"]["papermill"] == __import__("papermill").__version__
    assert manifest["kernel"]["argv0"] == sys.executable
    # SHA-256 of each data file, recomputed here: the file passed as `source`, and the bundled
    # sample behind the default `benchmark_source` of 02_beta
    data = {d["source"]: d for d in manifest["data"]}
    assert set(data) == {str(good_report["data"]), "sample:sp500_index"}  # the relative path, resolved
    ours = data[str(good_report["data"])]
    assert ours["sha256"] == hashlib.sha256(good_report["data"].read_bytes()).hexdigest()
    assert ours["bytes"] == good_report["data"].stat().st_size
    bundled = Path(data["sample:sp500_index"]["path"])
    assert bundled.parent == Path(poolkit.__file__).parent / "datasets" and "sp500_index" in bundled.name
    assert data["sample:sp500_index"]["sha256"] == hashlib.sha256(bundled.read_bytes()).hexdigest()
    first, second = manifest["notebooks"]
    assert first["parameters"] == {"n": 4, "source": str(good_report["data"])}
    assert second["parameters"] == {"label": "shared"}
    for entry in (first, second):
        assert entry["status"] == "ok" and entry["duration_s"] > 0
        assert entry["started"] <= entry["finished"]
    assert manifest["started"] <= first["started"] and second["finished"] <= manifest["finished"]


@pytest.mark.notebook
def test_html_is_static_with_embedded_figures_and_no_code(good_report):
    page = (good_report["folder"] / "01_alpha.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page  # the matplotlib figure is embedded
    remote = re.findall(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page)
    assert remote == []
    assert not re.search(r"import\s*\(\s*[\"']https?://", page)  # no remote ES module loader
    assert "plt.plot" not in page and "print(sys.executable)" not in page  # code cells excluded
    assert sys.executable in page  # ... but their outputs are kept
    try:
        import latex2mathml  # noqa: F401
    except ImportError:  # formulas stay as TeX text without it
        return
    assert re.search(r"<math[^>]*><mrow>.*<msqrt>", page)  # the formula is MathML, displayed natively
    assert not re.search(r"<math[^>]*></math>", page)


def test_math_becomes_mathml_outside_code_only():
    pytest.importorskip("latex2mathml")
    from poolkit.reporting._html import _math_to_mathml

    text = "VaR$_\\alpha$ costs $5 and $10; `x = $a$` and $$\\sigma^2$$"
    html = _math_to_mathml(text)
    assert html.startswith('VaR<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">')
    assert "costs $5 and $10; `x = $a$` and " in html  # money and code spans are left alone
    assert html.endswith('display="block"><mrow><msup><mi>&#x003C3;</mi><mn>2</mn></msup></mrow></math>')


@pytest.mark.notebook
def test_failed_run_is_kept_and_good_report_untouched(good_report, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(good_report["folder"], reports / "demo")
    before = {p.relative_to(reports): p.read_bytes() for p in (reports / "demo").rglob("*") if p.is_file()}
    a, b = good_report["notebooks"]
    with pytest.raises(ReportError, match=r"02_beta\.ipynb failed in cell 3.*ZeroDivisionError: the pool is empty"):
        run_suite(name="demo", notebooks=[a, b], parameters={"fail": True}, reports_dir=reports, progress=False)
    after = {p.relative_to(reports): p.read_bytes() for p in (reports / "demo").rglob("*") if p.is_file()}
    assert after == before
    [failed] = [p for p in reports.iterdir() if p.name != "demo"]
    assert re.fullmatch(r"demo\.failed-\d{8}-\d{6}(-\d+)?", failed.name)
    errors = [o for o in outputs_of(failed / "02_beta.ipynb") if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "ZeroDivisionError"
    manifest = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and "the pool is empty" in manifest["error"]
    assert [e["status"] for e in manifest["notebooks"]] == ["ok", "failed"]
    assert manifest["notebooks"][1]["error"]["cell_index"] == 3
    assert (failed / "02_beta.html").exists()  # the partial is readable offline too


@pytest.mark.notebook
def test_new_good_run_replaces_the_earlier_report(good_report, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(good_report["folder"], reports / "demo")
    a, _ = good_report["notebooks"]
    folder = run_suite(name="demo", notebooks=[a], parameters={"n": 9}, reports_dir=reports, html=False,
                       progress=False)
    assert sorted(p.name for p in reports.iterdir()) == ["demo"]  # no .old / .tmp folder left
    assert sorted(p.name for p in folder.iterdir()) == ["01_alpha", "01_alpha.ipynb", "index.html", "manifest.json"]
    assert json.loads((folder / "manifest.json").read_text())["parameters"] == {"n": 9}


@pytest.mark.notebook
def test_a_report_written_before_manifests_had_a_kind_is_still_replaced(good_report, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(good_report["folder"], reports / "demo")
    manifest = json.loads((reports / "demo" / "manifest.json").read_text())
    for key in ("kind", "inputs"):  # as poolkit 0.1.0 wrote it
        manifest.pop(key)
    (reports / "demo" / "manifest.json").write_text(json.dumps(manifest))
    a, _ = good_report["notebooks"]
    run_suite(name="demo", notebooks=[a], parameters={"n": 5}, reports_dir=reports, html=False, progress=False)
    assert json.loads((reports / "demo" / "manifest.json").read_text())["kind"] == "poolkit-report"
    # a folder whose manifest.json is someone else's is not
    (reports / "other").mkdir()
    (reports / "other" / "manifest.json").write_text(json.dumps({"name": "other", "files": []}))
    with pytest.raises(ConfigurationError, match=r"exists and is not a poolkit report .*without poolkit's manifest"):
        run_suite(name="other", notebooks=[a], reports_dir=reports, html=False, progress=False)
    assert json.loads((reports / "other" / "manifest.json").read_text()) == {"name": "other", "files": []}


@pytest.mark.notebook
def test_output_dir_is_used_as_is(nb_b, tmp_path):
    target = tmp_path / "batch" / "variant-1"
    folder = run_suite(notebooks=[nb_b], output_dir=target, html=False, progress=False)
    assert folder == target and (target / "02_beta.ipynb").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["variant-1"]


def test_parameter_papermill_cannot_parse_is_still_declared(tmp_path):
    # papermill's line parser skips a line whose comment holds "=", yet the name is a parameter
    nb = make_notebook(tmp_path / "c.ipynb", 'live: bool = False  # True = widgets\nout_dir: str = ""  # "" = none', ["pass"])
    with pytest.raises(ConfigurationError, match=r"parameter `live` must be bool.*got str") as info:
        run_notebook(nb, tmp_path / "out.ipynb", {"live": "yes", "out_dir": 5})
    assert "parameter `out_dir` must be str" in str(info.value)
