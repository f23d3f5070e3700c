#!/usr/bin/python3
"""The paper's figures from lag train runs: objective error against iterations, against
cumulative uploads and against cumulative uplink bytes (what LAQ, EF21 and CLAG shrink), every
algorithm of the run, log-scale error. One PNG per run, beside it.

    plot_paper_figures.py [--target EPS] RUN_DIR TITLE [RUN_DIR TITLE ...]

RUN_DIR is a lag train --out folder (its metrics.csv is read); RUN_DIR.png is written.
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

STYLE = {"gd": ("black", "-"), "lag-wk": ("tab:red", "-"), "lag-ps": ("tab:blue", "--"),
         "cyc-iag": ("tab:green", "-."), "num-iag": ("tab:purple", ":"),
         "laq": ("tab:orange", "-"), "ef21": ("tab:brown", "--"), "clag": ("tab:cyan", "-.")}
LABEL = {"gd": "GD", "lag-wk": "LAG-WK", "lag-ps": "LAG-PS", "cyc-iag": "Cyc-IAG",
         "num-iag": "Num-IAG", "laq": "LAQ", "ef21": "EF21", "clag": "CLAG"}


def read_curves(run_dir):
    """algo -> (iterations, cumulative uploads, cumulative uplink bytes, objective error),
    evaluated rows only."""
    curves = {}
    with open(f"{run_dir}/metrics.csv") as f:
        for r in csv.DictReader(f):
            if r["objective_error"] == "":
                continue
            it, up, by, err = curves.setdefault(r["algo"], ([], [], [], []))
            it.append(int(r["iter"]))
            up.append(int(r["cum_uploads"]))
            by.append(max(int(r["cum_bytes_up"]), 1))
            # The last iterates can land a hair below L* in floating point; keep them on the plot.
            err.append(max(float(r["objective_error"]), 1e-16))
    return curves


def plot(run_dir, title, target):
    curves = read_curves(run_dir)
    fig, (ax_it, ax_up, ax_by) = plt.subplots(1, 3, figsize=(17, 4.6))
    for algo, (it, up, by, err) in curves.items():
        color, style = STYLE.get(algo, ("gray", "-"))
        label = f"{LABEL.get(algo, algo)} ({it[-1]} it, {up[-1]} up)"
        ax_it.plot(it, err, color=color, linestyle=style, lw=1.6, label=label)
        ax_up.plot(up, err, color=color, linestyle=style, lw=1.6, label=LABEL.get(algo, algo))
        ax_by.plot(by, err, color=color, linestyle=style, lw=1.6,
                   label=f"{LABEL.get(algo, algo)} ({by[-1] / 1e3:.1f} kB)")
    ax_by.set_xscale("log")
    for ax, xlabel in ((ax_it, "iteration k"), (ax_up, "cumulative uploads (communications)"),
                       (ax_by, "cumulative uplink bytes")):
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("objective error L(theta^k) - L*")
        ax.grid(True, which="major", alpha=0.3)
        if target:
            ax.axhline(target, color="gray", lw=0.8, linestyle=":")
    ax_it.legend(fontsize=8)
    ax_up.legend(fontsize=8)
    ax_by.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(f"{run_dir}.png", dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", type=float, default=0.0, help="draw the target gap")
    p.add_argument("runs", nargs="+", help="RUN_DIR TITLE pairs")
    a = p.parse_args()
    if len(a.runs) % 2:
        p.error("give RUN_DIR TITLE pairs")
    for run_dir, title in zip(a.runs[::2], a.runs[1::2]):
        plot(run_dir, title, a.target)


if __name__ == "__main__":
    main()
