"""Command line of the reproductions: ``python -m mfcheck.app.reproduce {mmn18,dimension,frameworks} [--out DIR] ...``.

:func:`main` takes ``argv`` (without the program name) and returns the exit status, so that
``mfcheck reproduce ...`` can delegate to it.
"""

from __future__ import annotations

import argparse
import sys

from mfcheck.app.options import add_quiet, exit_codes
from mfcheck.app.paths import FOLDER, check_path
from mfcheck.errors import InvalidArgument

__all__ = ["build_parser", "main"]


EXIT_CODES = {0: "the report is written", 2: "bad usage"}
"""The exit codes of ``mfcheck reproduce`` (listed in its ``--help``)."""


def build_parser(prog: str = "mfcheck reproduce") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Reproduce the MMN18 experiments, measure the d-dependence of Theorem 1, and gate PyTorch variants.",
                                     **exit_codes(EXIT_CODES))
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("mmn18", help="SGD beside the radial PDE for the setups of MMN18 §3; writes plots, CSV tables and README.md",
                       **exit_codes(EXIT_CODES))
    m.add_argument("--out", default="reports/mmn18", help="output folder (default: reports/mmn18)")
    m.add_argument("--seed", type=int, default=None, help="root seed (default: the fixed seed of the committed report)")
    m.add_argument("--only", default=None, choices=("gap",),
                   help="run one section alone: 'gap' (the early-time gap study of setup b, κ = 0.1) adds to the report in --out, "
                        "whose other files stay as they are")
    add_quiet(m)
    d = sub.add_parser("dimension", help="the rate fit of Theorem 1 across N, ε and d, with the radial PDE as reference",
                       **exit_codes(EXIT_CODES))
    d.add_argument("--out", default="reports/dimension", help="output folder (default: reports/dimension)")
    d.add_argument("--tier", default="full", choices=("fast", "full"), help="sweep size (default: full, a few minutes on 2 cores)")
    d.add_argument("--seed", type=int, default=None, help="root seed (default: the fixed seed of the committed report)")
    add_quiet(d)
    f = sub.add_parser("frameworks", help="the gate on PyTorch networks as users write them (correct variants and mutants); "
                                          "writes README.md and summary.json", **exit_codes(EXIT_CODES))
    f.add_argument("--out", default="reports/frameworks", help="output folder (default: reports/frameworks)")
    f.add_argument("--tier", default="smoke", choices=("smoke", "ci"),
                   help="gate tier (default: smoke, about two minutes per variant on one core)")
    f.add_argument("--seed", type=int, default=None, help="the experiment's seed (default: that of the default experiment)")
    f.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                   help="only these rows (reference_step and the names of mfcheck.frameworks.torch_variants; default: all)")
    f.add_argument("--workers", type=int, default=1, metavar="K",
                   help="run each gate's cells on K joblib processes (default 1: serial, which the committed reports use)")
    add_quiet(f)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check_path(args.out, "--out", FOLDER)
    except InvalidArgument as exc:
        print(f"mfcheck: error: {exc}", file=sys.stderr)
        return 2
    return _reproduce(args)


def _reproduce(args) -> int:
    if args.what == "mmn18":
        from mfcheck.app.reproduce.mmn18 import DEFAULT_SEED, reproduce_mmn18

        seed = DEFAULT_SEED if args.seed is None else args.seed
        tail = " --out " + str(args.out) + ("" if args.seed is None else f" --seed {seed}")
        command = "mfcheck reproduce mmn18" + tail
        try:
            s = reproduce_mmn18(args.out, seed=seed, command=command, gap_command="mfcheck reproduce mmn18 --only gap" + tail,
                                only=args.only, progress=not args.quiet)
        except InvalidArgument as exc:
            print(f"mfcheck: error: {exc}", file=sys.stderr)
            return 2
        if args.only is None:
            for name, v in s["setups"].items():
                print(f"{name}: settled risk SGD {v['risk_sgd_settled']:.4g}, PDE {v['risk_pde_settled']:.4g}; "
                      f"sup|R_N − R(ρ̄_t)| = {v['sup_abs_risk_difference']:.3g}")
        for c in s.get("gap", {}).get("cells", []):
            shift = "–" if c["shift"] is None else f"{c['shift']:.3g}"
            print(f"gap d={c['d']} N={c['N']} eps={c['eps']:g} {c['step']}: sup|R_N − R(ρ̄_t)| = {c['sup_gap']:.3g}, shift {shift}")
    elif args.what == "frameworks":
        from mfcheck.app.reproduce.frameworks import reproduce_frameworks
        from mfcheck.runtime.executors import Execution

        command = (f"mfcheck reproduce frameworks --tier {args.tier} --out {args.out}" + ("" if args.seed is None else f" --seed {args.seed}")
                   + ("" if args.variants is None else f" --variants {' '.join(args.variants)}")
                   + ("" if args.workers == 1 else f" --workers {args.workers}"))
        if args.workers < 1:
            print(f"mfcheck: error: `--workers` must be a positive integer, got {args.workers}.", file=sys.stderr)
            return 2
        try:
            s = reproduce_frameworks(args.out, tier=args.tier, seed=args.seed, command=command, progress=not args.quiet,
                                     names=args.variants, execution=None if args.workers == 1 else Execution("joblib", workers=args.workers),
                                     echo=None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)))
        except InvalidArgument as exc:
            print(f"mfcheck: error: {exc}", file=sys.stderr)
            return 2
        print(f"mutants caught: {', '.join(s['mutants_caught']) or 'none'}; missed: {', '.join(s['mutants_missed']) or 'none'}; "
              f"correct variants rejected: {', '.join(s['correct_rejected']) or 'none'}")
    else:
        from mfcheck.app.reproduce.dimension import DEFAULT_SEED, reproduce_dimension

        seed = DEFAULT_SEED if args.seed is None else args.seed
        command = f"mfcheck reproduce dimension --tier {args.tier} --out {args.out}" + ("" if args.seed is None else f" --seed {seed}")
        s = reproduce_dimension(args.out, tier=args.tier, seed=seed, command=command, progress=not args.quiet)
        for stat, fit in s["fits"].items():
            for path, e in fit["paths"].items():
                print(f"{stat}, {path}-path: exponent of D {e['exponent_D']['estimate']:.3f} {e['exponent_D']['ci']} "
                      f"(MMN18 shape: {e['predicted_D']['MMN18']:.3f}, MMM19 shape: {e['predicted_D']['MMM19']:.3f})")
    print(f"wrote {args.out}")
    return 0
