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
import time
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
        "from poolkit.reporting._execute import FORMAT_MODULES, _import_jsonschema_quickly\n"
        "_import_jsonschema_quickly()\n"
        "assert 'jsonschema' in sys.modules and 'rfc3987_syntax' not in sys.modules\n"
        "assert not set(FORMAT_MODULES) & set(sys.modules), set(FORMAT_MODULES) & set(sys.modules)\n"
        "import isoduration, webcolors  # still importable\n"
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


@pytest.mark.notebook
def test_quick_papermill_import_skips_pyarrow_and_still_runs_a_notebook(tmp_path):
    nb = make_notebook(tmp_path / "p.ipynb", 'out_dir: str = ""\nn: int = 1', ["print(n * 7)"])
    code = (
        "import sys\n"
        "from poolkit.reporting._execute import _import_papermill_quickly\n"
        "_import_papermill_quickly()\n"
        "assert 'papermill' in sys.modules and 'pyarrow' not in sys.modules\n"
        "from poolkit.reporting import run_notebook\n"
        "run_notebook(sys.argv[1], sys.argv[2], {'n': 6})\n"
        "import pyarrow  # still importable\n"
        "print('pyarrow' in sys.modules)\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code, str(nb), str(tmp_path / "out.ipynb")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"] and stdout_of(tmp_path / "out.ipynb").strip() == "42"


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
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernels are forked from a fork server on Linux")
def test_kernel_forked_ahead_starts_without_the_debugger_yet_can_import_it(tmp_path):
    # the same for a kernel forked from the run's fork server: ipykernel's debugger module was loaded
    # there while debugpy could not be, so the kernel's start does not load debugpy (0.1-0.2 s)
    nb = make_notebook(tmp_path / "01_k.ipynb", 'out_dir: str = ""', [
        "import sys\nprint('debugpy' in sys.modules, sys.modules['ipykernel.debugger']._is_debugpy_available)",
        "import importlib.util\nprint(importlib.util.find_spec('debugpy') is not None)"])
    folder = run_suite(name="k", notebooks=[nb], reports_dir=tmp_path / "reports", progress=False, html=False,
                       prestart=True)
    expected = __import__("importlib.util").util.find_spec("debugpy") is not None
    assert stdout_of(folder / "01_k.ipynb").split() == ["False", "False", str(expected)]


@pytest.mark.notebook
@pytest.mark.parametrize("prestart", [True, False])
def test_kernel_ends_without_tearing_down_its_modules_yet_runs_what_a_notebook_leaves(tmp_path, prestart):
    # after its notebook, a kernel waits for the notebook's threads and runs its exit handlers, as
    # any Python process does, then ends without clearing its modules (whose finalisers would run)
    marks = tmp_path / "marks"
    marks.mkdir()
    nb = make_notebook(tmp_path / "01_exit.ipynb", 'out_dir: str = ""\nmarks: str = ""', [
        "import atexit, pathlib, sys, threading, time, types\n"
        "atexit.register(lambda: pathlib.Path(marks, 'exit-handler').write_text('x'))\n"
        "threading.Thread(target=lambda: (time.sleep(0.5), pathlib.Path(marks, 'thread').write_text('x'))).start()\n"
        "keeper = types.ModuleType('poolkit_keeper')  # held where the namespace's reset does not reach\n"
        "keeper.file = open(pathlib.Path(marks, 'left-open'), 'w')\nkeeper.file.write('written')\n"
        "sys.modules['poolkit_keeper'] = keeper",
        "class Probe:  # what its finaliser needs, kept in it: the notebook's names are gone by then\n"
        "    def __init__(self):\n        self.open, self.path = open, str(pathlib.Path(marks, 'torn-down'))\n"
        "    def __del__(self):\n        with self.open(self.path, 'w') as file:\n            file.write('x')\n"
        "module = types.ModuleType('poolkit_probe')\nmodule.probe = Probe()\nsys.modules['poolkit_probe'] = module"])
    run_suite(name="exit", notebooks=[nb], parameters={"marks": str(marks)}, reports_dir=tmp_path / "reports",
              progress=False, html=False, prestart=prestart)
    deadline = time.monotonic() + 30
    while len(list(marks.iterdir())) < 3 and time.monotonic() < deadline:  # the kernel stops in the background
        time.sleep(0.1)
    time.sleep(1.0)
    assert sorted(p.name for p in marks.iterdir()) == ["exit-handler", "left-open", "thread"]
    assert (marks / "left-open").read_text() == "written"  # a file left open is still written out


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
    assert '<a href="01_alpha.html">' in index and "<th>x</th><td>42</td>" in index
    assert "<th>level</th><td>0.95</td>" in index
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


