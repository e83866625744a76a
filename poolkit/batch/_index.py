"""The batch index page (private)."""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from poolkit._runs import read_json, write_text_atomic
from poolkit.batch._grid import Grid
from poolkit.reporting import format_figure

INDEX_FILE = "index.html"
SUMMARY_FILE = "summary.json"

# --------------------------------------------------------------------------- index page


def _collect_summary(folder: Path) -> dict[str, Any]:
    """Merge every ``summary.json`` under a report folder (notebooks' key figures)."""
    figures: dict[str, Any] = {}
    if not folder.is_dir():
        return figures
    for path in sorted(folder.rglob(SUMMARY_FILE)):
        data = read_json(path)
        if isinstance(data, Mapping):
            figures.update(_flatten(data))
    return figures


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _rel_links(folder: Path, batch_dir: Path) -> list[tuple[str, str]]:
    if not folder.is_dir():
        return []
    pages = sorted(p for p in folder.glob("*.html") if p.name != INDEX_FILE) or sorted(folder.glob("*.ipynb"))
    links = [("report", f"{folder.name}/{INDEX_FILE}")] if (folder / INDEX_FILE).is_file() else []
    return links + [(p.stem, p.relative_to(batch_dir).as_posix()) for p in pages]


def write_index(
    batch_dir: str | Path,
    grid: Grid,
    runs: Sequence[Mapping[str, Any]],
    *,
    generated: _dt.datetime | None = None,
) -> Path:
    """Write ``index.html`` in the batch folder: every run, its figures, links and failures.

    The page is static (inline CSS, no script, no remote resource), so it opens
    from disk offline. Key figures are the merged ``summary.json`` files that
    notebooks write with :func:`poolkit.reporting.record`. The file is written
    to a temporary name and renamed, so a reader never sees half a page.

    Parameters
    ----------
    batch_dir : str or Path
        ``<reports_dir>/<name>/``.
    grid : Grid
        The grid the runs come from.
    runs : sequence of mapping
        Run records as in :attr:`BatchResult.runs`.
    generated : datetime, optional
        Time stamp shown on the page (default: now, UTC).

    Returns
    -------
    Path
        The index file.
    """
    batch_dir = Path(batch_dir)
    generated = generated or _dt.datetime.now(_dt.UTC)
    esc = html.escape
    figures = {r["run_id"]: _collect_summary(batch_dir / r["run_id"]) for r in runs}
    figure_names = sorted({k for f in figures.values() for k in f})
    varying_names = list(dict.fromkeys(k for r in runs for k in (r.get("varying") or {})))
    figure_labels = [f"{k} (result)" if k in varying_names else k for k in figure_names]
    head = ["run", "status", "duration (s)", *varying_names, *figure_labels, "pages"]
    rows = []
    for r in runs:
        status = str(r["status"])
        folder = batch_dir / r["run_id"]
        links = _rel_links(folder, batch_dir) if status in ("ok", "skipped") else []
        if status not in ("ok", "skipped") and r.get("partial"):
            links = _rel_links(batch_dir / r["partial"], batch_dir)
        link_html = " ".join(f'<a href="{esc(href, quote=True)}">{esc(label)}</a>' for label, href in links) or "&ndash;"
        duration = r.get("duration")
        cells = [
            f'<td id="{esc(r["run_id"], quote=True)}">{esc(r["run_id"])}</td>',
            f'<td class="status {"ok" if status in ("ok", "skipped") else "bad"}">{esc(status)}</td>',
            f'<td class="num">{"" if duration is None else f"{duration:.1f}"}</td>',
            *(f"<td>{esc(format_figure((r.get('varying') or {}).get(k, '')))}</td>" for k in varying_names),
            *(f'<td class="num">{esc(format_figure(figures[r["run_id"]].get(k, "")))}</td>' for k in figure_names),
            f"<td>{link_html}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    failures = []
    for r in runs:
        if r["status"] in ("ok", "skipped"):
            continue
        cell = r.get("failed_cell") or {}
        where = f" in {esc(cell.get('notebook', ''))}, cell {esc(cell.get('cell', ''))}" if cell else ""
        failures.append(
            f'<section class="failure"><h3><a href="#{esc(r["run_id"], quote=True)}">{esc(r["run_id"])}</a>{where}</h3>'
            f"<p>{esc(cell.get('error') or str(r.get('error') or r['status']))}</p>"
            + (f"<pre>{esc(cell['source'])}</pre>" if cell.get("source") else "")
            + (f"<details><summary>full error</summary><pre>{esc(str(r.get('error')))}</pre></details>" if r.get("error") else "")
            + "</section>"
        )
    n_ok = sum(r["status"] in ("ok", "skipped") for r in runs)
    template = (Path(__file__).parents[1] / "templates" / "batch_index.html").read_text(encoding="utf-8")
    page = template.format(
        title=esc(f"poolkit batch · {grid.name}"),
        name=esc(grid.name),
        generated=esc(generated.isoformat(timespec="seconds")),
        grid_file=esc(str(grid.path or "")),
        notebooks=esc(", ".join(nb.name for nb in grid.notebooks)),
        shared=esc(json.dumps(grid.parameters, ensure_ascii=False, default=str)),
        n_runs=len(runs),
        n_ok=n_ok,
        n_failed=len(runs) - n_ok,
        head="".join(f"<th>{esc(h)}</th>" for h in head),
        rows="\n".join(rows),
        failures="\n".join(failures) or "<p>None.</p>",
    )
    path = batch_dir / INDEX_FILE
    write_text_atomic(path, page)
    return path
