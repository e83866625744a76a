"""Where the report notebooks live, and editable copies of them for users (private).

The notebooks are kept once, in the repository's top-level ``notebooks/``
folder. A wheel ships them as package data, ``poolkit/notebooks/`` (the build
step in ``setup.py`` copies them there), so ``poolkit report`` and ``poolkit
app`` work after a plain ``pip install``, from any folder. An editable checkout
keeps using the repository's ``notebooks/``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from poolkit._runs import _umask
from poolkit.exceptions import ConfigurationError

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
"""The report notebooks: ``NN_name.ipynb``."""


def notebooks_dir() -> Path:
    """Return the folder of the notebooks shipped with poolkit.

    In a checkout (the package folder sits beside ``pyproject.toml`` and a
    ``notebooks/`` folder of numbered notebooks) that is the repository's
    ``notebooks/``; in an installed wheel, the package data
    ``poolkit/notebooks/``.

    Returns
    -------
    Path
        The folder; it holds ``NN_*.ipynb`` files unless the installation is
        broken.

    Examples
    --------
    >>> sorted(p.name for p in notebooks_dir().glob(NOTEBOOK_GLOB))[0]
    '01_data_loading.ipynb'
    """
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent / "notebooks"
    if (package.parent / "pyproject.toml").is_file() and any(checkout.glob(NOTEBOOK_GLOB)):
        return checkout
    return package / "notebooks"


def _check_folder(folder: Path, *, what: str) -> list[Path]:
    if not folder.is_dir():
        raise ConfigurationError(
            f"{what} {folder} is not a folder; pass a folder of NN_name.ipynb notebooks "
            "(`poolkit notebooks copy DIR` makes one you can edit)."
        )
    found = sorted(folder.glob(NOTEBOOK_GLOB))
    if not found:
        raise ConfigurationError(
            f"{what} {folder} holds no notebook named NN_name.ipynb; `poolkit notebooks copy {folder}` "
            "puts poolkit's notebooks there to edit."
        )
    return found


def list_notebooks(folder: str | Path | None = None) -> list[Path]:
    """Return the report notebooks ``NN_*.ipynb`` of ``folder`` (default: the shipped ones), sorted.

    Raises
    ------
    ConfigurationError
        If ``folder`` is not a folder or holds no ``NN_*.ipynb``.
    """
    if folder is None:
        return _check_folder(notebooks_dir(), what="poolkit's notebooks folder")
    return _check_folder(Path(folder), what="notebooks folder")


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it into place (a link at ``path`` is replaced, not followed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_notebooks(destination: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy poolkit's notebooks into ``destination`` for a user to edit and run.

    Only the notebook files ``destination/NN_*.ipynb`` are written; nothing
    else in ``destination`` is touched. When one of them already exists the
    copy is refused before anything is written, unless ``overwrite`` is true,
    which replaces those notebook files (a link is replaced by a file, never
    followed). The copies follow the umask, so they are editable. Run them with
    ``poolkit report --notebooks-dir DIR``.

    Parameters
    ----------
    destination : str or Path
        Folder to copy into; created (with its parents) when missing.
    overwrite : bool, default False
        Replace notebooks of the same names already in ``destination``.

    Returns
    -------
    list of Path
        The notebooks written.

    Raises
    ------
    ConfigurationError
        If ``destination`` is a file, or holds notebooks of the same names and
        ``overwrite`` is false (every one is named; nothing is written), or one
        of those names is a folder.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     first = copy_notebooks(tmp)
    ...     again = copy_notebooks(tmp)
    Traceback (most recent call last):
    ...
    poolkit.exceptions.ConfigurationError: ... already holds 01_data_loading.ipynb, ...
    """
    sources = list_notebooks()
    target = Path(destination)
    if os.path.lexists(target) and not target.is_dir():
        raise ConfigurationError(f"{target} exists and is not a folder; choose a folder to copy the notebooks into.")
    existing = [src.name for src in sources if os.path.lexists(target / src.name)]
    folders = [name for name in existing if (target / name).is_dir() and not (target / name).is_symlink()]
    if folders:
        raise ConfigurationError(f"{target} holds folders named like notebooks ({', '.join(folders)}); move them away.")
    if existing and not overwrite:
        raise ConfigurationError(
            f"{target} already holds {', '.join(existing)}; nothing was copied. Keep your edits by copying into "
            "another folder, or replace those notebooks with --overwrite (overwrite=True)."
        )
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources:
        _write_bytes_atomic(target / src.name, src.read_bytes())
        written.append(target / src.name)
    return written
