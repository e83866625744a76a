"""Figures for poolkit.pooling (see poolkit.plotting)."""

from __future__ import annotations

__all__: list[str] = []
