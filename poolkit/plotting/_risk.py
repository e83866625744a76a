"""Figures for poolkit.risk (see poolkit.plotting)."""

from __future__ import annotations

__all__: list[str] = []
