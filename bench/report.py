"""``sepconv bench``: run the cases against the installed peers, print a table.

The command line is parsed by ``sepconv.cli``; ``run(args)`` does the rest.
"""

from __future__ import annotations

import sys

import numpy as np

from . import peers as _peers

__all__ = ["run"]


def _progress(done, total, label, stream=sys.stderr, width=28):
    filled = int(width * done / max(total, 1))
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<28}")
    if done == total:
        stream.write("\n")
    stream.flush()


def _check_arguments(args, peers):
    """One clear line for a bad argument, before any timing starts; None if fine."""
    unknown = sorted(set(peers) - set(_peers.PEERS))
    if unknown:
        return (f"unknown peer(s) {', '.join(unknown)}; --peers takes 'none', 'installed' "
                f"or a comma-separated list of: {', '.join(sorted(_peers.PEERS))}")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return "--plot needs matplotlib (pip install \"sepconv[plot]\"); not installed"
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        return f"--threads takes comma-separated positive integers, received {args.threads!r}"
    if not threads or min(threads) < 1:
        return f"--threads takes comma-separated positive integers, received {args.threads!r}"
    if not args.seconds > 0:
        return f"--seconds must be positive, received {args.seconds}"
    return None


def run(args):

    cases = _peers.CASES
    if args.cases:
        wanted = args.cases.split(",")
        unknown = sorted(set(wanted) - {c.name for c in cases})
        if unknown:
            print(f"unknown case(s): {', '.join(unknown)}; cases: "
                  f"{', '.join(c.name for c in cases)}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.name in wanted]
    peers = [] if args.peers == "none" else (
        ["torch", "onnxruntime"] if args.peers == "installed" else args.peers.split(","))
    problem = _check_arguments(args, peers)
    if problem:
        print(f"sepconv bench: {problem}", file=sys.stderr)
        return 2
    threads_list = [int(t) for t in args.threads.split(",")]
    rows, notes = [], {}
    total = len(cases) * len(threads_list)
    done = 0
    for threads in threads_list:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            pass
        for case in cases:
            if not args.quiet:
                _progress(done, total, f"{case.name} x{threads}")
            problem = _peers.Problem.create(case, args.dtype, threads)
            sepconv_impl = _peers.make_sepconv(problem)
            impls = {"sepconv": sepconv_impl.call}
            sepconv_impl.call()
            expected = sepconv_impl.result()
            for peer in peers:
                try:
                    impl = _peers.PEERS[peer](problem)
                    impl.call()
                    got = impl.result()
                    scale = max(1.0, float(np.abs(expected).max()))
                    tol = 1e-4 if args.dtype == "float32" else 1e-9
                    if float(np.abs(got - expected).max()) > tol * scale:
                        notes[peer] = f"output differs from sepconv on {case.name}"
                        continue
                    impls[peer] = impl.call
                except Exception as exc:  # a peer that cannot run is reported, not fatal
                    notes.setdefault(peer, f"{type(exc).__name__}: {exc}".splitlines()[0][:120])
            medians = _peers.time_interleaved(impls, args.seconds)
            rows.append({"case": case.name, "threads": threads, "dtype": args.dtype,
                         "flops": case.flops(), "us": {k: v * 1e6 for k, v in medians.items()}})
            done += 1
    if not args.quiet:
        _progress(done, total, "done")
    names = ["sepconv"] + peers
    header = f"{'case':<12} {'thr':>3} " + " ".join(f"{n + ' us':>16}" for n in names)
    print(f"dtype {args.dtype}; median us per call, interleaved")
    print(header + f" {'GFLOP/s':>8} {'best peer/sepconv':>18}")
    for row in rows:
        us = row["us"]
        cells = " ".join(f"{us[n]:16.1f}" if n in us else f"{'n/a':>16}" for n in names)
        peer_times = [us[n] for n in peers if n in us]
        ratio = f"{min(peer_times) / us['sepconv']:18.2f}" if peer_times else f"{'-':>18}"
        print(f"{row['case']:<12} {row['threads']:>3} {cells} "
              f"{row['flops'] / us['sepconv'] / 1e3:8.1f} {ratio}")
    for peer, reason in notes.items():
        print(f"note: {peer}: {reason}")
    if args.json:
        import json
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "notes": notes}, handle, indent=1)
    if args.plot:
        _plot(rows, names, args.plot)
    return 0


def _plot(rows, names, path):
    try:
        import matplotlib
    except ImportError:
        print('--plot needs matplotlib: pip install "sepconv[plot]"', file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['case']}\nx{r['threads']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.9), 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [r["flops"] / r["us"][name] / 1e3 if name in r["us"] else 0 for r in rows]
        ax.bar(np.arange(len(rows)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(rows)) + 0.4 - width / 2)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("GFLOP/s")
    ax.set_title("sepconv bench")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


