"""What a report or batch run is made of, and how it writes to disk (private).

Shared by :mod:`poolkit.reporting` and :mod:`poolkit.batch`, so that both
commands follow the same rules:

- **Names.** :func:`check_name` is the one validator of report names, batch
  names and run ids: 1-100 characters among letters, digits, ``.``, ``_`` and
  ``-``, starting with a letter or digit, no ``..``, not a file name poolkit
  writes itself (``index.html``, ``batch.json``, ...). Every problem of a name is
  listed together.
- **Ownership.** A folder is poolkit's own when it holds a poolkit
  ``manifest.json`` (a report) or ``batch.json`` (a batch); anything else of that
  name, folder, file or link, is refused before anything runs
  (:func:`foreign_problem`).
- **One writer per name, no writer outliving its run unseen:** the locks of
  :mod:`poolkit._locks` (:func:`folder_lock`, re-exported here), which also
  tells a running process from one that is gone (:func:`pid_alive`).
- **Inputs.** :func:`plan_run` checks the parameters and finds the data files
  they name; :meth:`RunPlan.inputs` digests what produced a run (parameters,
  notebooks, data files, poolkit's version, git revision and source) into one
  key, which ``--resume`` compares (:func:`input_changes` says what changed).
- **Files** written by :func:`write_text_atomic` follow the umask, like every
  other file of a report.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poolkit._locks import (
    PROCESS_LOCK_ENV,
    folder_lock,
    hold_process_lock,
    pid_alive,
    remove_stale_lock,
)
from poolkit._parameters import (
    RESERVED_PARAMETERS,
    ParameterProblem,
    conform_parameters,
    declared_parameters,
    parameter_spec,
)
from poolkit.exceptions import ConfigurationError

__all__ = [
    "BATCH_KIND",
    "MAX_NAME_LENGTH",
    "PROCESS_LOCK_ENV",
    "REPORT_KIND",
    "RESERVED_NAMES",
    "RunPlan",
    "check_name",
    "code_identity",
    "failing_cell",
    "folder_kind",
    "folder_lock",
    "foreign_problem",
    "git_revision",
    "hold_process_lock",
    "input_changes",
    "name_problems",
    "package_versions",
    "pid_alive",
    "plan_run",
    "read_json",
    "remove_stale_lock",
    "sha256",
    "unique_path",
    "write_text_atomic",
]

_PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "papermill",
    "nbconvert",
    "nbclient",
    "nbformat",
    "ipykernel",
    "jupyter_client",
    "ipywidgets",
    "pyyaml",
    "latex2mathml",
    "dask",
    "distributed",
)


def failing_cell(output: Path) -> dict[str, Any]:
    """Locate the failing cell in an executed notebook (index as in the source notebook)."""
    try:
        nb = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    index = -1
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if "papermill-error-cell-tag" in tags:
            continue
        if "injected-parameters" in tags:
            continue
        index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                source = "".join(cell.get("source", ""))
                return {
                    "cell_index": index,
                    "execution_count": cell.get("execution_count"),
                    "ename": out.get("ename", ""),
                    "evalue": out.get("evalue", ""),
                    "source": source,
                }
    return {}


def sha256(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file (what ``sha256sum`` prints), read in 1 MiB blocks."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_revision(folder: str | Path) -> dict[str, Any] | None:
    """Return the git revision of the work tree holding ``folder`` and whether it has local changes.

    Parameters
    ----------
    folder : str or Path
        A folder inside the work tree.

    Returns
    -------
    dict or None
        ``{"revision": <40 hex digits>, "dirty": bool}`` (``dirty`` when tracked
        files differ from the revision); None when ``folder`` is not in a git
        work tree or git is missing.
    """
    folder = str(Path(folder).resolve())
    try:
        rev = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        # --no-optional-locks: reading the status never takes the index lock, so a report run (or its
        # timeout) can never leave .git/index.lock behind or block the user's own git commands
        status = subprocess.run(["git", "--no-optional-locks", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"revision": rev, "dirty": bool(status.strip())}


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Return the installed versions of the packages a report depends on (read once per process).

    Returns
    -------
    dict of str to str
        Distribution name -> version, for those installed among pandas, numpy,
        scipy, matplotlib, papermill, nbconvert, nbclient, nbformat, ipykernel,
        jupyter_client, ipywidgets, pyyaml, latex2mathml, dask and distributed.
    """
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    return packages


def read_json(path: Path) -> Any:
    """Return the JSON in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- files


def _umask() -> int:
    """Return the process's umask, read without changing it where Linux allows."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place.

    The file gets the permissions of any other new file (``0o666`` less the
    umask), not the ``0o600`` of a temporary file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unique_path(path: Path) -> Path:
    """Return ``path``, or ``path-2``, ``path-3``... the first that does not exist."""
    candidate, n = path, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


