"""The read models: one module each, with its tables, its folds and its writes.

Each module ends with a ``READ_MODEL`` that says what the engine needs to
know; :mod:`projections.registry` lists them.
"""
