#!/usr/bin/python3
"""Collect the bytes-saved sweep (scripts/bytes-saved.sh) into a table on stdout and a CSV.

    bytes_saved_table.py RUNS_TSV OUT_CSV

RUNS_TSV lists the runs (columns dir, experiment, model, data, split, workers, spread; dir is a
folder under runs/ beside the TSV holding a lag train summary.json). Per algorithm and run:
  uploads_per_epoch, bytes_up_per_epoch   uploads / iterations, bytes_up / iterations
                                          (epoch = one iteration = one server round)
  gd_bytes_per_epoch                      M d sizeof(T): what GD uploads in a round
  bytes_saved_per_epoch, saved_fraction   their difference, and 1 - bytes_up / GD-equivalent
  iterations_to_eps                       iterations when the run stopped on its target gap
  bytes_up_vs_gd                          bytes_up / the GD run's bytes_up on the same data: the
                                          uplink cost of reaching eps (or of the same iteration
                                          budget) against GD's
Standard library only.
"""
import csv
import json
import os
import sys

COLUMNS = ["experiment", "model", "data", "split", "workers", "spread", "algo", "stop_reason",
           "iterations", "iterations_to_eps", "uploads", "computes", "uploads_per_epoch",
           "bytes_up", "bytes_up_per_epoch", "gd_bytes_per_epoch", "bytes_saved_per_epoch",
           "saved_fraction", "bytes_up_vs_gd", "objective_error", "test_accuracy",
           "wall_seconds"]


def rows_of(entry, runs_dir):
    with open(os.path.join(runs_dir, entry["dir"], "summary.json")) as f:
        summary = json.load(f)
    gd = next((r for r in summary["runs"] if r["algo"] == "gd"), None)
    for r in summary["runs"]:
        iters = r["iterations"]
        per = (lambda v: v / iters) if iters else (lambda v: 0.0)
        gd_per_epoch = r["workers"] * r["dim"] * (8 if r["precision"] == "fp64" else 4)
        yield {
            "experiment": entry["experiment"], "model": entry["model"], "data": entry["data"],
            "split": entry["split"], "workers": entry["workers"], "spread": entry["spread"],
            "algo": r["algo"], "stop_reason": r["stop_reason"], "iterations": iters,
            "iterations_to_eps": iters if r["stop_reason"] == "target_gap" else "",
            "uploads": r["uploads"], "computes": r["computes"],
            "uploads_per_epoch": per(r["uploads"]), "bytes_up": r["bytes_up"],
            "bytes_up_per_epoch": per(r["bytes_up"]), "gd_bytes_per_epoch": gd_per_epoch,
            "bytes_saved_per_epoch": r["bytes_saved_per_iteration"],
            "saved_fraction": r["bytes_saved_fraction"],
            "bytes_up_vs_gd": r["bytes_up"] / gd["bytes_up"] if gd and gd["bytes_up"] else "",
            "objective_error": r.get("objective_error") if r.get("objective_error") is not None
            else "",
            "test_accuracy": r.get("test_accuracy", ""), "wall_seconds": r["wall_seconds"],
        }


def fmt(value, spec):
    return format(value, spec) if value != "" else "-"


def main():
    index, out_csv = sys.argv[1], sys.argv[2]
    runs_dir = os.path.join(os.path.dirname(os.path.abspath(index)), "runs")
    with open(index) as f:
        entries = list(csv.DictReader(f, delimiter="\t"))
    rows = [row for e in entries for row in rows_of(e, runs_dir)]

    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    print("bytes saved per epoch (epoch = one iteration = one server round, in which GD uploads "
          "all M gradients: one pass over the data)")
    print("iters to eps: iterations to objective error 1e-8 ('-': stopped otherwise, see stop); "
          "up vs GD: uplink bytes against the GD run on the same data")
    head = (f"{'experiment':<10} {'M':>3} {'spread':>6} {'split':<6} {'algo':<8} {'iters':>6} "
            f"{'to eps':>6} {'up/ep':>6} {'KB up/ep':>9} {'saved/ep':>8} {'up vs GD':>8} "
            f"{'test acc':>8} {'stop':<10}")
    print(head)
    print("-" * len(head))
    previous = None
    for r in rows:
        key = (r["experiment"], r["workers"], r["spread"], r["split"])
        if previous is not None and key != previous:
            print()
        previous = key
        acc = f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] != "" else "-"
        print(f"{r['experiment']:<10} {r['workers']:>3} {r['spread']:>6} {r['split']:<6} "
              f"{r['algo']:<8} {r['iterations']:>6} {fmt(r['iterations_to_eps'], 'd'):>6} "
              f"{r['uploads_per_epoch']:>6.2f} {r['bytes_up_per_epoch'] / 1e3:>9.2f} "
              f"{100 * r['saved_fraction']:>7.1f}% {fmt(r['bytes_up_vs_gd'], '.3f'):>8} "
              f"{acc:>8} {r['stop_reason']:<10}")


if __name__ == "__main__":
    main()
