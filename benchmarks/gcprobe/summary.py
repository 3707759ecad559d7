"""Print what the collector cost each probed crawl process (see ``sitecustomize.py`` here).

Usage: ``python benchmarks/gcprobe/summary.py DIR [DIR...]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    for directory in argv:
        for path in sorted(Path(directory).glob("*.json")):
            stats = json.loads(path.read_text(encoding="utf-8"))
            if "scrapy" not in " ".join(stats["argv"]):
                continue  # the benchmark itself, the fork server
            cpu = sum(stats["cpu_s"])
            full = stats["full"]
            print(
                f"{directory} (pid {path.stem}): process CPU {stats['process_cpu_s']:.1f} s, "
                f"collector CPU {cpu:.2f} s ({cpu / stats['process_cpu_s']:.1%}), "
                f"collector wall {sum(stats['wall_s']):.2f} s; collections (young, middle, full) "
                f"{stats['collections']}, CPU s {[round(s, 2) for s in stats['cpu_s']]}"
            )
            if full:
                ms = sum(f[2] for f in full) / len(full)
                print(f"  full collections: {len(full)}, {ms:.0f} ms CPU each on average")
                left = sorted(f[3] for f in full if f[3])
                if left:
                    print(
                        f"  objects in generation 2: median {left[len(left) // 2]}, max {left[-1]}"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
