"""Benchmarks: run by hand (`make bench`), never as timed assertions in the test suite."""