# --------------------------------------------------------------------------- names

MAX_NAME_LENGTH = 100
"""Longest report name, batch name or run id, in characters."""

RESERVED_NAMES = frozenset({"index.html", "batch.json", "batch.log", "manifest.json", "summary.json"})
"""Files poolkit writes beside or inside report folders; no report, batch or run may take their names."""

_NAME_CHAR = re.compile(r"[A-Za-z0-9._-]")
_SPECIAL = {"\0": "NUL", "\n": "a newline", "\r": "a carriage return", "/": "'/'", "\\": "'\\'"}


def name_problems(text: str) -> list[str]:
    r"""List every reason why ``text`` is not a safe folder name (empty when it is one).

    >>> name_problems("nightly-risk")
    []
    >>> name_problems("../x\n")
    ['contains a newline', "contains '/' (a path part)", "contains '..'", 'must start with a letter or digit']
    """
    if not text:
        return ["is empty"]
    problems = []
    if len(text) > MAX_NAME_LENGTH:
        problems.append(f"is {len(text)} characters long (at most {MAX_NAME_LENGTH})")
    found = [label for char, label in _SPECIAL.items() if char in text]
    problems += [f"contains {label}" + (" (a path part)" if label in ("'/'", "'\\'") else "") for label in found]
    other = sorted({c for c in text if c not in _SPECIAL and not _NAME_CHAR.fullmatch(c)})
    if other:
        shown = ", ".join(repr(c) for c in other[:8]) + (", ..." if len(other) > 8 else "")
        problems.append(f"contains {shown} (only letters, digits, '.', '_' and '-' are allowed)")
    if ".." in text:
        problems.append("contains '..'")
    if not (text[0].isascii() and text[0].isalnum()):
        problems.append("must start with a letter or digit")
    if text.casefold() in RESERVED_NAMES:
        problems.append(f"is reserved (poolkit writes {text.casefold()} itself)")
    if ".failed-" in text or ".unpublished-" in text:
        problems.append("contains '.failed-' or '.unpublished-' (reserved for kept runs)")
    return problems


def check_name(value: object, *, what: str = "name") -> str:
    """Return ``value`` as text if it is a safe single folder name, else raise ConfigurationError.

    A name (report, batch or run id) has 1-100 letters, digits, ``.``, ``_`` or
    ``-``, starts with a letter or digit, holds no ``..`` and is not one of the
    files poolkit writes itself (``index.html``, ``batch.json``,
    ``batch.log``, ``manifest.json``, ``summary.json``, in any case). Every
    problem of the name is listed in the message.

    Parameters
    ----------
    value : object
        The name (text, or an integer as YAML reads ``run_id: 2024``).
    what : str, default "name"
        What the name is, for the message (e.g. ``"report name"``).

    Returns
    -------
    str
        The name.

    Raises
    ------
    ConfigurationError
        If the name is not safe; the message names every problem.

    Examples
    --------
    >>> check_name("nightly-risk")
    'nightly-risk'
    >>> check_name("index.html", what="run id")
    Traceback (most recent call last):
    ...
    poolkit.exceptions.ConfigurationError: run id 'index.html' is not a safe folder name: it is reserved ...
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems = [f"is a {type(value).__name__}, not text"]
        text = None
    else:
        text = str(value)
        problems = name_problems(text)
    if problems:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:50] + "...'"
        raise ConfigurationError(
            f"{what} {shown} is not a safe folder name: it {'; it '.join(problems)}. A name must be a plain "
            f"folder name of 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or "
            "digit, without '..' (e.g. 'nightly-risk')."
        )
    assert text is not None
    return text


# --------------------------------------------------------------------------- ownership

REPORT_KIND = "poolkit-report"
"""Value of ``kind`` in a report's ``manifest.json``."""
BATCH_KIND = "poolkit-batch"
"""Value of ``kind`` in a batch's ``batch.json``."""


def folder_kind(path: Path) -> str | None:
    """Return ``"report"`` or ``"batch"`` for a folder poolkit wrote, None for anything else.

    A report folder holds a ``manifest.json`` with ``"kind": "poolkit-report"``
    (or, written before the field existed, ``poolkit_version``, ``status`` and a
    list of ``notebooks``); a batch folder holds a ``batch.json`` with
    ``"kind": "poolkit-batch"`` (or ``grid_file``, ``versions`` and a list of
    ``runs``). Links are never poolkit's.
    """
    if path.is_symlink() or not path.is_dir():
        return None
    report = read_json(path / "manifest.json")
    if isinstance(report, dict) and (
        report.get("kind") == REPORT_KIND
        or ({"poolkit_version", "status"} <= report.keys() and isinstance(report.get("notebooks"), list))
    ):
        return "report"
    batch = read_json(path / "batch.json")
    if isinstance(batch, dict) and (
        batch.get("kind") == BATCH_KIND
        or ({"grid_file", "versions"} <= batch.keys() and isinstance(batch.get("runs"), list))
    ):
        return "batch"
    return None


