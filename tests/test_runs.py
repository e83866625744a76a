"""Reports and batches that never lose data and never go stale, tried with real processes.

Every test here runs the real ``poolkit`` command in a subprocess (``poolkit report``,
``poolkit batch``, ``poolkit app``) and, where the scenario calls for it, real signals
(``kill -9``), real concurrent runs and a real Voilà server. The notebooks are tiny
ones written into a temporary folder, except where the project's own notebooks are
what must survive.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POOLKIT = BIN / "poolkit"

pytestmark = pytest.mark.skipif(not POOLKIT.exists(), reason="the poolkit console script is not installed")


def make_notebook(path: Path, params: str, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "poolkit", "display_name": "Python (poolkit)", "language": "python"}
    first = nbformat.v4.new_code_cell(params)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *[nbformat.v4.new_code_cell(c) for c in cells]]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def quick_notebook(folder: Path, pause: float = 0.0) -> Path:
    return make_notebook(folder / "01_quick.ipynb", f"pause: float = {pause}\nout_dir: str = \"\"",
                         ["import time\ntime.sleep(pause)", "from poolkit.reporting import record\nrecord({'x': 1}, out_dir)"])


def poolkit(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
            **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run([str(POOLKIT), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, **kwargs)  # type: ignore[call-overload]


def start(*args: str, cwd: Path, env: dict[str, str] | None = None, output: Path | None = None) -> subprocess.Popen:
    """Start ``poolkit ARGS`` in its own session (so the test can kill what it started)."""
    out = open(output, "w") if output else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen([str(POOLKIT), *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
                            if output else subprocess.DEVNULL, start_new_session=True, text=True)


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def kill_session(proc: subprocess.Popen, also: set[int] | frozenset[int] = frozenset()) -> None:
    """Kill ``proc``'s process group and the processes ``also`` (e.g. its descendants in groups of their own)."""
    for pid in also:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder`` (and '<dir>' for folders)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        out[rel] = "<dir>" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def parents() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            table[int(entry.name)] = int(text.rsplit(")", 1)[1].split()[1])
    return table


def descendants(pid: int) -> set[int]:
    table, found, frontier = parents(), set(), {pid}
    while frontier:
        children = {child for child, parent in table.items() if parent in frontier} - found
        found |= children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- only poolkit's own folders


@pytest.mark.notebook
def test_report_refuses_a_folder_or_file_that_is_not_a_poolkit_report(tmp_path):
    nb = quick_notebook(tmp_path / "nbs")
    reports = tmp_path / "R"
    (reports / "keepme").mkdir(parents=True)
    (reports / "keepme" / "thesis.tex").write_text("years of work\n")
    (reports / "keepfile").write_text("not a folder\n")
    before = tree_digest(reports)
    for name in ("keepme", "keepfile"):
        run = poolkit("report", "--name", name, "--notebooks", str(nb), "--reports-dir", str(reports), "--quiet",
                      cwd=tmp_path)
        assert run.returncode == 2, run.stderr
        assert str(reports / name) in run.stderr and "--name" in run.stderr
        assert "not a poolkit report" in run.stderr and "Traceback" not in run.stderr
    assert tree_digest(reports) == before  # nothing moved, nothing deleted, nothing added
    # a folder that poolkit wrote is replaced as before
    assert poolkit("report", "--name", "ours", "--notebooks", str(nb), "--reports-dir", str(reports), "--quiet",
                   cwd=tmp_path).returncode == 0
    first = manifest(reports / "ours")["started"]
    time.sleep(1.1)
    assert poolkit("report", "--name", "ours", "--notebooks", str(nb), "--reports-dir", str(reports), "--quiet",
                   cwd=tmp_path).returncode == 0
    assert manifest(reports / "ours")["started"] > first
    assert sorted(p.name for p in reports.iterdir()) == ["keepfile", "keepme", "ours"]