@pytest.mark.notebook
def test_pages_name_a_cjk_capable_font_stack(good_report):
    from poolkit.reporting._html import FONT_STACK

    assert "Noto Sans CJK SC" in FONT_STACK and "Microsoft YaHei" in FONT_STACK and "PingFang SC" in FONT_STACK
    page = (good_report["folder"] / "01_alpha.html").read_text(encoding="utf-8")
    assert f"--jp-content-font-family: {FONT_STACK}" in page  # after the theme's own stylesheet
    assert page.index("--jp-content-font-family: " + FONT_STACK) > page.index("--jp-content-font-family:")
    index = (good_report["folder"] / "index.html").read_text(encoding="utf-8")
    assert f"font-family:{FONT_STACK}" in index


# --------------------------------------------------------------------------- tables formatted for reading


def test_table_formats_percentages_and_significant_digits():
    from poolkit.reporting import table

    frame = pd.DataFrame({"volatility": [0.2858, 0.01464], "ratio": [1.5605, 19.4518], "balance": [99121318.65, 878681.3],
                          "n": [2517, 12000]}, index=pd.Index(["资产1", "资产2"], name="asset"))
    styler = table(frame, percent=["volatility"])
    assert styler.data is frame  # the numbers are not changed
    text = styler.to_string(delimiter="|").splitlines()
    assert text[2:] == ["资产1|28.6%|1.56|99,121,319|2517", "资产2|1.5%|19.45|878,681|12,000"]  # a column shares decimals
    shares = table(pd.DataFrame({"attachment": [0.5, 0.035, 0.0], "detachment": [1.0, 0.05, 0.035]}), percent=True)
    assert shares.to_string(delimiter="|").splitlines()[1:] == [  # 3.5 % beside 100 % is not rounded to 4 %
        "0|50.0%|100.0%", "1|3.5%|5.0%", "2|0.0%|3.5%"]
    html = styler.to_html()
    assert "dtype" not in html and 'class="dataframe poolkit-table"' in html
    assert table(frame).to_html() == table(frame.copy()).to_html()  # deterministic ids: reports are reproducible


def test_table_of_a_series_or_dict_is_labelled_and_each_row_has_its_own_digits():
    from poolkit.reporting import table

    series = pd.Series({"standalone": 0.285807, "pooled": 0.173275, "shrinkage intensity δ": 0.0146, "assets": 20})
    text = table(series, percent=["standalone", "pooled"], name="pool").to_string(delimiter="|").splitlines()
    assert text == ["|pool", "standalone|28.6%", "pooled|17.3%", "shrinkage intensity δ|0.0146", "assets|20"]
    scores = {2: 1.2596583486813049, 3: 1.5449442817020407}
    text = table(scores, name="silhouette score", index_name="pools").to_string(delimiter="|").splitlines()
    assert text == ["|silhouette score", "pools|", "2|1.26", "3|1.545"]
    nested = table({"simulated": {"alone": 1500.0, "pooled": 400.0}, "fund": {"alone": 10.0, "pooled": 2.5}})
    assert nested.data.columns.tolist() == ["simulated", "fund"]
    patterns = table(pd.Series({"annual volatility, pool": 0.174, "annual volatility, SP500": 0.176, "correlation": 0.367}),
                     percent=["annual volatility*"]).to_string(delimiter="|").splitlines()
    assert patterns[1:] == ["annual volatility, pool|17.4%", "annual volatility, SP500|17.6%", "correlation|0.367"]
    with pytest.raises(TypeError, match="takes a DataFrame, a Series or a dict"):
        table([1, 2])


