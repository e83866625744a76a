"""Export an executed notebook to a static, offline HTML page (private)."""

from __future__ import annotations

import copy
import functools
import re
import threading
from pathlib import Path
from typing import Any

from poolkit.reporting._execute import _import_jsonschema_quickly

FONT_STACK = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", '
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
    '"WenQuanYi Micro Hei", "Noto Sans CJK JP", "Noto Sans CJK KR", sans-serif'
)
"""CSS font stack of report pages: the platform's UI font for Latin text, then CJK fonts of every platform."""

MONO_FONT_STACK = (
    'menlo, consolas, "DejaVu Sans Mono", "Noto Sans Mono CJK SC", "Sarasa Mono SC", "Microsoft YaHei", '
    '"PingFang SC", "WenQuanYi Zen Hei Mono", monospace'
)
"""CSS font stack of text outputs (tables printed as text) in report pages."""

# The lab template without its remote loaders (require.js, widget manager, MathJax,
# mermaid): a report must display offline. Formulas become MathML (rendered natively
# by browsers) when latex2mathml is installed, and stay as TeX text otherwise. The
# theme's fonts are followed by CJK-capable ones, so Chinese labels in tables and text
# show on any system that has one (every desktop system does).
_HTML_TEMPLATE = (
    """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">
:root { --jp-ui-font-family: """ + FONT_STACK + """; --jp-content-font-family: """ + FONT_STACK + """;
  --jp-code-font-family: """ + MONO_FONT_STACK + """; }
</style>
{%- endblock html_head_css -%}
"""
)
_WIDGET_MIME = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
_CODE_SPAN = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?![\w$])")


_MTEXT = re.compile(r"(<mtext>[^<]*</mtext>)")
_ARG = re.compile(r"\\arg(?![A-Za-z])")


def latex_to_mathml(latex: str, display: str = "inline") -> str:
    r"""MathML of one TeX formula (latex2mathml), with text-mode escapes resolved.

    The converter keeps the escapes of ``\text{...}`` verbatim (``\text{nav\_per\_unit}``
    would show its backslashes); they are resolved here. The one converter of report pages
    and of the documentation. Raises whatever latex2mathml raises on a formula it cannot read.
    """
    from latex2mathml.converter import convert

    # \arg is a TeX operator latex2mathml does not know: written out as upright text
    latex = _ARG.sub(r"\\mathrm{arg}\\,", latex.strip())
    mathml = convert(latex, display=display)
    return _MTEXT.sub(lambda m: re.sub(r"\\([_%&#$])", r"\1", m.group(1)), mathml)


@functools.lru_cache(maxsize=2048)
def _math_to_mathml(markdown: str) -> str:
    """Replace ``$...$`` and ``$$...$$`` outside code by MathML (unchanged when not convertible)."""
    try:
        import latex2mathml  # noqa: F401
    except ImportError:
        return markdown

    def sub(pattern: re.Pattern[str], display: str, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            try:
                return latex_to_mathml(match.group(1), display=display)
            except Exception:  # unsupported TeX: keep the source text
                return match.group(0)

        return pattern.sub(one, text)

    parts = _CODE_SPAN.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = sub(_INLINE_MATH, "inline", sub(_DISPLAY_MATH, "block", parts[i]))
    return "".join(parts)


def _static_copy(nb: Any, *, copy_first: bool = True) -> Any:
    """Copy an executed notebook for a static page: no widget state, math as MathML (in place without ``copy_first``)."""
    if copy_first:
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


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")


@functools.lru_cache(maxsize=1)
def _html_exporter() -> Any:
    """Return the report HTML exporter, built once per process (its templates are compiled once).

    nbconvert's HTMLExporter re-parses the whole page with BeautifulSoup to add
    an ``alt`` text to images and focus marks to code cells: two thirds of an
    export, for pages whose code cells are excluded anyway. The report exporter
    renders the template and adds the ``alt`` texts by a pattern instead. It
    validates the notebook once, after its preprocessors, instead of after each
    of them (twelve validations: 40% of what remained of an export).
    """
    import jinja2
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):  # type: ignore[misc]
        markdown_cache: dict[tuple[str, str], str] = {}

        @pass_context
        def markdown2html(self, context: Any, source: str) -> str:
            # a batch exports the same markdown cells report after report: rendered once (without attachments)
            if context.get("cell", {}).get("attachments"):
                return str(super().markdown2html(context, source))
            key = (source, str(context.get("resources", {}).get("metadata", {}).get("path", "")))
            html = self.markdown_cache.get(key)
            if html is None:
                html = str(super().markdown2html(context, source))
                if len(self.markdown_cache) < 4096:
                    self.markdown_cache[key] = html
            return html

        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            body, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _IMG_WITHOUT_ALT.sub('<img alt="figure"', body), resources

    return ReportExporter(
        extra_loaders=[jinja2.DictLoader({"poolkit_report.html.j2": _HTML_TEMPLATE})],
        template_file="poolkit_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        optimistic_validation=True,  # the notebook is validated once, not after each of its dozen preprocessors
    )


_EXPORT_LOCK = threading.Lock()


def _export_html(executed: Path, html_path: Path) -> Path:
    """Export an executed notebook to a self-contained HTML page without code cells."""
    _import_jsonschema_quickly()
    import nbformat

    nb = _static_copy(nbformat.read(str(executed), as_version=4), copy_first=False)  # read for this page only
    with _EXPORT_LOCK:  # one exporter per process: one export at a time
        exporter = _html_exporter()
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    html_path.write_text(body, encoding="utf-8")
    return html_path
