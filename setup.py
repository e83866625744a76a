"""Build step: ship the repository's ``notebooks/`` inside the wheel, as ``poolkit/notebooks/``.

The notebooks are kept once, at the top level of the repository. Building a
wheel (or installing without ``-e``) copies every ``notebooks/NN_*.ipynb`` into
the built package, so ``poolkit report`` and ``poolkit app`` find them after a
plain ``pip install``. An editable install copies nothing: it keeps using the
repository's ``notebooks/``. Everything else is configured in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


class BuildPyWithNotebooks(build_py):
    """``build_py`` that also copies the report notebooks into ``<build>/poolkit/notebooks/``."""

    def _notebook_targets(self) -> list[tuple[Path, Path]]:
        target = Path(self.build_lib) / "poolkit" / "notebooks"
        return [(nb, target / nb.name) for nb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]

    def run(self) -> None:
        """Build the package, then copy the notebooks into it (not for an editable install)."""
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the repository's notebooks/
            return
        pairs = self._notebook_targets()
        if not pairs:
            raise SystemExit(f"no notebook NN_*.ipynb in {NOTEBOOKS}; the wheel would ship none")
        for source, target in pairs:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """List the built files, the copied notebooks included."""
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return [*outputs, *(str(target) for _, target in self._notebook_targets())]


setup(cmdclass={"build_py": BuildPyWithNotebooks})
