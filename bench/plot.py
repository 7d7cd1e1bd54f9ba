#!/usr/bin/env python3
"""Plots the ratios of a `bench/compare.sh --tsv FILE` run as a PNG.

    python3 bench/plot.py bench/results.tsv bench/ratios.png

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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: bench/plot.py RESULTS.tsv OUT.png")
    main(sys.argv[1], sys.argv[2])