def test_table_percent_names_a_level_of_multi_level_labels():
    from poolkit.reporting import table

    # notebook 07's crisis comparison: columns (measure, regime); rates as percentages, correlations not
    columns = pd.MultiIndex.from_product([["average_correlation", "pooled_volatility", "relative_benefit"],
                                          ["calm", "crisis"]])
    comparison = pd.DataFrame([[0.30246, 0.31768, 0.187245, 0.289109, 0.436977, 0.430707]],
                              index=pd.Index(["1998-08-06"], name="window"), columns=columns)
    text = table(comparison, percent=["pooled_volatility", "relative_benefit"]).to_string(delimiter="|").splitlines()
    assert text[-1] == "1998-08-06|0.3025|0.3177|18.7%|28.9%|43.7%|43.1%"
    assert table(comparison, percent=["pooled_*"]).to_string(delimiter="|").splitlines()[-1] == (
        "1998-08-06|0.3025|0.3177|18.7%|28.9%|0.4370|0.4307")  # patterns match a level too
    # notebook 08's table by speed: rows (tranche, measure); yields and written-down shares as percentages
    rows = pd.MultiIndex.from_product([["A", "B"], ["average_life", "yield", "loss"]], names=["tranche", "measure"])
    by_speed = pd.DataFrame({"0 PSA": [12.7497, 0.0653476, 0.0, 22.4539, 0.0706071, 0.0213]}, index=rows)
    shown = [line.split("|")[-1] for line in table(by_speed, percent=["yield", "loss"]).to_string(
        delimiter="|").splitlines()[2:]]
    assert shown == ["12.75", "6.53%", "0.00%", "22.45", "7.06%", "2.13%"]  # the column shares its decimals
    assert table(by_speed, percent=[("A", "yield")]).to_string(delimiter="|").count("%") == 1  # a whole label too


@pytest.mark.parametrize(("value", "kwargs", "shown"), [
    (0.18363636, {}, "0.1836"), (11.715145868783246, {}, "11.72"), (99121318.6538566, {}, "99,121,319"),
    (0.18363636, {"percent": True}, "18.4%"), (1.0000000000000002, {"percent": True}, "100%"),
    (9.301075268817176e-06, {}, "9.301e-06"), (2517, {}, "2517"), (123456, {}, "123,456"),
    (float("nan"), {}, "–"), (None, {}, "–"), (-0.316756, {}, "-0.3168"), (0.5, {"decimals": 1}, "0.5"),
    (0.0146, {"top": 0.2858}, "0.0146"),
])
def test_format_number(value, kwargs, shown):
    from poolkit.reporting import format_number

    assert format_number(value, **kwargs) == shown


def test_index_key_figures_are_formatted_and_nested_values_are_tables():
    from poolkit.reporting._display import figure_html

    page = figure_html({"loan_pool_wal_years": {"100 PSA": 11.715145868783246, "50 PSA": 15.07437279843263},
                        "credit_expected_loss": 0.008995470000000001, "first": "1990-01-03", "n": 8312})
    assert "{" not in page and "11.715" not in page and "0.008995470" not in page
    assert "<th>100 PSA</th><td>11.72</td>" in page and "<td>0.008995</td>" in page and "<td>8312</td>" in page
    assert figure_html({"level": 0.95, "ok": True, "none": None}) == (
        '<table class="figures"><tr><th>level</th><td>0.95</td></tr><tr><th>ok</th><td>true</td></tr>'
        "<tr><th>none</th><td>–</td></tr></table>")


FORMATTED_CELLS = [
    "import pandas as pd\nimport poolkit as pk",
    "pd.Series({'standalone': 0.285807123456, 'pooled': 0.17327512345}, name='diversification_benefit')",
    "{2: 1.2596583486813049, 3: 1.5449442817020407}",
    "pk.reporting.record({'wal': pd.Series({'100 PSA': 11.715145868783246, '50 PSA': 15.07437279843263}), "
    "'loss': 0.008995470000000001, 'tranches': {'equity': 0.2887822499999999}}, out_dir)",
]


@pytest.mark.notebook
def test_executed_report_shows_tables_not_reprs(tmp_path):
    nb = make_notebook(tmp_path / "nbs" / "01_figures.ipynb", 'out_dir: str = ""', FORMATTED_CELLS)
    folder = run_suite(name="fmt", notebooks=[nb], reports_dir=tmp_path / "reports", progress=False)
    page = (folder / "01_figures.html").read_text(encoding="utf-8")
    assert "dtype:" not in page and "Name: diversification_benefit" not in page
    assert "{2: 1.259" not in page and "1.2596583486813049" not in page  # the dict is a table
    assert re.search(r"<th[^>]*>pooled</th>\s*<td[^>]*>0\.1733</td>", page)
    index = (folder / "index.html").read_text(encoding="utf-8")
    body = index[index.index("<body>"):]
    assert "{" not in body and "&quot;" not in body  # no raw JSON
    assert not re.search(r"\d\.\d{7,}", body)  # no 15-digit numbers
    assert "<th>100 PSA</th><td>11.72</td>" in body and "<th>equity</th><td>0.2888</td>" in body


# --------------------------------------------------------------------------- parallel runs, kernels started ahead

