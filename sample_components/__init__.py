"""Sample guests and the broken-component zoo (sources + build scripts; not installed)."""