def foreign_problem(path: Path, *, kind: str, how: str) -> str | None:
    """Say why ``path`` may not be written by a poolkit ``kind`` run; None when it is free or poolkit's own.

    ``how`` tells the user how to choose another name, e.g. ``"choose another
    --name"``.
    """
    if not os.path.lexists(path):
        return None
    found = folder_kind(path)
    if found == kind:
        return None
    manifest = "manifest.json" if kind == "report" else "batch.json"
    if path.is_symlink():
        detail = "it is a symbolic link"
    elif not path.is_dir():
        detail = "it is a file"
    elif found is not None:
        detail = f"it is a poolkit {found} folder"
    else:
        detail = f"it is a folder without poolkit's {manifest}"
    return (
        f"{path.absolute()} exists and is not a poolkit {kind} ({detail}); poolkit replaces or writes into "
        f"only folders it wrote itself, so nothing ran and nothing changed. To keep it, {how} (or another "
        "--reports-dir); to let poolkit use the name, move it away yourself."
    )


# --------------------------------------------------------------------------- one writer per name


# --------------------------------------------------------------------------- what produced a run


def is_data_source(name: str, value: object) -> bool:
    """Tell whether a parameter names a data file: ``source``, ``*_source`` or a sample name."""
    if not isinstance(value, str) or not value:
        return False
    return name == "source" or name.endswith("_source") or _is_sample(value)


def _is_sample(value: str) -> bool:
    return value.strip() == "sample" or value.strip().startswith("sample:")


def _existing_file(text: str, base: Path) -> Path | None:
    """Return the file ``text`` names (absolute, or relative to ``base``), or None."""
    if not text or "\0" in text or "\n" in text or len(text) > 4096:
        return None
    try:
        path = Path(text).expanduser()
        path = path if path.is_absolute() else base / path
        return path.resolve() if path.is_file() else None
    except (OSError, ValueError, RuntimeError):
        return None


def data_entry(source: str, base: Path) -> dict[str, Any]:
    """Describe the data file behind ``source`` (a sample name or a path relative to ``base``)."""
    entry: dict[str, Any] = {"source": source, "path": None, "sha256": None, "bytes": None}
    if _is_sample(source):
        try:
            from poolkit.data import source_path

            path = Path(source_path(source))
        except Exception as exc:  # unknown sample name, data module missing, ...
            entry["error"] = f"{type(exc).__name__}: {exc}"
            return entry
    else:
        found = _existing_file(source, base)
        if found is None:
            entry["error"] = f"file {source} does not exist"
            return entry
        path = found
    entry["path"] = str(path)
    if path.is_file():
        entry["sha256"] = sha256(path)
        entry["bytes"] = path.stat().st_size
    else:
        entry["error"] = f"file {path} does not exist"
    return entry


@functools.lru_cache(maxsize=1)
def _package_dir() -> Path:
    import poolkit

    return Path(poolkit.__file__).resolve().parent


def code_identity() -> dict[str, Any]:
    """Return what identifies the poolkit code that runs: version, git revision, SHA-256 of its source.

    ``source_sha256`` digests every ``.py`` file of the package (path and bytes),
    so a change in a checkout with local edits counts too; ``git`` is None
    outside a git checkout.
    """
    import poolkit

    package = _package_dir()
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return {"version": poolkit.__version__, "git": git_revision(package), "source_sha256": digest.hexdigest()}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)


