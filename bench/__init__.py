"""Benchmarks of sldagent's speed (run as `python -m bench`); not part of the test suite."""
