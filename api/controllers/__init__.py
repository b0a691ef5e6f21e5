"""One controller per resource of the HTTP contract; handlers stay thin.

Read handlers are plain functions run on the event loop
(``sync_to_thread=False``): a read is a few indexed queries of the node's
SQLite read model, and handing each to a worker thread cost more than it
saved when measured under load, on every read route and the pages alike.
Work that may wait on a lock or a flush runs off the loop: commands go to
the worker's writer thread (:mod:`api.writer_thread`); idempotency keys,
rate-limit windows, new tokens and the log's head go through anyio's worker
threads; and a ``min_position`` wait sleeps with asyncio between looks
(:mod:`api.read_your_writes`).
"""
