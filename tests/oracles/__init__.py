"""Oracles: pure-Python readings of what each sample must do, independent of the sample's code.

The integration tests compare a component's real outputs with its oracle's.  One module per
sample:

``ttp``
    The design document's Rust TTP ("TTP Processor Implementation Example") applied to JSON-form
    events.  It generated ``fixtures/expected/ttp/*.jsonl``; regenerate them after a rule change
    with ``python -m tests.oracles.ttp --write-expected`` (then review the diff).
``account_balance``
    The account-balance sample's SQL contract and the balances a sequence of transfers leads to.
"""
