#!/usr/bin/env python3
"""Markdown summary of the churn benchmark (benches/churn.rs), from criterion's output.

Reads <criterion dir>/churn-<N>/<variant>/new/estimates.json (median.point_estimate, in
ns per free + allocate pair) and prints a table of medians (variants x N) and ratios
between them. Python 3 standard library only.

Usage: python3 benches/summarize.py [CRITERION_DIR] [RUN]
CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion. RUN is the
subdirectory of each result to read: "new" (the latest run, the default) or the name of a
baseline saved with `cargo bench ... -- --save-baseline NAME`.
"""

import json
import os
import re
import sys

# Display order; variants not listed (new policies) follow, alphabetically.
ORDER = [
    "first-fit",
    "best-fit",
    "tlsf",
    "buddy",
    "first-fit-c-api",
    "reference",
    "offset-allocator",
    "xalloc-tlsf",
    "range-alloc",
    "harness-only",
]


def n_of(label):
    """'1k' -> 1000, '1M' -> 1000000, '500' -> 500."""
    m = re.fullmatch(r"(\d+)([kM]?)", label)
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "k": 1000, "M": 1000000}[m.group(2)]


def load(root, run, prefix="churn-"):
    """{label: {variant: median ns}} of the groups `<prefix><N>`, labels sorted by N."""
    results = {}
    for group in os.listdir(root):
        if not group.startswith(prefix) or n_of(group[len(prefix):]) is None:
            continue
        label = group[len(prefix):]
        for variant in os.listdir(os.path.join(root, group)):
            path = os.path.join(root, group, variant, run, "estimates.json")
            if os.path.isfile(path):
                with open(path) as f:
                    results.setdefault(label, {})[variant] = json.load(f)["median"]["point_estimate"]
    return dict(sorted(results.items(), key=lambda item: n_of(item[0])))


def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f}" if ns >= 100 else f"{ns:.1f}"


def fmt_ratio(r):
    return "–" if r is None else (f"{r:.1f}×" if r >= 10 else f"{r:.2f}×")


def ratio(a, b):
    return a / b if a is not None and b else None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    if not os.path.isdir(root):
        sys.exit(f"no criterion results in {root}: run `cargo bench -p memalloc --bench churn` first")
    run = sys.argv[2] if len(sys.argv) > 2 else "new"
    results = load(root, run)
    if not results:
        sys.exit(f"no churn-* groups in {root}")
    labels = list(results)
    seen = {v for per_n in results.values() for v in per_n}
    variants = [v for v in ORDER if v in seen] + sorted(seen - set(ORDER))

    def get(variant, label):
        return results[label].get(variant)

    print("Median time per churn step (free a random live block + allocate a new one), ns unless marked:\n")
    print("| variant | " + " | ".join(f"N = {label}" for label in labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for v in variants:
        print(f"| {v} | " + " | ".join(fmt_ns(get(v, label)) for label in labels) + " |")

    # Growth with N: each variant's median at N over its median at the smallest N.
    first = labels[0]
    print(f"\nGrowth with N (median at N / median at N = {first}):\n")
    print("| variant | " + " | ".join(f"N = {label}" for label in labels[1:]) + " |")
    print("|---|" + "---:|" * (len(labels) - 1))
    for v in variants:
        print(f"| {v} | " + " | ".join(fmt_ratio(ratio(get(v, label), get(v, first))) for label in labels[1:]) + " |")

    # Each policy against the faster of the two O(1) crates at each N.
    def fastest_o1(label):
        times = [t for t in (get("offset-allocator", label), get("xalloc-tlsf", label)) if t is not None]
        return min(times) if times else None

    if any(fastest_o1(label) for label in labels):
        print("\nEach policy over the faster of offset-allocator and xalloc-tlsf at the same N:\n")
        print("| policy | " + " | ".join(f"N = {label}" for label in labels) + " |")
        print("|---|" + "---:|" * len(labels))
        for v in ("first-fit", "best-fit", "tlsf", "buddy"):
            if v in seen:
                cells = [fmt_ratio(ratio(get(v, label), fastest_o1(label))) for label in labels]
                print(f"| {v} | " + " | ".join(cells) + " |")

    rows = []
    per_n = [
        ("reference / first-fit", "reference", "first-fit"),
        ("first-fit-c-api / first-fit (C layer overhead)", "first-fit-c-api", "first-fit"),
        ("best-fit / first-fit", "best-fit", "first-fit"),
        ("tlsf / offset-allocator", "tlsf", "offset-allocator"),
        ("tlsf / xalloc-tlsf", "tlsf", "xalloc-tlsf"),
        ("buddy / xalloc-tlsf", "buddy", "xalloc-tlsf"),
        ("tlsf / first-fit", "tlsf", "first-fit"),
        ("buddy / first-fit", "buddy", "first-fit"),
        ("range-alloc / first-fit", "range-alloc", "first-fit"),
        ("offset-allocator / first-fit", "offset-allocator", "first-fit"),
    ]
    for name, a, b in per_n:
        values = [ratio(get(a, label), get(b, label)) for label in labels]
        if any(x is not None for x in values):
            rows.append((name, values))

    print("\nRatios between variants at the same N (medians):\n")
    print("| ratio | " + " | ".join(f"N = {label}" for label in labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for name, values in rows:
        print(f"| {name} | " + " | ".join(fmt_ratio(x) for x in values) + " |")


def placement(root, run):
    """The placement group: ranged and top-down against plain, per policy."""
    results = load(root, run, "placement-")
    for label, per_variant in results.items():
        print(f"\nPlacement at N = {label} (ns per pair, and over the same policy placing plainly):\n")
        print("| policy | plain | halves (ranged) | top-down |")
        print("|---|---:|---:|---:|")
        # criterion writes `policy/variant` as the directory `policy_variant`.
        for policy in sorted({v.split("_")[0] for v in per_variant}):
            plain = per_variant.get(f"{policy}_plain")
            cells = [fmt_ns(plain)]
            for variant in ("halves", "top-down"):
                t = per_variant.get(f"{policy}_{variant}")
                cells.append(f"{fmt_ns(t)} ({fmt_ratio(ratio(t, plain))})")
            print(f"| {policy} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
    placement(
        sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion"),
        sys.argv[2] if len(sys.argv) > 2 else "new",
    )
