"""Print the bench table: python -m bench.run [--only NAME ...]

Each bench/bench_*.py has rows() -> list of bench.common.row dicts. Models are the test zoo's
random-init ones where the real weights are missing: compute cost does not depend on weight values.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DLCLASS_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="bench module names without bench_ (e.g. app sliding_window)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    names = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "bench")]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only]
    rows = []
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        try:
            rows += module.rows()
        except Exception as exc:  # one broken bench must not hide the others
            rows.append({"tab": name, "what": f"FAILED: {exc}", "value": float("nan"), "unit": "", "target": "",
                         "baseline": None, "baseline_what": "", "ratio": None})
        print(f"# {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print("| tab | what | value | target | baseline (same run) | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        base = f"{r['baseline']:.1f} {r['unit']} ({r['baseline_what']})" if r["baseline"] else ""
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else ""
        print(f"| {r['tab']} | {r['what']} | {r['value']:.1f} {r['unit']} | {r['target']} | {base} | {ratio} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
