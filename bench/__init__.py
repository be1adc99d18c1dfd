"""Benchmarks at scale: a generator of GENERATED data in the tracker's real formats (issue 17).

Nothing here is real: every organisation, figure and return the generator writes is made up,
and says so (see bench/generate.py).
"""