PROBE_PARAMS = 'tag: str = "a"\npause: float = 0.0\nout_dir: str = ""'
PROBE_CELLS = [
    "import json, os, sys, time\nprint(json.dumps({'pid': os.getpid(), 'seen': sorted(k for k in globals() "
    "if k.startswith('left_')), 'pandas': 'pandas' in sys.modules, 'warm_env': "
    "any('POOLKIT_KERNEL_WARM' in k for k in os.environ), 'cwd': os.getcwd()}))",
    "left_by = tag\nglobals()['left_' + tag] = 1\ntime.sleep(pause)",
]


def probe(folder: Path, stem: str) -> dict:
    return json.loads(stdout_of(folder / f"{stem}.ipynb").splitlines()[0])


@pytest.mark.notebook
@pytest.mark.parametrize("prestart", [True, False], ids=["started-ahead", "fresh"])
def test_every_notebook_gets_a_fresh_kernel_and_no_state_crosses(tmp_path, prestart):
    nbs = [make_notebook(tmp_path / "nbs" / f"0{i}_probe{i}.ipynb", PROBE_PARAMS, PROBE_CELLS) for i in range(1, 4)]
    folder = run_suite(name="iso", notebooks=nbs, reports_dir=tmp_path / "reports", parameters={"pause": 0.5},
                       workers=1, prestart=prestart, progress=False, html=False)
    seen = [probe(folder, nb.stem) for nb in nbs]
    assert len({s["pid"] for s in seen}) == 3  # three kernels, one per notebook
    assert all(s["seen"] == [] for s in seen)  # nothing left by the notebooks before
    assert all(s["pandas"] is prestart for s in seen)  # started ahead: the common modules are imported
    assert not any(s["warm_env"] for s in seen)  # ... and the environment is the same either way
    assert all(s["cwd"] == str(nbs[0].parent.resolve()) for s in seen)  # the notebook's own folder
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["execution"] == {"workers": 1, "kernels_started_ahead": prestart, "kernel_threads": None}
    from poolkit.reporting._kernel import kernel_supply

    assert kernel_supply().ready((str(nbs[0].parent.resolve()), True, None)) == 0  # no kernel left waiting


@pytest.mark.notebook
def test_notebooks_run_in_parallel_on_workers(tmp_path):
    nbs = [make_notebook(tmp_path / "nbs" / f"0{i}_probe{i}.ipynb", PROBE_PARAMS, PROBE_CELLS) for i in range(1, 3)]
    folder = run_suite(name="par", notebooks=nbs, reports_dir=tmp_path / "reports", parameters={"pause": 4.0},
                       workers=2, progress=False, html=False)
    first, second = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["notebooks"]
    assert second["started"] < first["finished"] and first["started"] < second["finished"]  # they overlapped


THREAD_CELLS = [
    "import json, os, numpy as np\nprint(json.dumps({'blas': [os.environ.get(v) for v in ('OPENBLAS_NUM_THREADS', "
    "'OMP_NUM_THREADS', 'MKL_NUM_THREADS')], 'draw': float(np.random.random()), 'pid': os.getpid(), "
    "'own_group': os.getpgid(0) == os.getpid()}))",
]


@pytest.mark.notebook
@pytest.mark.parametrize("prestart", [True, False], ids=["started-ahead", "fresh"])
def test_kernels_side_by_side_get_one_blas_thread_and_their_own_random_state(tmp_path, monkeypatch, prestart):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    nbs = [make_notebook(tmp_path / "nbs" / f"0{i}_threads{i}.ipynb", PROBE_PARAMS, THREAD_CELLS) for i in range(1, 4)]
    side = run_suite(name="side", notebooks=nbs, reports_dir=tmp_path / "reports", workers=2, prestart=prestart,
                     progress=False, html=False)
    seen = [probe(side, nb.stem) for nb in nbs]
    assert all(s["blas"] == ["1", "1", "1"] for s in seen)
    assert len({s["draw"] for s in seen}) == 3 and len({s["pid"] for s in seen}) == 3  # no shared random state
    assert all(s["own_group"] for s in seen)  # each kernel leads its own process group (signals reach only it)
    assert json.loads((side / "manifest.json").read_text(encoding="utf-8"))["execution"]["kernel_threads"] == 1
    alone = run_suite(name="alone", notebooks=nbs[:1], reports_dir=tmp_path / "reports", workers=1, prestart=prestart,
                      progress=False, html=False)
    assert probe(alone, nbs[0].stem)["blas"] == [None, None, None]  # one at a time: the libraries' own default
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # a user's own setting wins
    mine = run_suite(name="mine", notebooks=nbs[:2], reports_dir=tmp_path / "reports", workers=2, prestart=prestart,
                     progress=False, html=False)
    assert probe(mine, nbs[0].stem)["blas"] == ["3", "1", "1"]
    with pytest.raises(ConfigurationError, match=r"`kernel_threads` must be a positive integer, got 0"):
        run_suite(notebooks=nbs[:1], reports_dir=tmp_path, kernel_threads=0, progress=False)


