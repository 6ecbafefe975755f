#!/usr/bin/env python3
"""Plot the readers sweep of `cargo bench --bench e2e` (scenario `sweep`).

Usage: python3 scripts/plot.py [readers.csv ...] [-o target/livelog-bench/readers.png]

Reads one or more CSV files written by the benchmark (columns: readers,
upload_mib, seconds, aggregate_mb_s, upload_mb_s, exact, peak_rss_kib),
takes the median of each reader count across files, and draws aggregate
throughput and the daemon's peak RSS against the number of readers.
Needs matplotlib (`pip install matplotlib`).

The plot goes next to the benchmark's output under target/ (ignored by git)
unless -o says otherwise: docs/readers.png is docs/performance.md's figure, replaced
only on purpose (`-o docs/readers.png`).
"""

import argparse
import csv
import os
import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="*", default=["target/livelog-bench/readers.csv"])
    parser.add_argument("-o", "--output", default="target/livelog-bench/readers.png")
    args = parser.parse_args()

    mb_s = defaultdict(list)
    rss = defaultdict(list)
    size = None
    for path in args.csv:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                n = int(row["readers"])
                mb_s[n].append(float(row["aggregate_mb_s"]))
                rss[n].append(int(row["peak_rss_kib"]) / 1024)
                size = row["upload_mib"]
    readers = sorted(mb_s)
    throughput = [statistics.median(mb_s[n]) for n in readers]
    peak = [statistics.median(rss[n]) for n in readers]

    fig, ax1 = plt.subplots(figsize=(8, 4.5), dpi=120)
    ax1.set_xscale("log")
    ax1.plot(readers, throughput, "o-", color="tab:blue", label="aggregate throughput")
    ax1.set_xlabel("concurrent readers (log scale)")
    ax1.set_ylabel("MB/s delivered to all readers", color="tab:blue")
    ax1.set_ylim(bottom=0)
    ax1.grid(True, which="both", alpha=0.3)

    ax2 = ax1.twinx()
    ax2.plot(readers, peak, "s--", color="tab:red", label="daemon peak RSS")
    ax2.set_ylabel("daemon peak RSS (MiB)", color="tab:red")
    ax2.set_ylim(0, max(32, max(peak) * 1.2))

    lines = ax1.get_lines() + ax2.get_lines()
    ax1.legend(lines, [line.get_label() for line in lines], loc="lower right")
    runs = len(args.csv)
    ax1.set_title(
        f"livelog: {size} MiB full-speed upload, N readers from the start "
        f"(median of {runs} run{'s' if runs != 1 else ''})"
    )
    fig.tight_layout()
    # target/livelog-bench/ exists once the benchmark has run; not before.
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    fig.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