def test_a_file_in_the_way_of_the_lock_file_is_never_overwritten(tmp_path):
    nb = quick_notebook(tmp_path / "nbs")
    reports = tmp_path / "R"
    reports.mkdir()
    (reports / ".keep.lock").write_text("my notes\n")
    run = poolkit("report", "--name", "keep", "--notebooks", str(nb), "--reports-dir", str(reports), "--quiet",
                  cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "not a poolkit lock file" in run.stderr and str(reports / ".keep.lock") in run.stderr
    assert (reports / ".keep.lock").read_text() == "my notes\n"
    assert sorted(p.name for p in reports.iterdir()) == [".keep.lock"]


@pytest.mark.notebook
def test_reports_dir_dot_named_like_a_project_folder_leaves_it_intact(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    before = tree_digest(project)
    report = poolkit("report", "--reports-dir", ".", "--name", "notebooks", "--notebooks", "01", "--quiet",
                     cwd=project)
    assert report.returncode == 2, report.stderr
    assert str(project / "notebooks") in report.stderr
    grid = project / "grid.yaml"
    grid.write_text("name: notebooks\nnotebooks: [notebooks/01_data_loading.ipynb]\ngrid: [{start: '2020-01-02'}]\n")
    before["grid.yaml"] = hashlib.sha256(grid.read_bytes()).hexdigest()
    batch = poolkit("batch", "grid.yaml", "--reports-dir", ".", "--workers", "1", "--quiet", cwd=project)
    assert batch.returncode == 2, batch.stderr
    assert "not a poolkit batch" in batch.stderr
    assert tree_digest(project) == before


@pytest.mark.notebook
def test_batch_refuses_a_foreign_batch_folder_and_foreign_run_folders(tmp_path):
    quick_notebook(tmp_path)
    (tmp_path / "grid.yaml").write_text("name: pack\nnotebooks: [01_quick.ipynb]\ngrid:\n"
                                        "  - {pause: 0.0, run_id: first}\n  - {pause: 0.1, run_id: second}\n")
    reports = tmp_path / "R"
    (reports / "pack").mkdir(parents=True)
    (reports / "pack" / "notes.txt").write_text("mine\n")
    before = tree_digest(reports)
    run = poolkit("batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "1", "--quiet", cwd=tmp_path)
    assert run.returncode == 2 and str(reports / "pack") in run.stderr, run.stderr
    assert tree_digest(reports) == before
    # a real batch folder whose run folders are not reports: every one is named, nothing runs
    shutil.rmtree(reports)
    assert poolkit("batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "1", "--quiet",
                   cwd=tmp_path).returncode == 0
    for run_id in ("first", "second"):
        shutil.rmtree(reports / "pack" / run_id)
        (reports / "pack" / run_id).mkdir()
        (reports / "pack" / run_id / "data.csv").write_text("x\n1\n")
    before = tree_digest(reports)
    run = poolkit("batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "1", "--quiet", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert str(reports / "pack" / "first") in run.stderr and str(reports / "pack" / "second") in run.stderr
    assert tree_digest(reports) == before


# --------------------------------------------------------------------------- resume knows when inputs changed


SUM_PARAMS = 'source: str = "data.csv"  # a CSV with a column x\nscale: float = 1.0\nout_dir: str = ""'
SUM_CELLS = [
    "import csv\nwith open(source) as f:\n    total = scale * sum(float(r['x']) for r in csv.DictReader(f))",
    "from poolkit.reporting import record\nrecord({'total': total}, out_dir)",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_nightly_resume_recomputes_when_data_or_notebook_change_and_skips_otherwise(tmp_path):
    nb = make_notebook(tmp_path / "01_sum.ipynb", SUM_PARAMS, SUM_CELLS)
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n2\n")
    (tmp_path / "grid.yaml").write_text(
        f"name: nightly\nnotebooks: [01_sum.ipynb]\nparameters: {{source: {json.dumps(str(data))}}}\n"
        "grid:\n  - product: {scale: [1.0, 2.0]}\n")
    reports = tmp_path / "R"
    nightly = reports / "nightly"
    args = ["batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "1", "--quiet", "--resume"]

    def totals() -> dict[float, float]:
        out = {}
        for folder in nightly.iterdir():
            if folder.is_dir() and (folder / "01_sum" / "summary.json").is_file():
                scale = manifest(folder)["parameters"]["scale"]
                out[scale] = json.loads((folder / "01_sum" / "summary.json").read_text())["total"]
        return out

    def night() -> str:
        log = nightly / "batch.log"
        size = log.stat().st_size if log.exists() else 0
        run = poolkit(*args, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        return log.read_text()[size:]

    night()  # night 1: everything runs
    assert totals() == {1.0: 3.0, 2.0: 6.0}
    folders = [p for p in nightly.iterdir() if p.is_dir() and not p.name.startswith(".")]
    stamps = {p: (p / "manifest.json").stat().st_mtime_ns for p in folders}

    quiet_night = night()  # night 2: nothing changed -> skipped
    assert {p: (p / "manifest.json").stat().st_mtime_ns for p in folders} == stamps

    data.write_text("x\n1\n2\n10\n")  # night 3: the data file changed -> recomputed
    log = night()
    assert totals() == {1.0: 13.0, 2.0: 26.0}
    # the log says why each run was skipped or redone
    assert len(re.findall(r"skip \S+: complete and unchanged", quiet_night)) == 2, quiet_night
    assert len(re.findall(rf"redo \S+: data file {re.escape(str(data))} changed", log)) == 2, log
    recorded = manifest(folders[0])["inputs"]  # the manifest records what the key is made of
    assert recorded["data"][str(data)] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert recorded["notebooks"][str(nb)] == hashlib.sha256(nb.read_bytes()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", recorded["key"])

    nb_json = json.loads(nb.read_text())  # night 4: the notebook changed -> recomputed
    nb_json["cells"][1]["source"] = SUM_CELLS[0].replace("scale * sum", "scale * 10 * sum")
    nb.write_text(json.dumps(nb_json))
    log = night()
    assert totals() == {1.0: 130.0, 2.0: 260.0}
    assert len(re.findall(r"redo \S+: notebook \S*01_sum.ipynb changed", log)) == 2, log


# --------------------------------------------------------------------------- one run per name at a time


@pytest.mark.notebook
def test_two_concurrent_reports_with_one_name_one_refused_none_hidden(tmp_path):
    nb = quick_notebook(tmp_path / "nbs", pause=4.0)
    reports = tmp_path / "R"
    args = ("report", "--name", "same", "--notebooks", str(nb), "--reports-dir", str(reports), "--quiet")
    first = start(*args, cwd=tmp_path, output=tmp_path / "first.log")
    try:
        wait_for(lambda: reports.is_dir() and any(".tmp-" in p.name for p in reports.iterdir()), 120,
                 "the first run to start writing")
        second = poolkit(*args, cwd=tmp_path)
        assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()
    finally:
        kill_session(first)
    assert second.returncode == 2, second.stderr
    assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    assert str(reports / "same") in second.stderr
    assert sorted(p.name for p in reports.iterdir()) == ["same"]  # no hidden finished run, no lock left
    assert manifest(reports / "same")["status"] == "ok"


@pytest.mark.slow
@pytest.mark.notebook
def test_two_concurrent_batches_with_one_name_one_refused(tmp_path):
    # the run lasts long enough for the second command to start (and load dask) on a busy machine
    quick_notebook(tmp_path, pause=10.0)
    (tmp_path / "grid.yaml").write_text("name: pack\nnotebooks: [01_quick.ipynb]\ngrid: [{pause: 10.0, run_id: r1}]\n")
    reports = tmp_path / "R"
    args = ("batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "1", "--quiet")
    first = start(*args, cwd=tmp_path, output=tmp_path / "first.log")
    try:
        wait_for(lambda: (reports / "pack").is_dir() and any(".tmp-" in p.name for p in (reports / "pack").iterdir()),
                 120, "the first batch to start a run")
        second = poolkit(*args, cwd=tmp_path)
        assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()
    finally:
        kill_session(first)
    assert second.returncode == 2, second.stderr
    assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    assert manifest(reports / "pack" / "r1")["status"] == "ok"
    assert sorted(p.name for p in (reports / "pack").iterdir()) == ["batch.json", "batch.log", "index.html", "r1"]


# --------------------------------------------------------------------------- names and run ids


def test_bad_report_names_exit_2_with_every_problem_listed(tmp_path):
    nb = quick_notebook(tmp_path / "nbs")
    reports = tmp_path / "R"
    cases = {
        "x" * 300: ["300 characters", "at most 100"],
        "bad\n": ["newline"],
        "../up/" + "y" * 120: ["'/'", "'..'", "at most 100"],  # every problem of one name, together
        "index.html": ["reserved"],
        "-flag": ["start with a letter or digit"],
    }
    for name, fragments in cases.items():
        run = poolkit("report", f"--name={name}", "--notebooks", str(nb), "--reports-dir", str(reports), "--quiet",
                      cwd=tmp_path)
        assert run.returncode == 2, (name, run.stderr)
        assert "Traceback" not in run.stderr and "OSError" not in run.stderr
        assert all(f in run.stderr for f in fragments), (name, run.stderr)
        assert "--name" in run.stderr
    assert not reports.exists() or list(reports.iterdir()) == []


def test_batch_ids_that_collide_with_its_own_files_are_refused_before_anything_runs(tmp_path):
    quick_notebook(tmp_path)
    (tmp_path / "grid.yaml").write_text(
        "name: pack\nnotebooks: [01_quick.ipynb]\ngrid:\n"
        "  - {pause: 0.1, run_id: index.html}\n"
        "  - {pause: 0.2, run_id: batch.json}\n"
        "  - {pause: 0.3, run_id: BATCH.LOG}\n"
        f"  - {{pause: 0.4, run_id: {'z' * 300}}}\n"
        '  - {pause: 0.5, run_id: "ok\\n"}\n'
        '  - {pause: 0.6, run_id: "a\\0b"}\n'
        "  - {pause: 0.7, run_id: fine}\n")
    reports = tmp_path / "R"
    run = poolkit("batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "1", "--quiet", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "invalid configuration (6 problem(s))" in run.stderr, run.stderr
    for fragment in ("'index.html'", "'batch.json'", "'BATCH.LOG'", "300 characters", "newline", "NUL"):
        assert fragment in run.stderr, (fragment, run.stderr)
    assert "Traceback" not in run.stderr
    assert not reports.exists()


# --------------------------------------------------------------------------- processes and leftovers


@pytest.mark.slow
def test_app_dies_with_its_parent_and_keeps_the_token_off_every_command_line(tmp_path):
    pytest.importorskip("voila")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("POOLKIT_APP_TOKEN", "JUPYTER_TOKEN")}
    app = start("app", "--port", str(port), cwd=tmp_path, env=env, output=tmp_path / "app.log")
    spawned: set[int] = set()
    try:
        text = wait_for(lambda: re.search(r"open (http://127\.0\.0\.1:\d+/\?token=(\w+))", (tmp_path / "app.log").read_text()),
                        60, "the app's URL")
        url, token = text.group(1), text.group(2)
        wait_for(lambda: port_open(port), 120, "Voilà to listen")
        with urllib.request.urlopen(url, timeout=300) as page:  # renders the explorers: starts a kernel
            assert page.status == 200 and b"Diversification" in page.read()
        spawned = descendants(app.pid)
        assert spawned, "poolkit app started no process"
        for entry in Path("/proc").iterdir():  # the token is on no command line of the machine
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                assert token.encode() not in cmdline, cmdline.replace(b"\0", b" ")[:300]
        os.kill(app.pid, signal.SIGKILL)  # kill -9 the parent only
        app.wait(timeout=10)
        wait_for(lambda: not any(alive(p) for p in spawned) and not port_open(port), 20,
                 "Voilà and its kernels to stop after kill -9 of poolkit app")
    finally:
        kill_session(app, spawned)


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("command", ["report", "batch"])
def test_kill_9_of_the_command_leaves_no_process_of_its_tree(tmp_path, command):
    # the notebook's long cell holds the GIL (one C call): no thread of the kernel can watch its parent
    make_notebook(tmp_path / "01_quick.ipynb", "pause: float = 0.0\nout_dir: str = \"\"",
                  ["total = sum(range(10**12))", "from poolkit.reporting import record\nrecord({'x': 1}, out_dir)"])
    reports = tmp_path / "R"
    if command == "report":
        args = ("report", "--name", "k", "--notebooks", "01_quick.ipynb", "--reports-dir", str(reports), "--quiet")
        least = 2  # the kernels' fork server and the notebook's kernel
    else:
        (tmp_path / "grid.yaml").write_text(
            "name: k\nnotebooks: [01_quick.ipynb]\ngrid: [{pause: 120.0, run_id: r1}, {pause: 121.0, run_id: r2}]\n")
        args = ("batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "2", "--quiet")
        least = 3  # the kernels' fork server and the two reports' kernels
    cli = start(*args, cwd=tmp_path, output=tmp_path / "run.log")
    spawned: set[int] = set()
    try:
        folder = reports / "k" if command == "batch" else reports
        wait_for(lambda: folder.is_dir() and any(".tmp-" in p.name for p in folder.iterdir()), 180,
                 "the run to start writing")
        time.sleep(4.0)  # the notebooks are in their long cell
        spawned = descendants(cli.pid)
        assert len(spawned) >= least, (spawned, (tmp_path / "run.log").read_text())
        os.kill(cli.pid, signal.SIGKILL)  # kill -9 of the command alone, not of its process group
        cli.wait(timeout=10)
        wait_for(lambda: not any(alive(p) for p in spawned), 5, f"the processes {sorted(spawned)} started by "
                 f"`poolkit {command}` to exit after its kill -9")
    finally:
        kill_session(cli, spawned)


def _hold_shared(path: Path) -> subprocess.Popen:
    """A process that holds a shared flock on ``path``, as a kernel of a killed run does until it exits."""
    code = ("import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDONLY)\nfcntl.flock(fd, fcntl.LOCK_SH)\n"
            "print('held', flush=True)\ntime.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_run_waits_for_the_processes_of_a_killed_run_then_refuses_naming_them(tmp_path, monkeypatch):
    from poolkit import _locks, _runs
    from poolkit.exceptions import ConfigurationError

    monkeypatch.delenv(_runs.PROCESS_LOCK_ENV, raising=False)
    folder = tmp_path / "R" / "nightly"
    folder.parent.mkdir()
    procs = tmp_path / "R" / ".nightly.procs.lock"
    procs.touch()
    holder = _hold_shared(procs)  # the killed run's command is gone, one of its processes is not
    try:
        monkeypatch.setattr(_locks, "_PROCESS_WAIT_S", 1.0)
        began = time.monotonic()
        with pytest.raises(ConfigurationError, match=rf"still running .*pids \[{holder.pid}\].*kill {holder.pid}"):
            with _runs.folder_lock(folder, how="choose another name"):
                pytest.fail("the run went on while a process of the earlier run held its process lock")
        assert time.monotonic() - began >= 1.0  # it waited first
        assert not (tmp_path / "R" / ".nightly.lock").exists()  # refused: its own lock is let go
        monkeypatch.setattr(_locks, "_PROCESS_WAIT_S", 30.0)
        threading.Timer(1.0, holder.kill).start()  # the process exits while the run waits: the run goes on
        with _runs.folder_lock(folder, how="choose another name"):
            assert holder.poll() is not None
            assert os.environ[_runs.PROCESS_LOCK_ENV] == str(procs)
        assert _runs.PROCESS_LOCK_ENV not in os.environ
        assert sorted(p.name for p in (tmp_path / "R").iterdir()) == []  # both lock files removed
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.notebook
def test_a_run_of_its_own_keeps_no_kernel_that_would_hold_its_lock(tmp_path, monkeypatch):
    # keep_warm is for a batch's workers: a run of its own must not leave kernels holding its process
    # lock, or its end would wait for them and a rerun of the name would wait, then be refused
    from poolkit import _locks, _runs
    from poolkit.reporting import run_suite

    monkeypatch.delenv(_runs.PROCESS_LOCK_ENV, raising=False)
    monkeypatch.setattr(_locks, "_PROCESS_WAIT_S", 1.0)
    nb = quick_notebook(tmp_path / "nb")
    for _ in range(2):  # the second run of the name goes ahead at once
        run_suite(name="own", notebooks=[nb], reports_dir=tmp_path / "R", progress=False, keep_warm=1)
        assert not (tmp_path / "R" / ".own.procs.lock").exists()  # no process holds it any more
        assert (tmp_path / "R" / "own" / "manifest.json").is_file()


def test_a_zombie_process_is_not_alive():
    from poolkit._runs import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 30,
             "the child to exit")
    try:
        assert not pid_alive(child.pid)  # exited, not reaped yet: it writes nothing any more
        assert pid_alive(os.getpid())
    finally:
        child.wait()


@pytest.fixture
def short_tmpdir() -> Iterator[Path]:
    """A private, short TMPDIR (kernel sockets live in it: Unix socket paths are limited to 107 bytes)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="pk-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.notebook
def test_kernel_folders_of_a_killed_run_are_swept_by_the_next_run(tmp_path, short_tmpdir):
    env = {**os.environ, "TMPDIR": str(short_tmpdir)}
    slow = quick_notebook(tmp_path / "slow", pause=60.0)
    quick = quick_notebook(tmp_path / "quick")
    reports = tmp_path / "R"
    killed = start("report", "--name", "killed", "--notebooks", str(slow), "--reports-dir", str(reports),
                   cwd=tmp_path, env=env, output=tmp_path / "killed.log")
    try:
        wait_for(lambda: list(short_tmpdir.glob("poolkit-kernels-*")) and reports.is_dir()
                 and any(".tmp-" in p.name for p in reports.iterdir()), 120, "the run's kernel to start")
        time.sleep(3.0)  # the notebook is running its long cell
        assert killed.poll() is None, (tmp_path / "killed.log").read_text()
    finally:
        kill_session(killed)  # kill -9
    assert list(short_tmpdir.glob("poolkit-kernels-*")), "the killed run left no kernel folder to sweep"
    run = poolkit("report", "--name", "next", "--notebooks", str(quick), "--reports-dir", str(reports), "--quiet",
                  cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert list(short_tmpdir.glob("poolkit-kernels-*")) == []


def test_the_test_suite_removes_its_temporary_home(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         f"{ROOT / 'tests' / 'test_cli.py'}::test_version_and_help"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert list(tmp_path.glob("poolkit-tests-home-*")) == []


@pytest.mark.slow
@pytest.mark.notebook
def test_batch_files_follow_the_umask_like_every_report_file(tmp_path):
    quick_notebook(tmp_path)
    (tmp_path / "grid.yaml").write_text("name: pack\nnotebooks: [01_quick.ipynb]\ngrid: [{pause: 0.0, run_id: r1}]\n")
    reports = tmp_path / "R"
    run = poolkit("batch", "grid.yaml", "--reports-dir", str(reports), "--workers", "1", "--quiet", cwd=tmp_path,
                  preexec_fn=lambda: os.umask(0o027))
    assert run.returncode == 0, run.stderr
    pack = reports / "pack"
    files = [pack / "index.html", pack / "batch.json", pack / "batch.log", pack / "r1" / "manifest.json",
             pack / "r1" / "index.html", pack / "r1" / "01_quick.ipynb", pack / "r1" / "01_quick" / "summary.json"]
    modes = {p.relative_to(reports).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o640)}, modes
    folders = [pack, pack / "r1", pack / "r1" / "01_quick"]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {oct(0o750)}


@pytest.mark.notebook
def test_unreachable_scheduler_exits_2_and_writes_no_index(tmp_path):
    quick_notebook(tmp_path)
    (tmp_path / "grid.yaml").write_text("name: pack\nnotebooks: [01_quick.ipynb]\ngrid: [{pause: 0.0, run_id: r1}]\n")
    reports = tmp_path / "R"
    run = poolkit("batch", "grid.yaml", "--reports-dir", str(reports), "--scheduler", f"tcp://127.0.0.1:{free_port()}",
                  "--quiet", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "could not start or reach the Dask scheduler" in run.stderr
    assert not (reports / "pack" / "index.html").exists()
    assert not (reports / "pack").exists()


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    """Every process a test here starts is gone when it ends (the tests kill what they start)."""
    before = descendants(os.getpid())
    yield
    left = [p for p in descendants(os.getpid()) - before if alive(p)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
