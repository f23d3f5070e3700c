#!/usr/bin/python3
"""Plot the bytes-saved sweep: bytes_saved.csv (scripts/bytes_saved_table.py) -> PNG.

    plot_bytes_saved.py BYTES_SAVED_CSV OUT_PNG

Top row and bottom left: uplink bytes to reach eps relative to GD's, against the heterogeneity
spread r (log-log), one panel per model and worker count; a hollow marker is a run that stopped
before eps (iteration cap or divergence), drawn at what it had spent. Bottom middle and right,
Fashion-MNIST softmax at a fixed iteration budget: uploads per epoch, and the share of uplink
bytes saved per epoch with the test accuracy on each bar.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

ALGOS = ["gd", "lag-wk", "lag-ps", "cyc-iag", "num-iag", "laq", "ef21", "clag"]
STYLE = {"gd": ("black", "o"), "lag-wk": ("tab:red", "s"), "lag-ps": ("tab:blue", "^"),
         "cyc-iag": ("tab:green", "v"), "num-iag": ("tab:purple", "D"),
         "laq": ("tab:orange", "P"), "ef21": ("tab:brown", "X"), "clag": ("tab:cyan", "*")}


def sweep_panel(ax, rows, title):
    for algo in ALGOS:
        pts = sorted((float(r["spread"]), float(r["bytes_up_vs_gd"]), r["iterations_to_eps"] != "")
                     for r in rows if r["algo"] == algo and r["bytes_up_vs_gd"] != "")
        if not pts:
            continue
        color, marker = STYLE[algo]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, lw=1, marker=marker,
                ms=6, label=algo)
        for x, y, reached in pts:
            if not reached:
                ax.plot(x, y, marker=marker, color=color, ms=6, markerfacecolor="white")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("spread r = L_M / L_1")
    ax.set_ylabel("uplink bytes to eps / GD's")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)


def fashion_panels(ax_up, ax_saved, rows):
    splits = ["iid", "label"]
    width = 0.38
    for k, split in enumerate(splits):
        by_algo = {r["algo"]: r for r in rows if r["split"] == split}
        xs = [i + (k - 0.5) * width for i in range(len(ALGOS))]
        ups = [float(by_algo[a]["uploads_per_epoch"]) if a in by_algo else 0 for a in ALGOS]
        saved = [100 * float(by_algo[a]["saved_fraction"]) if a in by_algo else 0 for a in ALGOS]
        hatch = "" if split == "iid" else "//"
        ax_up.bar(xs, ups, width, label=f"split {split}", hatch=hatch,
                  color=[STYLE[a][0] for a in ALGOS], edgecolor="white", alpha=0.85)
        bars = ax_saved.bar(xs, saved, width, label=f"split {split}", hatch=hatch,
                            color=[STYLE[a][0] for a in ALGOS], edgecolor="white", alpha=0.85)
        for bar, a in zip(bars, ALGOS):
            acc = by_algo.get(a, {}).get("test_accuracy", "")
            if acc != "":
                ax_saved.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 1,
                              f"{100 * float(acc):.0f}%", ha="center", fontsize=7, rotation=90)
    budget = rows[0]["iterations"] if rows else "?"
    for ax in (ax_up, ax_saved):
        ax.set_xticks(range(len(ALGOS)))
        ax.set_xticklabels(ALGOS, fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    ax_up.set_ylabel("uploads per epoch")
    ax_up.set_title(f"Fashion-MNIST softmax, M = 10, {budget} iterations", fontsize=10)
    ax_saved.set_ylabel("uplink bytes saved per epoch (%)")
    ax_saved.set_ylim(0, 115)
    ax_saved.set_title("saved per epoch (test accuracy on the bars)", fontsize=10)


def main():
    with open(sys.argv[1]) as f:
        rows = list(csv.DictReader(f))
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    for ax, m in zip(axes[0], ["3", "9", "27"]):
        sweep_panel(ax, [r for r in rows if r["experiment"] == "linear" and r["workers"] == m],
                    f"least squares, M = {m}, eps = 1e-8")
    sweep_panel(axes[1][0], [r for r in rows if r["experiment"] == "logistic"],
                "logistic (lambda 1e-3), M = 9, eps = 1e-8")
    fashion_panels(axes[1][1], axes[1][2], [r for r in rows if r["experiment"] == "softmax"])
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Bytes saved against GD (lag gen hetero --spread r; Fashion-MNIST split iid and "
                 "by label); hollow: stopped before eps", fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
