"""The packaged conformance suite: collected only when ``pytest --component X.wasm`` is given.

One test (or a few) per check of :mod:`conformance.checks`, each marked
``@pytest.mark.conformance_check("ID")``; :func:`conformance.deciders.deciding_tests` reads the
marks (the *decided by* column of ``conformance/CHECKS.md``) and
``tests/unit/test_results.py`` keeps checks and tests in step.
"""
