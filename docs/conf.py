"""Sphinx configuration of the poolkit documentation (``make docs``).

The user guide is the notebooks of ``notebooks/``, executed at build time with the
project's kernel on the bundled sample; the API reference is generated from each
public module's ``__all__`` and its numpydoc docstrings. Formulas are rendered as
MathML at build time (no MathJax, nothing fetched from the network), so the pages
display offline like the reports do.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from docutils.nodes import SkipNode
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import poolkit  # noqa: E402

logger = logging.getLogger(__name__)

project = "poolkit"
author = "the poolkit developers"
copyright = "the poolkit developers"  # noqa: A001
version = release = poolkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "**.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"
nitpicky = False

# -- the user guide: the project's notebooks, copied in and executed ----------------
# The notebooks live in notebooks/ (one home); the build copies them into
# docs/notebooks/ (ignored by git), keeping their modification times so that an
# unchanged notebook is not rebuilt by an incremental build.
NOTEBOOKS = ROOT / "notebooks"
GUIDE_NOTEBOOKS = HERE / "notebooks"


def _copy_notebooks() -> list[str]:
    GUIDE_NOTEBOOKS.mkdir(exist_ok=True)
    names = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not names:  # moved elsewhere: point NOTEBOOKS at their new home rather than build an empty guide
        raise RuntimeError(f"no notebooks NN_*.ipynb in {NOTEBOOKS}; set NOTEBOOKS in docs/conf.py")
    for stale in GUIDE_NOTEBOOKS.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    for name in names:
        src, dst = NOTEBOOKS / name, GUIDE_NOTEBOOKS / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copy2(src, dst)
    return names


GUIDE = _copy_notebooks()

nb_execution_mode = "force"  # committed without outputs: always run them
nb_execution_timeout = 600  # seconds per notebook (the slowest takes under a minute on a busy 2-core machine)
nb_execution_raise_on_error = True  # an error in a notebook fails the build
nb_execution_show_tb = True  # and prints its traceback
nb_kernel_rgx_aliases = {".*": "poolkit"}  # the kernel `make install` registers in the venv
nb_merge_streams = True
nb_ipywidgets_js: dict[str, dict[str, str]] = {}  # static pages: no widget JavaScript from a CDN
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3


def _encrypt_kernel_traffic() -> None:
    """Encrypt the traffic between the build and its notebook kernels (CurveZMQ over local TCP).

    The kernels of the build talk to it over TCP on 127.0.0.1, and ipykernel warns
    that such a kernel "is running over TCP without encryption". The kernelspec
    declares CurveZMQ support (``metadata.supported_encryption``), so the manager's
    policy ``transport_encryption = "auto"`` gives each kernel its keys and the
    warning has nothing left to say. myst-nb passes no configuration to the kernel
    managers it creates, hence the policy is set as the class default.
    """
    import zmq
    from jupyter_client.manager import KernelManager

    if zmq.has("curve"):
        KernelManager.class_traits()["transport_encryption"].default_value = "auto"


_encrypt_kernel_traffic()
# A Pygments style plugin of the theme (a11y_pygments) sets the root logger to INFO when it is
# imported, which would print nbclient's "Executing notebook with kernel" line for every notebook;
# nbclient logs through traitlets' logger, kept at warnings.
import logging as _stdlib_logging  # noqa: E402 - sphinx.util.logging is `logging` here

_stdlib_logging.getLogger("traitlets").setLevel(_stdlib_logging.WARNING)

# -- the API reference: autosummary over each module's __all__, numpydoc --------------
autosummary_generate = True
autosummary_ignore_module_all = False  # a module's public names are its __all__
autodoc_typehints = "none"  # the numpydoc "Parameters" section states the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- HTML ----------------------------------------------------------------------------
html_theme = "furo"
html_title = f"poolkit {release}"
html_static_path: list[str] = []
html_copy_source = False
# the report pages' font stacks: Chinese asset names in tables and text show wherever a CJK font exists
from poolkit.reporting._html import FONT_STACK, MONO_FONT_STACK  # noqa: E402

html_theme_options = {
    "light_css_variables": {"font-stack": FONT_STACK, "font-stack--monospace": MONO_FONT_STACK},
    "dark_css_variables": {"font-stack": FONT_STACK, "font-stack--monospace": MONO_FONT_STACK},
}


# -- formulas as MathML ----------------------------------------------------------------
# The same converter as the HTML reports (latex2mathml, a dependency of poolkit):
# browsers render MathML natively, so the pages need no JavaScript to show a formula.
html_math_renderer = "mathml"


_UNKNOWN_COMMAND = re.compile(r">[^<]*(\\[A-Za-z]+)[^<]*<")


def _mathml(latex: str, display: str, node: Any) -> str:
    from poolkit.reporting._html import latex_to_mathml

    latex = latex.strip()
    try:
        mathml = latex_to_mathml(latex, display=display)
    except Exception as exc:  # a warning (an error under -W) that points at the formula
        logger.warning("formula not convertible to MathML (%s): %s", exc, latex, location=node)
        return f"<code>{html.escape(latex)}</code>"
    # a command the converter does not know is shown as its name: say so rather than print TeX
    unknown = _UNKNOWN_COMMAND.search(mathml)
    if unknown:
        logger.warning(
            "TeX command %s is not supported by latex2mathml; write the formula without it: %s",
            unknown.group(1), latex, location=node,
        )
    return mathml


def _visit_math(self: Any, node: Any) -> None:
    self.body.append(_mathml(node.astext(), "inline", node))
    raise SkipNode


def _visit_displaymath(self: Any, node: Any) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"]:
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})</span>')
    for part in node.astext().split("\n\n"):  # `.. math::` takes one formula per paragraph
        if part.strip():
            self.body.append(_mathml(part, "block", node))
    self.body.append("</div>\n")
    raise SkipNode


def _constant_docs(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Document a re-exported constant by its ``#:`` comment in the private module that defines it.

    A package re-exports its constants from private files; autodoc reads ``#:`` comments
    of the public module only, and would otherwise show the docstring of the value's
    class (a DataFrame's, say) as if it described the constant.
    """
    import importlib
    import inspect
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    if what != "data":
        return
    modname, _, attr = name.rpartition(".")
    class_doc = (inspect.getdoc(type(obj)) or "").strip().splitlines()
    inherited = bool(lines) and bool(class_doc) and lines[0].strip() == class_doc[0].strip()
    if lines and not inherited:
        return
    package = importlib.import_module(modname)
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        try:
            docs = ModuleAnalyzer.for_module(f"{modname}.{info.name}").find_attr_docs()
        except Exception:  # a module the analyzer cannot read has no comments to offer
            continue
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return
    if inherited:
        lines.clear()


def setup(app: Any) -> None:
    """Register the MathML renderer and the documentation of re-exported constants."""
    app.add_html_math_renderer("mathml", (_visit_math, None), (_visit_displaymath, None))
    app.connect("autodoc-process-docstring", _constant_docs, priority=100)  # before numpydoc rewrites the lines
