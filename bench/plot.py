#!/usr/bin/env python3
"""Plots the ratios of a `bench/compare.sh --tsv FILE` run as a PNG.

    python3 bench/plot.py bench/results.tsv bench/ratios.png
    python3 bench/plot.py --curve bench/gc_curve.tsv bench/gc_curve.png

The second form draws a `bench/gc_curve.sh` table: seconds against the
number of repositories for each gc/du figure, regctl and registry:2 (a
straight line on the log-log axes means linear growth).

Needs matplotlib (pip install matplotlib). Each bar is how many times better
regctl is than its peer (registry:2 or skopeo) on that figure: higher is
better, 1 is a tie.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(tsv: str, png: str) -> None:
    rows = []
    with open(tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                rows.append((row["figure"], float(row["ratio"])))
            except ValueError:
                continue  # "-": not comparable
    rows.reverse()
    labels = [r[0] for r in rows]
    ratios = [r[1] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.2))
    colors = ["#2a7ab9" if r >= 1 else "#c0392b" for r in ratios]
    ax.barh(labels, ratios, color=colors)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("times better than the peer (log scale; 1 = tie)")
    ax.set_title("regctl vs registry:2 and skopeo (bench/compare.sh)")
    for y, r in enumerate(ratios):
        ax.text(r, y, f" {r:.1f}x", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def curve(tsv: str, png: str) -> None:
    series: dict[str, list[tuple[int, float]]] = {}
    with open(tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if "(s" not in row["figure"]:
                continue  # only the timings; RSS rows are not a curve
            for tool, key in (("regctl", "regctl"), ("registry:2", "registry2")):
                try:
                    value = float(row[key])
                except ValueError:
                    continue  # "-": registry:2 has no such command
                name = f"{tool}: {row['figure']}"
                series.setdefault(name, []).append((int(row["repositories"]), value))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, points in sorted(series.items()):
        points.sort()
        style = "-" if name.startswith("regctl") else "--"
        ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("repositories (10 manifests each)")
    ax.set_ylabel("seconds (log)")
    ax.set_title("gc and du against the size of the root (bench/gc_curve.sh)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--curve":
        curve(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    else:
        sys.exit("usage: bench/plot.py RESULTS.tsv OUT.png | bench/plot.py --curve CURVE.tsv OUT.png")
