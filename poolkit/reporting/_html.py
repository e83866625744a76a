"""Export an executed notebook to a static, offline HTML page (private)."""

from __future__ import annotations

import copy
import functools
import re
import threading
from pathlib import Path
from typing import Any

from poolkit.reporting._execute import _import_jsonschema_quickly

# The lab template without its remote loaders (require.js, widget manager, MathJax,
# mermaid): a report must display offline. Formulas become MathML (rendered natively
# by browsers) when latex2mathml is installed, and stay as TeX text otherwise.
_HTML_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_WIDGET_MIME = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
_CODE_SPAN = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?![\w$])")


def _math_to_mathml(markdown: str) -> str:
    """Replace ``$...$`` and ``$$...$$`` outside code by MathML (unchanged when not convertible)."""
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return markdown

    def sub(pattern: re.Pattern[str], display: str, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            try:
                return convert(match.group(1).strip(), display=display)
            except Exception:  # unsupported TeX: keep the source text
                return match.group(0)

        return pattern.sub(one, text)

    parts = _CODE_SPAN.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = sub(_INLINE_MATH, "inline", sub(_DISPLAY_MATH, "block", parts[i]))
    return "".join(parts)


def _static_copy(nb: Any) -> Any:
    """Copy an executed notebook for a static page: no widget state, math as MathML."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _math_to_mathml(cell.source)
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None:
                for mime in _WIDGET_MIME:
                    data.pop(mime, None)
    return nb


@functools.lru_cache(maxsize=1)
def _html_exporter() -> Any:
    """Return the report HTML exporter, built once per process (its templates are compiled once)."""
    import jinja2
    from nbconvert import HTMLExporter

    return HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"poolkit_report.html.j2": _HTML_TEMPLATE})],
        template_file="poolkit_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


_EXPORT_LOCK = threading.Lock()


def _export_html(executed: Path, html_path: Path) -> Path:
    """Export an executed notebook to a self-contained HTML page without code cells."""
    _import_jsonschema_quickly()
    import nbformat

    nb = _static_copy(nbformat.read(str(executed), as_version=4))
    with _EXPORT_LOCK:  # one exporter per process: one export at a time
        exporter = _html_exporter()
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    html_path.write_text(body, encoding="utf-8")
    return html_path
