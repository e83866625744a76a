"""Figures for poolkit.allocation (see poolkit.plotting)."""

from __future__ import annotations

__all__: list[str] = []