def test_longest_notebooks_run_first_by_earlier_timings_else_their_metadata(tmp_path):
    from poolkit.reporting._suite import _schedule

    paths = []
    for stem, seconds in [("01_short", 2), ("02_none", None), ("03_long", 20), ("04_mid", 9)]:
        path = make_notebook(tmp_path / f"{stem}.ipynb", PROBE_PARAMS, ["x = 1"])
        if seconds is not None:
            nb = nbformat.read(str(path), as_version=4)
            nb.metadata["poolkit"] = {"expected_seconds": seconds}
            nbformat.write(nb, str(path))
        paths.append(path)
    assert _schedule(paths, {}) == [2, 3, 0, 1]  # by the estimates; none known: last, in suite order
    assert _schedule(paths, {str(paths[0]): 30.0, str(paths[1]): 5.0}) == [0, 2, 3, 1]  # earlier timings first


@pytest.mark.notebook
def test_a_failure_stops_the_notebooks_not_yet_started(nb_a, nb_b, tmp_path):
    third = make_notebook(tmp_path / "nbs" / "03_gamma.ipynb", 'out_dir: str = ""', ["x = 1"])
    reports = tmp_path / "reports"
    with pytest.raises(ReportError, match=r"02_beta\.ipynb failed in cell 3"):
        run_suite(name="stop", notebooks=[nb_b, nb_a, third], parameters={"fail": True}, reports_dir=reports,
                  workers=1, progress=False, html=False)
    [failed] = list(reports.iterdir())
    manifest = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))
    assert [e["status"] for e in manifest["notebooks"]] == ["failed", "not run", "not run"]
    assert not (failed / "01_alpha.ipynb").exists()


def test_workers_must_be_a_positive_integer(nb_a, tmp_path):
    with pytest.raises(ConfigurationError, match=r"`workers` must be a positive integer, got 0"):
        run_suite(notebooks=[nb_a], reports_dir=tmp_path, workers=0, progress=False)


@pytest.mark.notebook
def test_kernel_shutdown_sends_no_interrupt(tmp_path):
    # jupyter_client interrupts a kernel before shutting it down, and the idle kernel then prints
    # "KeyboardInterrupt caught in kernel" on the terminal of `make report`
    import asyncio

    from poolkit.reporting._kernel import kernel_supply

    supply = kernel_supply()
    km = supply.take((str(tmp_path), False))
    signals = []
    real = km._async_signal_kernel

    async def spy(signum):
        signals.append(signum)
        await real(signum)

    km._async_signal_kernel = spy
    asyncio.run(asyncio.wait_for(km.client()._async_wait_for_ready(timeout=60), 90))  # it is up
    supply.retire(km)
    supply.wait()
    assert signals == [] and not km.has_kernel


REAL_NOTEBOOKS = ["02_risk_statistics.ipynb", "04_pooling.ipynb"]


