"""The reliability suite: what an operator needs to trust the ledger with.

Each scenario is a module here (crashes, contention, hostile input, access,
storage faults) that both the tests of this folder and ``scripts/bench.py
reliability`` run, the tests on small numbers and the benchmark on larger
ones, so the figures in ``docs/RELIABILITY.md`` come from the same code the
tests check.
"""
