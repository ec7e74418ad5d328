"""flowctl conformance suite (pytest plugin)."""