@pytest.mark.notebook
@pytest.mark.slow
def test_tables_are_identical_in_a_kernel_started_ahead_or_a_fresh_one(notebooks_dir, tmp_path):
    nbs = [notebooks_dir / name for name in REAL_NOTEBOOKS]
    ahead = run_suite(name="ahead", notebooks=nbs, reports_dir=tmp_path, prestart=True, workers=2, progress=False)
    fresh = run_suite(name="fresh", notebooks=nbs, reports_dir=tmp_path, prestart=False, workers=1, progress=False)
    for nb in nbs:
        files = sorted(p.relative_to(ahead) for p in (ahead / nb.stem).rglob("*") if p.is_file())
        assert files and files == sorted(p.relative_to(fresh) for p in (fresh / nb.stem).rglob("*") if p.is_file())
        for name in files:
            assert (ahead / name).read_bytes() == (fresh / name).read_bytes(), name
        # the executed report reads as tables: no Series repr, no raw dict
        page = (ahead / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert "dtype:" not in page and "{2: " not in page


@pytest.mark.notebook
def test_ctrl_c_keeps_the_partial_run_and_leaves_no_kernel(tmp_path):
    import signal
    import subprocess
    import time

    flags = tmp_path / "flags"
    flags.mkdir()
    cells = ["import os, time\nprint(os.getpid())\nopen(os.path.join(flags, tag), 'w').close()", "time.sleep(300)"]
    nbs = [make_notebook(tmp_path / "nbs" / f"0{i}_slow{i}.ipynb", f'flags: str = ""\ntag: str = "{i}"\nout_dir: str = ""',
                         cells) for i in range(1, 4)]
    reports = tmp_path / "reports"
    run = subprocess.Popen(
        [sys.executable, "-m", "poolkit.cli", "report", "--name", "int", "--notebooks", *map(str, nbs),
         "--reports-dir", str(reports), "-p", f"flags={flags}", "--workers", "2", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(list(flags.iterdir())) < 2:  # both notebooks in their long cell
            time.sleep(0.2)
        time.sleep(1)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)  # not 300 s: the running kernels are stopped at once
    finally:
        run.kill()
    assert run.returncode != 0, err
    [failed] = [p for p in reports.iterdir() if p.name.startswith("int.failed-")]
    manifest = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))
    assert [e["status"] for e in manifest["notebooks"]] == ["failed", "failed", "not run"]
    pids = [int(stdout_of(failed / f"{nb.stem}.ipynb").split()[0]) for nb in nbs[:2]]  # partial notebooks kept
    time.sleep(2)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # their kernels are gone
    assert not list(reports.glob(".int.tmp-*")) and not (reports / "int").exists()
    assert "KeyboardInterrupt caught in kernel" not in err


def test_a_page_export_validates_the_notebook_once(tmp_path, monkeypatch):
    # nbconvert validates after each of its dozen preprocessors unless told to validate once, at the end
    from nbconvert.exporters.exporter import Exporter

    from poolkit.reporting._html import _export_html

    checked: list[str] = []
    validate = Exporter._validate_preprocessor

    def counted(self, nbc, preprocessor):
        checked.append(type(preprocessor).__name__)
        return validate(self, nbc, preprocessor)

    monkeypatch.setattr(Exporter, "_validate_preprocessor", counted)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Pool\n\nVolatility $\\sigma_P$."),
                nbformat.v4.new_code_cell("x", execution_count=1, outputs=[nbformat.v4.new_output(
                    "execute_result", {"text/plain": "1", "text/html": "<table><tr><td>0.1733</td></tr></table>"},
                    execution_count=1)])]
    nbformat.write(nb, str(tmp_path / "page.ipynb"))
    page = _export_html(tmp_path / "page.ipynb", tmp_path / "page.html").read_text(encoding="utf-8")
    assert "<td>0.1733</td>" in page and "<math" in page
    assert len(checked) == 1
    invalid = json.loads((tmp_path / "page.ipynb").read_text(encoding="utf-8"))
    invalid["cells"][1]["execution_count"] = "one"
    (tmp_path / "invalid.ipynb").write_text(json.dumps(invalid), encoding="utf-8")
    with pytest.raises(Exception, match="(?i)valid"):  # an invalid notebook is still refused
        _export_html(tmp_path / "invalid.ipynb", tmp_path / "invalid.html")


@pytest.mark.notebook
def test_an_executed_notebook_is_written_once_as_it_ends(nb_b, tmp_path, monkeypatch):
    # papermill writes it after the engine returns (with its error banner when a cell failed): the
    # engine's own final save would write the same notebook once more
    import papermill.engines
    import papermill.execute

    writes: list[str] = []
    for module in (papermill.engines, papermill.execute):
        monkeypatch.setattr(module, "write_ipynb", lambda nb, path, _real=module.write_ipynb: (
            writes.append(Path(path).name), _real(nb, path))[1])
    done = run_notebook(nb_b, tmp_path / "ok.ipynb")
    assert writes == ["ok.ipynb"]
    assert nbformat.read(str(done), as_version=4).metadata["papermill"]["end_time"]
    with pytest.raises(ReportError, match="ZeroDivisionError"):
        run_notebook(nb_b, tmp_path / "failed.ipynb", {"fail": True})
    assert writes == ["ok.ipynb", "failed.ipynb"]
    kept = nbformat.read(str(tmp_path / "failed.ipynb"), as_version=4)
    assert kept.metadata["papermill"]["end_time"] and "ZeroDivisionError" in json.dumps(kept.cells[0].source + str(
        [o for c in kept.cells if c.cell_type == "code" for o in c.get("outputs", [])]))
