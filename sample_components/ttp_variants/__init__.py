"""Defective variants of the TTP sample, built from its sources plus one edit each (README.md)."""
