"""Tests of the ``poolkit`` command line: parsing, exit codes, dispatch, end-to-end report runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import poolkit
from poolkit.cli import main, parse_assignment
from poolkit.exceptions import ConfigurationError

ROOT = Path(__file__).resolve().parents[1]
DATA_NOTEBOOK = ROOT / "notebooks" / "01_data_loading.ipynb"


def make_notebook(path: Path, params: str, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "poolkit", "display_name": "Python (poolkit)", "language": "python"}
    first = nbformat.v4.new_code_cell(params)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *[nbformat.v4.new_code_cell(c) for c in cells]]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return make_notebook(
        tmp_path / "nbs" / "01_tiny.ipynb",
        'level: float = 0.95\nassets: list[str] = []\nfail: bool = False\nout_dir: str = ""',
        ["print(level, assets)", "if fail:\n    raise KeyError('no such asset')"],
    )


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("level=0.99", ("level", 0.99)),
        ("n=5", ("n", 5)),
        ("flag=true", ("flag", True)),
        ("name=sample:sp500", ("name", "sample:sp500")),
        ("assets=[AAPL, MSFT]", ("assets", ["AAPL", "MSFT"])),
        ("weights={A: 0.5, B: 0.5}", ("weights", {"A": 0.5, "B": 0.5})),
        ("start=2015-01-01", ("start", "2015-01-01")),  # dates stay ISO text
        ("label='123'", ("label", "123")),  # quotes force text
        ("empty=", ("empty", "")),
        ("expr=a=b", ("expr", "a=b")),  # only the first '=' splits
    ],
)
def test_parse_assignment_reads_values_as_yaml(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["level", "=1", "two words=1", "x=[1, 2"])
def test_parse_assignment_rejects_malformed_text(text):
    with pytest.raises(ConfigurationError):
        parse_assignment(text)


# --------------------------------------------------------------------------- commands without notebooks


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"poolkit {poolkit.__version__}"
    assert main(["--help"]) == 0
    assert "report" in capsys.readouterr().out
    assert main([]) == 2  # no command: usage and exit code 2


def test_help_does_not_import_heavy_modules():
    code = ("import sys; from poolkit.cli import main; main(['--help']); "
            "print(sorted(m for m in ('pandas', 'papermill', 'nbconvert', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_samples_lists_the_bundled_data(capsys):
    assert main(["samples"]) == 0
    out = capsys.readouterr().out
    files = sorted(p.name for p in (ROOT / "poolkit" / "datasets").glob("*.csv.gz"))
    assert files and all(name in out for name in files)


@pytest.mark.parametrize(("command", "flags"), [
    ("report", ["--name", "--params", "--parameter", "--notebooks", "--notebooks-dir", "--reports-dir", "--workers",
                "--no-prestart", "--no-html", "--quiet"]),
    ("batch", ["--workers", "--scheduler", "--name", "--resume", "--quiet", "--log", "--reports-dir"]),
    ("app", ["--port", "--token", "--notebook", "--notebooks-dir", "--open", "--no-browser", "--dry-run"]),
    ("notebooks", ["list", "copy"]),
])
def test_every_command_lives_in_the_cli_with_its_flags(capsys, command, flags):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: poolkit {command}")
    assert all(flag in out for flag in flags), out
    assert main([command, "--no-such-flag"]) == 2


def test_modules_that_notebooks_import_start_no_server():
    import poolkit.widgets

    for name in ("app_main", "_voila_command", "_app_parser", "_default_notebook"):
        assert not hasattr(poolkit.widgets, name)
    for module in Path(poolkit.widgets.__file__).parent.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        assert "subprocess" not in source and "Popen" not in source and "socket" not in source, module


def test_app_dry_run_prints_a_local_url_with_a_token(capsys):
    assert main(["app", "--port", "8901", "--dry-run"]) == 0
    out = capsys.readouterr().out
    url = next(line for line in out.splitlines() if "open http" in line).split("open ")[1]
    assert url.startswith("http://127.0.0.1:8901/?token=")
    assert len(url.split("token=")[1]) == 48
    assert "--Voila.ip=127.0.0.1" in out and "06_explorers.ipynb" in out
    assert main(["app", "--port", "8901", "--token", "fixed", "--dry-run"]) == 0
    assert "token=fixed" in capsys.readouterr().out


def test_app_refuses_a_missing_notebook_and_bad_port(tmp_path, capsys):
    assert main(["app", "--notebook", str(tmp_path / "nope.ipynb"), "--dry-run"]) == 2
    assert "nope.ipynb not found" in capsys.readouterr().err
    assert main(["app", "--port", "0", "--dry-run"]) == 2


def test_report_configuration_errors_exit_2(tiny, tmp_path, capsys):
    reports = tmp_path / "reports"
    base = ["report", "--notebooks", str(tiny), "--reports-dir", str(reports), "--quiet"]
    assert main([*base, "-p", "levl=0.99"]) == 2
    assert "`levl` is declared by none of" in capsys.readouterr().err
    assert main([*base, "-p", "level=high"]) == 2
    assert "parameter `level` must be float" in capsys.readouterr().err
    assert main([*base, "--params", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main([*base, "--bogus-option"]) == 2
    assert not reports.exists() or not any(reports.iterdir())


# --------------------------------------------------------------------------- end to end


@pytest.mark.notebook
def test_report_failure_exits_1_with_the_cell_error_and_keeps_partial(tiny, tmp_path, capsys):
    reports = tmp_path / "reports"
    code = main(["report", "--name", "nightly", "--notebooks", str(tiny), "--reports-dir", str(reports),
                 "-p", "fail=true", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "01_tiny.ipynb failed in cell 2" in err and "KeyError" in err and "no such asset" in err
    [failed] = list(reports.iterdir())
    assert failed.name.startswith("nightly.failed-") and (failed / "01_tiny.ipynb").exists()


@pytest.mark.notebook
def test_report_end_to_end_in_a_subprocess(tiny, tmp_path):
    """`poolkit report` with a params file and -p overrides; the data notebook when it exists."""
    params = tmp_path / "params.yaml"
    if DATA_NOTEBOOK.exists():
        notebook, stem = DATA_NOTEBOOK, DATA_NOTEBOOK.stem
        params.write_text("start: 2020-01-02\n", encoding="utf-8")  # YAML date -> ISO text
        extra = ["-p", "end=2021-12-31"]
        expected = {"start": "2020-01-02", "end": "2021-12-31"}
    else:
        notebook, stem = tiny, tiny.stem
        params.write_text("level: 0.9\nassets: [A, B]\n", encoding="utf-8")
        extra = ["-p", "level=0.99"]
        expected = {"level": 0.99, "assets": ["A", "B"]}
    reports = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "poolkit.cli", "report", "--name", "e2e", "--notebooks", str(notebook),
         "--reports-dir", str(reports), "--params", str(params), *extra, "--quiet"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    folder = reports / "e2e"
    assert run.stdout.strip() == str(folder)
    for name in (f"{stem}.ipynb", f"{stem}.html", "manifest.json", "index.html"):
        assert (folder / name).is_file(), name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok" and manifest["parameters"] == expected
    page = (folder / f"{stem}.html").read_text(encoding="utf-8")
    assert "<script src=\"http" not in page


# --------------------------------------------------------------------------- notebooks shipped with poolkit


def test_notebooks_list_names_the_shipped_notebooks(capsys):
    from poolkit.reporting import notebooks_dir

    assert main(["notebooks", "list"]) == 0
    listed = [Path(p) for p in capsys.readouterr().out.split()]
    repository = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert listed == repository and notebooks_dir() == ROOT / "notebooks"  # a checkout uses its notebooks/
    assert main(["notebooks"]) == 2  # no action


def test_notebooks_copy_refuses_to_overwrite_and_touches_nothing_else(tmp_path, capsys):
    import os
    import stat

    shipped = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    mine = tmp_path / "deep" / "mine"
    assert main(["notebooks", "copy", str(mine)]) == 0  # created with its parents
    assert sorted(p.name for p in mine.iterdir()) == [nb.name for nb in shipped]
    assert all((mine / nb.name).read_bytes() == nb.read_bytes() for nb in shipped)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((mine / shipped[0].name).stat().st_mode) == 0o666 & ~umask  # editable copies
    capsys.readouterr()

    # an edited notebook, a file of the user's and a link to a file outside the folder
    (mine / shipped[0].name).write_text("my edits", encoding="utf-8")
    (mine / "notes.md").write_text("keep me", encoding="utf-8")
    outside = tmp_path / "outside.ipynb"
    outside.write_text("outside", encoding="utf-8")
    (mine / shipped[1].name).unlink()
    (mine / shipped[1].name).symlink_to(outside)
    assert main(["notebooks", "copy", str(mine)]) == 2
    err = capsys.readouterr().err
    assert all(nb.name in err for nb in shipped) and "--overwrite" in err
    assert (mine / shipped[0].name).read_text(encoding="utf-8") == "my edits"  # nothing was copied

    assert main(["notebooks", "copy", str(mine), "--overwrite"]) == 0
    assert (mine / shipped[0].name).read_bytes() == shipped[0].read_bytes()
    assert not (mine / shipped[1].name).is_symlink() and outside.read_text(encoding="utf-8") == "outside"
    assert (mine / "notes.md").read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in mine.iterdir()) == sorted([nb.name for nb in shipped] + ["notes.md"])
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main(["notebooks", "copy", str(tmp_path / "a-file")]) == 2


def test_report_notebooks_dir_must_hold_notebooks(tmp_path, capsys):
    reports = tmp_path / "reports"
    assert main(["report", "--notebooks-dir", str(tmp_path / "missing"), "--reports-dir", str(reports)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", "--notebooks-dir", str(tmp_path / "empty"), "--reports-dir", str(reports)]) == 2
    assert "poolkit notebooks copy" in capsys.readouterr().err
    assert not reports.exists() or not any(reports.iterdir())


def test_app_serves_the_copy_in_notebooks_dir(tmp_path, capsys):
    assert main(["notebooks", "copy", str(tmp_path)]) == 0
    assert main(["app", "--notebooks-dir", str(tmp_path), "--port", "8902", "--dry-run"]) == 0
    assert f"serving {tmp_path / '06_explorers.ipynb'}" in capsys.readouterr().out
    assert main(["app", "--notebooks-dir", str(tmp_path / "nothing"), "--dry-run"]) == 2


@pytest.mark.notebook
def test_report_runs_the_notebooks_of_notebooks_dir(tiny, tmp_path):
    reports = tmp_path / "reports"
    assert main(["report", "--name", "own", "--notebooks-dir", str(tiny.parent), "--reports-dir", str(reports),
                 "--quiet", "-p", "level=0.9"]) == 0
    manifest = json.loads((reports / "own" / "manifest.json").read_text(encoding="utf-8"))
    assert [e["notebook"] for e in manifest["notebooks"]] == [str(tiny)]


# The command, with the start of the kernels' fork server noting whether asyncio (0.05-0.1 s) was loaded by then.
_SERVER_START_PROBE = """
import sys
from poolkit.reporting import _forkserver
real = _forkserver.ForkServer.__init__
def start(self, env):
    print("asyncio loaded:", "asyncio" in sys.modules, flush=True)
    real(self, env)
_forkserver.ForkServer.__init__ = start
from poolkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("args", [["batch", "missing.yaml"], ["report", "--notebooks", "missing_notebook"]])
def test_the_fork_server_starts_before_the_command_loads_asyncio(tmp_path, args):
    # the server's imports (2-2.5 s, what the first kernels wait for) begin as early as they can
    done = subprocess.run([sys.executable, "-c", _SERVER_START_PROBE, *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines()[0] == "asyncio loaded: False"