@dataclass
class RunPlan:
    """The checked parameters of one run over some notebooks, and the data files they name.

    Attributes
    ----------
    notebooks : list of Path
        The notebooks, in order.
    declared : dict of Path to dict
        Each notebook's declared parameters.
    given : dict
        The parameters as given (data paths relative to the current folder made absolute).
    per_notebook : dict of Path to dict
        The checked values each notebook receives (the parameters it declares).
    problems : list of ParameterProblem
        Every problem of the values (empty when the run may start).
    """

    notebooks: list[Path]
    declared: dict[Path, dict[str, dict[str, str]]]
    given: dict[str, Any]
    per_notebook: dict[Path, dict[str, Any]]
    problems: list[ParameterProblem] = field(default_factory=list)

    def effective(self, notebook: Path) -> dict[str, Any]:
        """Every parameter of ``notebook`` as it runs: its defaults updated with the values given."""
        values = {k: parameter_spec(info)[1] for k, info in self.declared[notebook].items()}
        values.update(self.per_notebook[notebook])
        return values

    def data(self) -> list[dict[str, Any]]:
        """Describe each data file the parameters name (see :func:`data_entry`), once each.

        A parameter names a data file when it is called ``source`` or
        ``*_source``, or holds a sample name (``"sample"``, ``"sample:NAME"``),
        or is text (or a list of texts) naming an existing file, absolute or
        relative to the notebook's folder (where its kernel runs).
        """
        found: dict[str, Path] = {}
        for nb in self.notebooks:
            for key, value in self.effective(nb).items():
                if key in RESERVED_PARAMETERS:
                    continue
                texts = [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] \
                    if isinstance(value, list) else []
                for text in texts:
                    if (is_data_source(key, text) or _existing_file(text, nb.parent) is not None) and text not in found:
                        found[text] = nb.parent
        return [data_entry(text, base) for text, base in found.items()]

    def inputs(self, data: Sequence[Mapping[str, Any]] | None = None, *, code: Mapping[str, Any] | None = None,
               digests: dict[str, str] | None = None) -> dict[str, Any]:
        """Return what produced the run and its key: parameters, notebooks, data files, poolkit's code.

        The key is the SHA-256 of the canonical JSON of the rest. ``data``,
        ``code`` and ``digests`` (a cache of notebook digests) may be passed to
        avoid computing them again.
        """
        data = self.data() if data is None else data
        cache = {} if digests is None else digests
        notebooks = {}
        for nb in self.notebooks:
            if str(nb) not in cache:
                cache[str(nb)] = sha256(nb)
            notebooks[str(nb)] = cache[str(nb)]
        inputs: dict[str, Any] = {
            "parameters": {str(nb): json.loads(_canonical(self.per_notebook[nb])) for nb in self.notebooks},
            "notebooks": notebooks,
            "data": {str(d.get("path") or d.get("source")): d.get("sha256") for d in data},
            "poolkit": dict(code_identity() if code is None else code),
        }
        inputs["key"] = hashlib.sha256(_canonical(inputs).encode("ascii")).hexdigest()
        return inputs


def plan_run(notebooks: Sequence[Path], parameters: Mapping[str, Any]) -> RunPlan:
    """Check ``parameters`` against the notebooks' declarations; nothing runs.

    A relative path given to a data parameter (``source``, ``*_source``) that
    exists from the current folder is made absolute, because the kernel runs in
    the notebook's folder.

    Raises
    ------
    ConfigurationError
        If a notebook cannot be read.
    """
    paths = [Path(p) for p in notebooks]
    declared = {p: declared_parameters(p) for p in paths}
    given = {str(k): v for k, v in parameters.items()}
    for key, value in list(given.items()):
        if is_data_source(key, value) and not _is_sample(value):
            found = _existing_file(value, Path.cwd())
            if found is not None:
                given[key] = str(found)
    per_notebook, problems = conform_parameters(declared, given, reserved=RESERVED_PARAMETERS)
    return RunPlan(notebooks=paths, declared=declared, given=given, per_notebook=per_notebook, problems=problems)


def _short(digest: object) -> str:
    return str(digest)[:12] if digest else "none"


def input_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Say, in words, what differs between two :meth:`RunPlan.inputs` (empty when the keys are equal)."""
    if old.get("key") == new.get("key"):
        return []
    changes: list[str] = []
    old_params, new_params = old.get("parameters") or {}, new.get("parameters") or {}
    for nb in sorted(set(old_params) | set(new_params)):
        a, b = old_params.get(nb) or {}, new_params.get(nb) or {}
        names = sorted(k for k in set(a) | set(b) if _canonical(a.get(k)) != _canonical(b.get(k)))
        if names:
            changes.append(f"parameters {names} of {Path(nb).name} changed")
    for what, label in (("notebooks", "notebook"), ("data", "data file")):
        a, b = old.get(what) or {}, new.get(what) or {}
        for name in sorted(set(a) | set(b)):
            if name not in a:
                changes.append(f"{label} {name} is new")
            elif name not in b:
                changes.append(f"{label} {name} is no longer used")
            elif a[name] != b[name]:
                changes.append(f"{label} {name} changed (sha256 {_short(a[name])} -> {_short(b[name])})")
    a, b = old.get("poolkit") or {}, new.get("poolkit") or {}
    if a.get("version") != b.get("version"):
        changes.append(f"poolkit version {a.get('version')} -> {b.get('version')}")
    old_git, new_git = a.get("git") or {}, b.get("git") or {}
    if old_git.get("revision") != new_git.get("revision"):
        changes.append(f"git revision {_short(old_git.get('revision'))} -> {_short(new_git.get('revision'))}")
    if a.get("source_sha256") != b.get("source_sha256"):
        changes.append("poolkit's source code changed")
    return changes or ["inputs key changed"]
