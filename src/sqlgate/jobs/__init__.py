"""Async queries: job states, the job service and the worker pool (docs/async.md)."""
