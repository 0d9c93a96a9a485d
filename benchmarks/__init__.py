"""KeyPulse benchmarks: measured speed at scale, as ratios against the floor of the stack.

`make bench` (or `python -m benchmarks`) builds a synthetic but realistic data set
in a fresh database, measures each item against its floor with interleaved A/B
runs, prints the table and writes benchmarks/results/latest.json and latest.md.
"""
