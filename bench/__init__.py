"""Speed and quality benchmarks: each prints a table and writes a results file (never run as tests)."""
