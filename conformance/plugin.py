"""Pytest plugin (placeholder until the suite lands)."""

from __future__ import annotations
