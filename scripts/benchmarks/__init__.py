"""The benchmarks of ``scripts/bench.py``, one module each.

A benchmark module offers ``add_arguments(parser)`` and ``run(args)``, which
returns its figures as a flat ``dict[str, float]``. If it also declares
``TITLE`` and ``ROWS`` (see :mod:`benchmarks.report`), ``bench.py`` prints the
figures for it: a table beside their baselines, or with ``--json`` exactly one
JSON object. Any other module in this package (``report``) is a helper.
"""
