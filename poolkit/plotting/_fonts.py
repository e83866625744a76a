"""Chinese, Japanese and Korean text in every figure, on any machine (private).

matplotlib draws text in one font family (DejaVu Sans by default), which has
no CJK glyphs: the source document's assets 资产1, 资产2, 资产3 come out as
empty boxes on a machine without CJK fonts. poolkit installs Noto Sans CJK
(SIL Open Font License 1.1) from the ``noto-cjk-sans-otc`` package and, when
:mod:`poolkit.plotting` is imported, registers it with matplotlib's font
manager and appends it, after any CJK font the system already has, to the font
families matplotlib falls back on glyph by glyph. Latin text keeps its usual
font (the first family, normally DejaVu Sans); only the characters that font
lacks are drawn from the next family that has them. matplotlib fixes the font
of a text when it is created, so the fallback serves the figures made after
``import poolkit.plotting`` (report kernels import it before any cell runs).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CJK_FAMILIES", "cjk_font_families", "register_cjk_fonts"]

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "SimHei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
"""CJK-capable families preferred when the system has them, Simplified Chinese first."""

_BUNDLED_FACE = "Noto Sans CJK SC"
_REGISTERED: list[str] = []


def _bundled_font() -> Path | None:
    """Return the path of the Noto Sans CJK collection installed with poolkit, None when it is missing."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return None
    path = Path(str(noto_cjk_sans_otc.FONT_PATH))
    return path if path.is_file() else None


def cjk_font_families(available: set[str] | frozenset[str], bundled: list[str]) -> list[str]:
    """Order the CJK fallback families: the system's own first, then the bundled ones.

    Parameters
    ----------
    available : set of str
        Family names matplotlib knows from the system fonts (before the bundled
        font is added).
    bundled : list of str
        Families of the bundled font, preferred face first.

    Returns
    -------
    list of str
        Families for the fallback list, without repeats.

    Examples
    --------
    >>> cjk_font_families({"DejaVu Sans", "WenQuanYi Zen Hei"}, ["Noto Sans CJK SC"])
    ['WenQuanYi Zen Hei', 'Noto Sans CJK SC']
    >>> cjk_font_families({"DejaVu Sans"}, ["Noto Sans CJK SC"])
    ['Noto Sans CJK SC']
    """
    system = [family for family in CJK_FAMILIES if family in available]
    return list(dict.fromkeys([*system, *bundled]))


def register_cjk_fonts() -> list[str]:
    """Make matplotlib draw CJK text: register the bundled font and the fallback families (once per process).

    System CJK fonts of :data:`CJK_FAMILIES` come first; the Noto Sans CJK
    collection installed with poolkit is added to matplotlib's font manager
    (``addfont``) and comes last. The families are appended to
    ``rcParams["font.family"]`` after the families already there, so Latin
    text keeps its font and each character missing from it falls back to the
    first CJK family that has it. Calling it again changes nothing.

    Returns
    -------
    list of str
        The CJK families appended to ``rcParams["font.family"]`` (empty when
        neither the system nor poolkit has a CJK font).

    Examples
    --------
    >>> import matplotlib
    >>> families = register_cjk_fonts()
    >>> families[-1], families[-1] in matplotlib.rcParams["font.family"]
    ('Noto Sans CJK SC', True)
    """
    import matplotlib as mpl
    from matplotlib import font_manager

    if not _REGISTERED:
        available = {entry.name for entry in font_manager.fontManager.ttflist}
        bundled: list[str] = []
        path = _bundled_font()
        if path is not None:
            known = {Path(entry.fname) for entry in font_manager.fontManager.ttflist}
            if path not in known:
                font_manager.fontManager.addfont(str(path))
            faces = [e.name for e in font_manager.fontManager.ttflist if Path(e.fname) == path]
            # matplotlib >= 3.10 registers every face of the collection; older ones only the first
            bundled = [_BUNDLED_FACE] if _BUNDLED_FACE in faces else faces[:1]
        _REGISTERED.extend(cjk_font_families(available, bundled) or ["-"])
    families = [f for f in _REGISTERED if f != "-"]
    current = mpl.rcParams["font.family"]
    current = [current] if isinstance(current, str) else list(current)
    mpl.rcParams["font.family"] = [*current, *(f for f in families if f not in current)]
    return families
