"""Stands in for `python -m knowledge build` in tests: prints progress lines like knowledge.index does."""

import sys

for done in (0, 4, 8, 10):
    print(f"2025-01-01 00:00:00 INFO knowledge.index: embedding: {done}/10", flush=True)
print("published v1: 3 procedures, 10 passages", flush=True)
sys.exit(0)
