"""What a report or batch run is made of, and how it writes to disk (private).

Shared by :mod:`poolkit.reporting` and :mod:`poolkit.batch`, so that both
commands read executed notebooks, digest files and record their environment
the same way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "failing_cell",
    "git_revision",
    "package_versions",
    "read_json",
    "sha256",
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
        status = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
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


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
