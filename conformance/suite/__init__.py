"""The packaged conformance suite: collected only when ``pytest --component X.wasm`` is given.

One test (or a few) per check of :mod:`conformance.checks`, each marked
``@pytest.mark.conformance_check("ID")``; ``tests/unit/test_suite_coverage.py`` keeps the two
in step.
"""
