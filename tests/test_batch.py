"""Batch report generation: grids, run ids, type checks, Dask runs, turns of the workers, resume, crash safety, cron.

The notebooks here are tiny ones written into a temporary folder, so each report
takes about a second; every figure they record is recomputed independently in
the test from its parameters.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poolkit import batch, cli
from poolkit.exceptions import ConfigurationError
from poolkit.reporting import declared_parameters

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
INJECTION = "x'); import os; os.system('touch pwned') #"
TRICKY = 'a\\"); open("pwned2", "w") #'

CALC_PARAMETERS = """portfolio: str = "a"  # the portfolio's name
level: float = 0.95
assets: list[str] = []
pause: float = 0.0
out_dir: str = \"\""""
CALC_CELLS = [
    "import time\ntime.sleep(pause)",
    "value = round(len(portfolio) * level + len(assets), 6)",
    'assert portfolio != "bad", f"portfolio {portfolio!r} is rejected"',
    'from poolkit.reporting import record\nrecord({"value": value, "n_chars": len(portfolio)}, out_dir)',
]


def _notebook(path: Path, parameters: str, cells: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "poolkit", "display_name": "Python (poolkit)", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def expected_value(portfolio: str, level: float, assets: list[str]) -> float:
    """What the tiny notebook records, computed here by hand."""
    return round(len(portfolio) * level + len(assets), 6)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the tiny notebooks (01_calc fails for portfolio 'bad')."""
    _notebook(tmp_path / "01_calc.ipynb", CALC_PARAMETERS, CALC_CELLS)
    _notebook(
        tmp_path / "02_types.ipynb",
        'n: int = 1\nflag: bool = False\nweights: dict[str, float] = {}\nday: str = ""\nout_dir: str = ""',
        ["pass"],
    )
    return tmp_path


def write_grid(folder: Path, text: str, name: str = "grid.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "poolkit.cli", "batch", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        **kwargs,
    )


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    """Call `poolkit batch` in-process (configuration errors exit before any cluster starts)."""
    code = cli.main(["batch", *args])
    out, err = capsys.readouterr()
    return code, out, err


def manifest_status(folder: Path) -> str | None:
    try:
        return json.loads((folder / "manifest.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


# --------------------------------------------------------------------------- grid and ids


def test_grid_expands_products_and_lists(project):
    grid = batch.load_grid(
        write_grid(
            project,
            """
notebooks: [01_calc.ipynb]
parameters: {assets: [A, B]}
grid:
  - product: {portfolio: [alpha, beta, gamma], level: [0.95, 0.99]}
  - {portfolio: delta, level: 0.9}
  - {portfolio: epsilon, run_id: my-run}
""",
        )
    )
    assert grid.errors == []
    assert grid.name == "grid"
    assert len(grid.runs) == 3 * 2 + 2
    ids = [r.run_id for r in grid.runs]
    assert len(set(ids)) == len(ids) and all(SAFE.match(i) for i in ids)
    assert ids[-1] == "my-run"
    first = grid.runs[0]
    assert first.parameters == {"assets": ["A", "B"], "portfolio": "alpha", "level": 0.95}
    assert first.varying == {"portfolio": "alpha", "level": 0.95}
    assert first.run_id.startswith("portfolio-alpha_level-0.95-")
    # product order: the last axis varies fastest, like itertools.product
    assert [(r.varying["portfolio"], r.varying["level"]) for r in grid.runs[:3]] == [
        ("alpha", 0.95),
        ("alpha", 0.99),
        ("beta", 0.95),
    ]


@pytest.mark.parametrize(
    "values",
    [
        {"name": "../../etc/passwd"},
        {"path": "/absolute/path"},
        {"name": ".hidden"},
        {"name": "a b\tc\n;rm -rf ~"},
        {"name": "C:\\Windows\\..\\x"},
        {"name": "ünïcödé ☃"},
        {"name": "x" * 500},
        {"assets": ["..", "..", "etc"]},
        {"name": ""},
        {},
    ],
)
def test_run_ids_are_safe_folder_names(values, tmp_path):
    import hashlib

    run_id = batch.make_run_id(values)
    assert SAFE.match(run_id), run_id
    assert ".." not in run_id and "/" not in run_id and "\\" not in run_id
    assert len(run_id) <= 60 + 9
    # the folder stays directly inside the reports folder
    assert (tmp_path / run_id).resolve().parent == tmp_path.resolve()
    # hash = SHA-256 of the canonical JSON (sorted keys), independent of key order
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":")).encode()
    assert run_id.endswith("-" + hashlib.sha256(canonical).hexdigest()[:8])
    assert batch.make_run_id(dict(reversed(list(values.items())))) == run_id


def test_ids_differ_when_shared_parameters_differ():
    a = batch.make_run_id({"level": 0.95}, {"level": 0.95, "assets": ["A"]})
    b = batch.make_run_id({"level": 0.95}, {"level": 0.95, "assets": ["B"]})
    assert a != b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]


@pytest.mark.parametrize("bad", ["../escape", "/etc", "a/b", ".hidden", "a b", "x..y", "", "-flag", "é"])
def test_unsafe_names_are_refused(bad):
    with pytest.raises(ConfigurationError, match="not a safe folder name"):
        batch.check_name(bad)


def test_unsafe_ids_and_names_are_all_reported_with_exit_2(project, capsys):
    grid = write_grid(
        project,
        """
name: ../outside
notebooks: [01_calc.ipynb]
grid:
  - {portfolio: a, run_id: ../../escape}
  - {portfolio: b, run_id: /tmp/abs}
  - {portfolio: c, run_id: "has space"}
  - {portfolio: d, run_id: ok-id}
  - {portfolio: e, run_id: ok-id}
""",
    )
    code, _, err = run_main([str(grid), "--reports-dir", str(project / "reports")], capsys)
    assert code == 2, err
    for fragment in ["'../outside'", "'../../escape'", "'/tmp/abs'", "'has space'", "'ok-id' already used"]:
        assert fragment in err
    assert not (project / "reports").exists()  # nothing ran, nothing written
    assert not (project.parent / "outside").exists()


def test_type_errors_are_reported_all_at_once(project, capsys):
    grid = write_grid(
        project,
        """
notebooks: [01_calc.ipynb, 02_types.ipynb]
parameters:
  levle: 0.9
  out_dir: /tmp/elsewhere
grid:
  - {portfolio: a, level: high}
  - {portfolio: 3, n: 1.5, flag: "yes"}
  - {assets: AAPL, weights: {A: x}}
  - {"x = 1; import os; y": 1}
""",
    )
    code, _, err = run_main([str(grid), "--reports-dir", str(project / "reports")], capsys)
    assert code == 2
    expected = [
        "no notebook declares a parameter 'levle'. Did you mean 'level'?",
        "'out_dir' is set by the batch",
        "level (declared in 01_calc.ipynb): expected float, got str 'high'",
        "portfolio (declared in 01_calc.ipynb): expected str, got int 3",
        "n (declared in 02_types.ipynb): expected int, got float 1.5",
        "flag (declared in 02_types.ipynb): expected bool, got str 'yes'",
        "assets (declared in 01_calc.ipynb): expected list[str], got str 'AAPL'",
        "weights (declared in 02_types.ipynb)['A']: expected float, got str 'x'",
        "'x = 1; import os; y' is not a valid parameter name",
    ]
    missing = [e for e in expected if e not in err]
    assert not missing, err
    assert "invalid configuration (9 problem(s))" in err  # shared values are reported once
    assert not (project / "reports").exists()


def test_values_are_converted_to_declared_types(project):
    grid = batch.load_grid(
        write_grid(
            project,
            "notebooks: [01_calc.ipynb, 02_types.ipynb]\ngrid:\n  - {level: 1, day: 2024-03-29, weights: {A: 1, B: 0.5}}\n",
        )
    )
    assert grid.errors == []  # load_grid checks every value against the declarations
    params = grid.runs[0].parameters
    assert params["level"] == 1.0 and isinstance(params["level"], float)
    assert params["day"] == "2024-03-29"  # an unquoted YAML date, declared str
    assert params["weights"] == {"A": 1.0, "B": 0.5} and isinstance(params["weights"]["A"], float)


def test_parameters_cell_with_equal_signs_in_comments_is_read(tmp_path):
    # papermill.inspect_notebook skips `source: str = "sample"  # "sample" = ...` (two '=');
    # the batch reads the cell with Python's parser, so every parameter is declared.
    nb = _notebook(tmp_path / "nb.ipynb", 'source: str = "sample"  # "sample" = bundled data\nn = 3\nout_dir: str = ""', [])
    declared = declared_parameters(nb)
    assert {k: v["inferred_type_name"] for k, v in declared.items()} == {"source": "str", "n": "None", "out_dir": "str"}
    assert declared["source"]["default"] == "'sample'" and declared["n"]["default"] == "3"


def test_nested_yaml_dates_become_text_before_the_check(project):
    grid = batch.load_grid(
        write_grid(project, "notebooks: [01_calc.ipynb]\ngrid:\n  - {assets: [2024-03-29, AAPL], portfolio: 2024-01-02}\n")
    )
    assert grid.errors == []
    assert grid.runs[0].parameters == {"assets": ["2024-03-29", "AAPL"], "portfolio": "2024-01-02"}


@pytest.mark.parametrize(
    "values",
    [
        {"level": 1},
        {"level": "high"},
        {"level": True},
        {"n": 1.0},
        {"flag": 0},
        {"assets": ["A", 3]},
        {"assets": "A"},
        {"weights": {"A": 1, "B": "x"}},
        {"weights": {"A": 0.5}},
        {"day": None},
        {"nope": 1},
        {"out_dir": "x"},
    ],
)
def test_batch_and_report_runs_accept_the_same_values(project, values):
    """`poolkit batch` and `poolkit report` make one and the same check."""
    from poolkit.reporting import RESERVED_PARAMETERS, check_parameters

    notebooks = [project / "01_calc.ipynb", project / "02_types.ipynb"]
    entry = json.dumps(values) if values else "{portfolio: a}"  # JSON is YAML
    grid = batch.load_grid(write_grid(project, f"notebooks: [01_calc.ipynb, 02_types.ipynb]\ngrid:\n  - {entry}\n"))
    by_report = check_parameters(notebooks, values, reserved=RESERVED_PARAMETERS)
    assert bool(grid.errors) == bool(by_report), (grid.errors, by_report)
    assert len(grid.errors) == len(by_report) <= 1


def test_notebook_paths_fall_back_to_the_current_folder(project, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("grids")
    grid = write_grid(elsewhere, "notebooks: [01_calc.ipynb]\ngrid: [{portfolio: a}]\n")
    monkeypatch.chdir(project)
    loaded = batch.load_grid(grid)
    assert loaded.errors == [] and loaded.notebooks == [(project / "01_calc.ipynb").resolve()]
    # the grid's own folder comes first when both hold the notebook
    _notebook(elsewhere / "01_calc.ipynb", CALC_PARAMETERS, CALC_CELLS)
    assert batch.load_grid(grid).notebooks == [(elsewhere / "01_calc.ipynb").resolve()]
    monkeypatch.chdir(elsewhere.parent)
    (elsewhere / "01_calc.ipynb").unlink()
    [error] = batch.load_grid(grid).errors
    assert "'01_calc.ipynb' not found" in error and str(elsewhere / "01_calc.ipynb") in error


def test_bad_files_and_options_exit_2(project, capsys):
    code, _, err = run_main([str(project / "missing.yaml")], capsys)
    assert code == 2 and "not found" in err
    bad_yaml = write_grid(project, "notebooks: [01_calc.ipynb\ngrid: {", "bad.yaml")
    code, _, err = run_main([str(bad_yaml)], capsys)
    assert code == 2 and "not valid YAML" in err
    ok = write_grid(project, "notebooks: [01_calc.ipynb, nope.ipynb]\ngrid: [{portfolio: a}]\nextra: 1\n")
    code, _, err = run_main([str(ok), "--workers", "0", "--scheduler", "not an address"], capsys)
    assert code == 2
    for fragment in ["--workers must be a positive integer", "--scheduler must look like", "'nope.ipynb' not found", "unknown key 'extra'"]:
        assert fragment in err
    assert run_main(["--no-such-option"], capsys)[0] == 2


def test_the_batch_process_imports_no_pandas_before_its_reports_start():
    # pandas (0.5-1 s) is for the kernels, which a fork server loads beside the batch; the batch process
    # loads it later, through poolkit.data, while its first notebooks run (a report's data files)
    code = ("import sys\n"
            "from poolkit import batch, cli\n"
            "from poolkit.batch import _run\n"
            "from poolkit.reporting import _execute, _html, _kernel, _outputs, _suite\n"
            "grid = batch.load_grid(sys.argv[1])\n"
            "assert not grid.errors, grid.errors\n"
            "print(sorted(m for m in ('pandas', 'numpy', 'poolkit.data') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "batch_grid.yaml")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# The command's process: an object whose finaliser runs only when Python tears the interpreter
# down marks (in a file) that the teardown happened; the exit handlers and the output must not
# depend on it.
_TEARDOWN_PROBE = """
import atexit, sys
from pathlib import Path
folder = Path(sys.argv.pop(1))
mode = sys.argv.pop(1)
class Probe:
    def __del__(self):
        (folder / "torn-down").write_text("x")
probe = Probe()
if mode == "handler-first":
    atexit.register(lambda: (folder / "earlier-handler").write_text("x"))
from poolkit.cli import main
if mode == "library":
    code = main(sys.argv[1:])
    print("the caller goes on")
    sys.exit(code)
sys.exit(main())
"""


def _probe(tmp_path: Path, mode: str, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    folder = tmp_path / mode
    folder.mkdir()
    done = subprocess.run([sys.executable, "-c", _TEARDOWN_PROBE, str(folder), mode, *args], capture_output=True,
                          text=True, timeout=120)
    return done, {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("args, code", [(["samples"], 0), (["batch", "missing.yaml"], 2), (["--no-such"], 2)])
def test_the_command_ends_without_the_interpreter_teardown(tmp_path, capsys, args, code):
    done, marks = _probe(tmp_path, "command", *args)
    assert done.returncode == code
    assert marks == set()  # the process ended after its exit handlers, before the teardown
    # its output is all there: the same as main's in this process
    assert cli.main(args) == code
    out, err = capsys.readouterr()
    assert done.stdout == out
    if code == 0:
        assert "sample:ff_factors" in done.stdout
    else:
        assert done.stderr.strip().splitlines()[-1] == err.strip().splitlines()[-1]


def test_main_called_as_a_library_or_after_another_exit_handler_leaves_the_exit_alone(tmp_path):
    done, marks = _probe(tmp_path, "library", "batch", "missing.yaml")
    assert done.returncode == 2 and done.stdout.endswith("the caller goes on\n")
    assert marks == {"torn-down"}  # a program that calls main goes on and ends as usual
    done, marks = _probe(tmp_path, "handler-first", "samples")
    assert done.returncode == 0 and "sample:ff_factors" in done.stdout
    assert marks == {"earlier-handler", "torn-down"}  # an exit handler older than main's still runs


def test_example_grid_is_valid_against_the_project_notebooks():
    grid = batch.load_grid(EXAMPLES / "batch_grid.yaml")
    assert grid.errors == []
    assert len(grid.runs) == 4 * 3 + 1


# --------------------------------------------------------------------------- real runs on Dask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_pair():
    """A real `dask scheduler` + `dask worker` pair on 127.0.0.1 (terminated afterwards)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(BIN / "dask")
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


CLUSTER_GRID = f"""
name: pack
notebooks: [01_calc.ipynb]
parameters: {{assets: [A, B]}}
grid:
  - product: {{portfolio: [alpha, bad], level: [0.95]}}
  - {{portfolio: {json.dumps(INJECTION)}, level: 1, run_id: injection}}
  - {{portfolio: {json.dumps(TRICKY)}, level: 1, run_id: tricky}}
"""


@pytest.mark.slow
@pytest.mark.notebook
def test_local_cluster_batch_isolates_failures_writes_index_and_resumes(project):
    reports = project / "reports"
    grid = write_grid(project, CLUSTER_GRID)
    proc = run_cli([str(grid), "--workers", "2", "--reports-dir", str(reports)], cwd=project)
    assert proc.returncode == 1, proc.stderr  # one run failed, the others completed
    pack = reports / "pack"
    loaded = batch.load_grid(grid)
    by_portfolio = {r.parameters["portfolio"]: r.run_id for r in loaded.runs}
    bad_id = by_portfolio["bad"]
    assert f"FAILED {bad_id}: AssertionError: portfolio 'bad' is rejected (in 01_calc.ipynb, cell 3)" in proc.stderr
    for portfolio, level in [("alpha", 0.95), (INJECTION, 1.0), (TRICKY, 1.0)]:
        folder = pack / by_portfolio[portfolio]
        assert manifest_status(folder) == "ok"
        summary = json.loads((folder / "01_calc" / "summary.json").read_text())
        # the strings reached the notebook verbatim: their exact length is recorded
        assert summary == {"value": expected_value(portfolio, level, ["A", "B"]), "n_chars": len(portfolio)}
    assert not list(project.rglob("pwned*")) and not Path("pwned").exists()
    # the failing set left no folder that looks complete, only a kept partial run
    assert not (pack / bad_id).exists()
    partial = list(pack.glob(f"{bad_id}.failed-*"))
    assert len(partial) == 1 and manifest_status(partial[0]) == "failed"

    page = (pack / "index.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page  # offline
    for run in loaded.runs:
        assert f'id="{run.run_id}"' in page
    assert page.count('class="status ok">ok<') == 3 and page.count('class="status bad">failed<') == 1
    assert "AssertionError: portfolio &#x27;bad&#x27; is rejected" in page
    assert "assert portfolio != &quot;bad&quot;" in page  # the failing cell's source
    assert f">{expected_value('alpha', 0.95, ['A', 'B']):.6g}<" in page
    for href in re.findall(r'href="([^"#]+)"', page):
        assert (pack / href).is_file(), href
    assert f'href="{by_portfolio["alpha"]}/01_calc.html"' in page

    manifest = json.loads((pack / "batch.json").read_text())
    assert manifest["grid_sha256"] and manifest["versions"]["dask"]
    assert "git" in manifest
    assert {r["run_id"]: r["status"] for r in manifest["runs"]}[bad_id] == "failed"
    assert (pack / "batch.log").read_text().count("FAILED") == 1

    # --resume: the completed sets are skipped (manifests untouched), the failed one is redone
    ok_folders = [pack / by_portfolio[p] for p in ("alpha", INJECTION, TRICKY)]
    mtimes = {f: (f / "manifest.json").stat().st_mtime_ns for f in ok_folders}
    proc = run_cli([str(grid), "--workers", "2", "--reports-dir", str(reports), "--resume", "--quiet"], cwd=project)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert {f: (f / "manifest.json").stat().st_mtime_ns for f in ok_folders} == mtimes
    assert len(list(pack.glob(f"{bad_id}.failed-*"))) == 2  # redone, failed again, kept
    log = (pack / "batch.log").read_text()
    assert "resume: 3 complete runs skipped, 1 to run" in log
    assert page.count("<tr>") == (pack / "index.html").read_text().count("<tr>")


@pytest.mark.slow
@pytest.mark.notebook
def test_existing_scheduler_gives_identical_summaries(project, dask_pair):
    grid = write_grid(
        project,
        "notebooks: [01_calc.ipynb]\nparameters: {assets: [A, B]}\ngrid:\n"
        "  - product: {portfolio: [alpha, beta], level: [0.95]}\n",
    )
    from poolkit.reporting import run_suite

    reports = project / "reports"
    runs = batch.load_grid(grid).runs
    for run in runs:  # first time: each set run directly, one after the other
        run_suite(notebooks=[project / "01_calc.ipynb"], parameters=run.parameters,
                  output_dir=reports / "one" / run.run_id, progress=False)
    second = run_cli([str(grid), "--name", "two", "--reports-dir", str(reports), "--scheduler", dask_pair], cwd=project)
    assert second.returncode == 0, second.stderr
    for run in runs:
        a = (reports / "one" / run.run_id / "01_calc" / "summary.json").read_bytes()
        b = (reports / "two" / run.run_id / "01_calc" / "summary.json").read_bytes()
        assert a == b  # same grid, same data: byte-identical key figures
        expected = expected_value(run.parameters["portfolio"], 0.95, ["A", "B"])
        assert json.loads(b)["value"] == expected
    assert json.loads((reports / "two" / "batch.json").read_text())["scheduler"] == dask_pair


# The batch's process, with the HTML export of its first report held until two reports' notebooks
# have started (or two minutes have passed): it notes how many had started by then.
_HELD_EXPORT = """
import sys, time
from pathlib import Path
from poolkit.reporting import _suite
flags, real, held = Path(sys.argv[1]), _suite._export_html, []
def export(executed, html_path):
    if not held:
        held.append(executed)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(flags.glob("*.start"))) < 2:
            time.sleep(0.05)
        (flags / "started-during-the-first-export").write_text(str(len(list(flags.glob("*.start")))))
    return real(executed, html_path)
_suite._export_html = export
from poolkit import cli
sys.exit(cli.main(sys.argv[2:]))
"""

TURN_PARAMETERS = 'tag: str = "a"\nflags: str = ""\npause: float = 0.5\nout_dir: str = ""'
TURN_CELLS = [
    "import os, time\nopen(os.path.join(flags, tag + '.start'), 'w').write(repr(time.time()))",
    "time.sleep(pause)",
    "open(os.path.join(flags, tag + '.end'), 'w').write(repr(time.time()))",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_a_worker_starts_its_next_notebook_while_the_last_report_finishes_its_files(tmp_path):
    _notebook(tmp_path / "01_turn.ipynb", TURN_PARAMETERS, TURN_CELLS)
    flags = tmp_path / "flags"
    flags.mkdir()
    grid = write_grid(tmp_path, f"name: turns\nnotebooks: [01_turn.ipynb]\nparameters: {{flags: {json.dumps(str(flags))}}}\n"
                                "grid:\n  - product: {tag: [a, b, c]}\n")
    done = subprocess.run([sys.executable, "-c", _HELD_EXPORT, str(flags), "batch", str(grid), "--workers", "1",
                           "--reports-dir", str(tmp_path / "reports"), "--quiet"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    runs = batch.load_grid(grid).runs
    assert all(manifest_status(tmp_path / "reports" / "turns" / r.run_id) == "ok" for r in runs)
    for run in runs:
        assert (tmp_path / "reports" / "turns" / run.run_id / "01_turn.html").is_file()
    # the next report's notebook ran while the first report's page was being written ...
    assert (flags / "started-during-the-first-export").read_text() == "2"
    # ... yet one worker ran one notebook at a time
    spans = sorted((float((flags / f"{t}.start").read_text()), float((flags / f"{t}.end").read_text())) for t in "abc")
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))


def test_a_report_waiting_for_its_turn_does_not_start_once_the_batch_is_over():
    import threading

    from poolkit.batch._turns import _BatchOver, _Slots

    slots = _Slots(1)
    give_back, _ = slots.take()
    outcome: list[str] = []

    def wait() -> None:
        try:
            slots.take()
            outcome.append("started")
        except _BatchOver:
            outcome.append("not started")

    waiting = threading.Thread(target=wait)
    waiting.start()
    slots.closed.set()  # e.g. the batch was interrupted
    waiting.join(30)
    assert outcome == ["not started"]
    give_back()
    give_back()  # given back once, however often it is called
    with pytest.raises(_BatchOver):
        slots.take()  # a free turn is not taken either
    fresh = _Slots(1)
    fresh.take()[0]()
    fresh.take()  # the turn given back once is free again, and only once
    assert not fresh._free.acquire(blocking=False)


def test_a_report_that_gives_its_turn_away_finishes_its_files_once_the_next_notebook_has_started():
    # both reports are threads of the batch's process: the export must not slow the next notebook's start
    import threading

    from poolkit.batch import _turns

    slots = _turns._Slots(1)
    give_back, _ = slots.take()
    events: list[str] = []
    taken = threading.Event()

    def next_report() -> None:
        _, started = slots.take()
        taken.set()
        time.sleep(0.2)  # its kernel gets ready
        events.append("next report's kernel answers")
        started()

    waiting = threading.Thread(target=next_report)
    waiting.start()
    while not slots._waiting:  # the next report waits for the turn
        time.sleep(0.01)
    give_back()  # returns once the next report's notebook has started
    events.append("first report finishes its files")
    waiting.join(30)
    assert taken.is_set() and events == ["next report's kernel answers", "first report finishes its files"]
    alone = _turns._Slots(1)
    alone.take()[0]()  # nobody waits: given back at once


def test_two_reports_giving_their_turns_to_one_waiting_report_do_not_both_wait_for_it(monkeypatch):
    # one report waits (its turn and a handover are already promised to it): a second report that gives
    # its turn back has nobody to hand it to and finishes its files at once, not after HANDOVER_S
    import threading

    from poolkit.batch import _turns

    monkeypatch.setattr(_turns, "HANDOVER_S", 600.0)
    slots = _turns._Slots(2)
    slots.take()
    give_back, _ = slots.take()
    slots._waiting, slots._handovers = 1, [threading.Event()]  # the first report's handover to the waiting one
    returned = threading.Event()
    threading.Thread(target=lambda: (give_back(), returned.set()), daemon=True).start()
    assert returned.wait(60)
    assert len(slots._handovers) == 1


@pytest.mark.notebook
def test_a_report_tells_when_its_notebooks_start_and_when_their_cells_are_done_before_it_saves_and_publishes(project):
    # what a worker's turns wait for (the next report starts its notebook then, while this one finishes its files)
    from poolkit.exceptions import ReportError
    from poolkit.reporting import run_suite
    from poolkit.reporting._suite import when_cells_done

    reports = project / "reports"
    seen: list[dict] = []
    order: list[str] = []

    def started() -> None:  # the first notebook's kernel answers
        order.append("started")

    def cells_done() -> None:
        order.append("cells done")
        [tmp] = [p for p in reports.iterdir() if p.name.startswith(".done.tmp-")]
        executed = tmp / "02_types.ipynb"  # (saved at most every few seconds while it runs)
        end = json.loads(executed.read_text())["metadata"]["papermill"]["end_time"] if executed.exists() else None
        seen.append({"html": sorted(p.name for p in tmp.glob("*.html")), "published": (reports / "done").exists(),
                     "end_time": end})

    notebooks = [project / "01_calc.ipynb", project / "02_types.ipynb"]
    with when_cells_done(cells_done, started):
        folder = run_suite(name="done", notebooks=notebooks, reports_dir=reports, workers=1, progress=False)
    assert order[0] == "started" and order.index("cells done") > 0
    assert folder == reports / "done" and (folder / "02_types.html").is_file()
    # once at least, when the last notebook's cells had run: before its last save, its page and the rename
    assert seen and seen[0] == {"html": ["01_calc.html"], "published": False, "end_time": None}
    assert json.loads((folder / "02_types.ipynb").read_text(encoding="utf-8"))["metadata"]["papermill"]["end_time"]
    with when_cells_done(lambda: seen.append({"failed": True})), pytest.raises(ReportError):
        run_suite(name="fails", notebooks=notebooks[:1], parameters={"portfolio": "bad"}, reports_dir=reports,
                  progress=False)
    assert seen[-1] == {"failed": True}  # a failing run too


@pytest.mark.notebook
def test_a_client_is_ready_once_the_kernel_greets_its_subscription(tmp_path):
    # the status messages of the readiness requests are lost (as when the client's IOPub subscription
    # reaches the kernel after them): the kernel's greeting of the subscription proves it is live.
    # One client only: a second client's subscription can reach the kernel before the first one's
    # unsubscription, and a subscription the kernel already holds is not greeted again
    import asyncio

    from poolkit.reporting._execute import _wait_until_ready
    from poolkit.reporting._kernel import kernel_supply

    supply = kernel_supply()
    km = supply.take((str(tmp_path), False, None))

    async def connect() -> tuple[list[str], list[str]]:
        kc = km.client()
        kc.start_channels()
        sent, seen = [], []
        send, receive = kc.kernel_info, kc.get_iopub_msg

        def kernel_info() -> str:
            sent.append(send())
            return sent[-1]

        async def get_iopub_msg(timeout: float | None = None) -> dict:
            while True:
                msg = await receive(timeout=timeout)
                seen.append(msg["msg_type"])
                if msg["msg_type"] != "status":
                    return msg

        kc.kernel_info, kc.get_iopub_msg = kernel_info, get_iopub_msg
        try:
            await _wait_until_ready(kc, 90)  # the kernel boots meanwhile
        finally:
            kc.stop_channels()
        return sent, seen

    try:
        sent, seen = asyncio.run(connect())
    finally:
        supply.retire(km)
        supply.wait()
    assert sent and "iopub_welcome" in seen


@pytest.mark.slow
@pytest.mark.notebook
def test_kill_9_of_the_batch_then_resume_completes(project):
    reports = project / "reports"
    grid = write_grid(
        project,
        "name: crash\nnotebooks: [01_calc.ipynb]\nparameters: {pause: 1.0}\ngrid:\n"
        "  - product: {portfolio: [p1, p2, p3, p4, p5], level: [0.5]}\n",
    )
    crash = reports / "crash"
    proc = subprocess.Popen(
        [sys.executable, "-m", "poolkit.cli", "batch", str(grid), "--workers", "2", "--reports-dir", str(reports),
         "--quiet"],
        cwd=project,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        # kill while reports are being written (a temporary folder exists)
        while time.monotonic() < deadline and not any(p.name.startswith(".") and ".tmp-" in p.name for p in crash.glob(".*")):
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)  # the batch process only: what it started must not run on
        proc.wait(timeout=10)
        entries = list(crash.iterdir())
        assert any(".tmp-" in p.name for p in entries), "the kill did not interrupt a report"
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                assert manifest_status(entry) == "ok"  # a visible run folder is always complete
        runs = batch.load_grid(grid).runs
        done_before = {r.run_id for r in runs if manifest_status(crash / r.run_id) == "ok"}
        assert len(done_before) < len(runs)

        # at once: the resumed run waits for the killed run's kernels and fork server to be gone before it sweeps
        resumed = run_cli([str(grid), "--workers", "2", "--reports-dir", str(reports), "--resume", "--quiet"],
                          cwd=project)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # should the test fail: what remains of the killed batch
        except ProcessLookupError:
            pass
    assert resumed.returncode == 0, resumed.stderr
    assert all(manifest_status(crash / r.run_id) == "ok" for r in runs)
    assert not [p for p in crash.iterdir() if ".tmp-" in p.name]  # stale temporary folders removed
    assert sorted(p.name for p in reports.iterdir()) == ["crash"]  # its locks too
    log = (crash / "batch.log").read_text()
    assert f"resume: {len(done_before)} complete runs skipped, {len(runs) - len(done_before)} to run" in log


def _crontab_command() -> tuple[list[str], str]:
    lines = [line for line in (EXAMPLES / "crontab").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    return fields[:5], fields[5]


def test_crontab_schedule_fields_are_valid():
    schedule, command = _crontab_command()
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for field, (low, high) in zip(schedule, ranges, strict=True):
        for part in field.split(","):
            if part == "*":
                continue
            for number in re.split(r"[-/]", part):
                assert low <= int(number) <= high, field
    assert "poolkit batch" in command and "--quiet" in command


def test_systemd_units_run_the_same_command():
    service = configparser.ConfigParser(interpolation=None)
    service.read(EXAMPLES / "systemd" / "poolkit-batch.service")
    assert service["Service"]["Type"] == "oneshot"
    exec_start = shlex.split(service["Service"]["ExecStart"])
    assert exec_start[0] == service["Service"]["WorkingDirectory"] + "/.venv/bin/poolkit"
    assert exec_start[1:3] == ["batch", "examples/batch_grid.yaml"] and "--quiet" in exec_start
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(EXAMPLES / "systemd" / "poolkit-batch.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.slow
@pytest.mark.notebook
def test_crontab_command_runs(project, tmp_path_factory):
    """Run the example crontab command as cron would (/bin/sh, % unescaped) on a tiny grid."""
    if not (BIN / "poolkit").exists():
        pytest.skip("the poolkit console script is not installed")
    _, command = _crontab_command()
    home = tmp_path_factory.mktemp("srv")
    (home / ".venv").mkdir()
    (home / ".venv" / "bin").symlink_to(BIN)
    (home / "examples").mkdir()
    write_grid(
        home / "examples",
        f"notebooks: [{project / '01_calc.ipynb'}]\ngrid:\n  - {{portfolio: cron, level: 0.5}}\n",
        "batch_grid.yaml",
    )
    shell_command = command.replace("\\%", "%").replace("/srv/poolkit", str(home))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = "/usr/bin:/bin"  # cron's minimal PATH
    proc = subprocess.run(["/bin/sh", "-c", shell_command], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # quiet: cron mails nothing when all is well
    today = subprocess.run(["date", "+%Y-%m-%d"], capture_output=True, text=True).stdout.strip()
    folder = home / "reports" / f"nightly-{today}"
    run_id = batch.make_run_id({"portfolio": "cron", "level": 0.5})
    assert manifest_status(folder / run_id) == "ok"
    assert json.loads((folder / run_id / "01_calc" / "summary.json").read_text())["value"] == expected_value("cron", 0.5, [])
    assert "1 ok, 0 skipped, 0 failed" in (folder / "batch.log").read_text()


def test_a_bare_notebook_name_in_a_grid_finds_the_shipped_notebook(tmp_path):
    grid = batch.load_grid(write_grid(tmp_path, "notebooks: [02_risk_statistics]\ngrid:\n  - {level: 0.99}\n"))
    assert grid.errors == []
    assert grid.notebooks == [(ROOT / "notebooks" / "02_risk_statistics.ipynb").resolve()]
