"""Entry points that combine or visualise runs: 3-stream ensemble, t-SNE, mining-precision plot, results table.

scripts/ensemble.py, tsne.py, plot_mining.py and results_table.py are thin wrappers around these mains.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from cpm.errors import CPMError
from cpm.cli.common import add_debug_argument
from cpm.cli.evaluate import add_common, guarded, setup

@guarded
def ensemble_main(argv=None) -> None:
    """3-stream ensemble (Table 1 '3S'): weighted sum of the test scores of joint, bone and motion runs.

    --fusion softmax (default): sum of softmax scores. --fusion logits: sum of classifier outputs, as AimCLR
    (ensemble_ntu_cs.py, --weights 0.6 0.6 0.4 for joint, bone, motion) and, with equal weights, CrosSCLR
    (net/crossclr_3views.py averages the streams' logits) do; the paper does not say which it used.
    """
    from cpm.eval.ensemble import ensemble_runs, is_member
    from cpm.eval.outputs import write_outputs
    from cpm.eval.records import make_record

    p = argparse.ArgumentParser(prog="cpm-ensemble", description=ensemble_main.__doc__)
    p.add_argument("runs", nargs="+", help="evaluation output folders with scores.npy + labels.npy")
    p.add_argument("--out", required=True, help="output folder of the ensemble")
    p.add_argument("--fusion", choices=("softmax", "logits"), default="softmax",
                   help="sum softmax scores (default) or classifier logits (CrosSCLR/AimCLR; linear_eval runs only)")
    p.add_argument("--weights", type=float, nargs="+", default=None, metavar="W",
                   help="one weight per run, in order (default: all 1; AimCLR: 0.6 0.6 0.4 for joint bone motion)")
    p.add_argument("--force", action="store_true", help="allow --out to be one of the member folders (overwrites it)")
    add_debug_argument(p)
    args = p.parse_args(argv)
    member = is_member(args.runs, args.out)
    if member is not None and not args.force:
        raise CPMError(f"--out {args.out}: is the ensemble member {member}; writing there would overwrite its "
                       f"scores and results; choose another --out (or pass --force)")
    res = ensemble_runs(args.runs, args.fusion, args.weights)
    report, stream, members = res["report"], res["stream"], res["members"]
    path = write_outputs(args.out, report, res["scores"], res["labels"],
                         make_record("ensemble", report, None, None, **res["fields"]), f"ensemble {stream}",
                         res["class_names"])
    each = ", ".join(f"{m['stream'] or m['run']} {m['top1']:.2f}%" for m in members if m["top1"] is not None)
    print(f"ensemble {stream} ({args.fusion}): top-1 {report['top1']:.2f}%  top-5 {report['top5']:.2f}%"
          f"{f'  (members: {each})' if each else ''} -> {path}")


@guarded
def tsne_main(argv=None) -> None:
    """t-SNE of test embeddings of 10 classes (Fig. 6), side by side for several checkpoints."""
    from cpm.data import build_dataset
    from cpm.data.classes import class_names_of
    from cpm.eval.plots import plot_tsne
    from cpm.eval.records import make_record, write_results
    from cpm.eval.tsne import check_tsne_args, tsne_panels

    p = argparse.ArgumentParser(prog="cpm-tsne", description=tsne_main.__doc__)
    add_common(p)
    p.add_argument("--compare", nargs="+", default=[], metavar="CHECKPOINT",
                   help="more checkpoints drawn beside --checkpoint (e.g. the w/o PM run)")
    p.add_argument("--title", nargs="+", default=None, help="one panel title per checkpoint")
    p.add_argument("--classes", type=int, default=10, help="number of classes drawn (paper: 10)")
    p.add_argument("--max-per-class", type=int, default=200, help="test clips per class at most")
    p.add_argument("--perplexity", type=float, default=30.0)
    args = p.parse_args(argv)
    ckpts = ([args.checkpoint] if args.checkpoint else []) + args.compare
    check_tsne_args(ckpts, args.title, args.classes, args.max_per_class)
    run = setup(args, "tsne", ckpts[0])
    test_set = build_dataset(run.cfg.data, "test")
    res = tsne_panels(run.cfg, test_set, ckpts, args.title, args.classes, args.max_per_class, args.perplexity,
                      run.seed, run.device, run.progress)
    png = plot_tsne(res["panels"], run.out / "tsne.png",
                    class_names=class_names_of(run.cfg.data, test_set.num_classes))
    write_results(run.out, make_record("tsne", {"panels": res["metrics"], "classes": res["classes"].tolist(),
                                                "num_points": res["num_points"]}, run.cfg, ckpts[0]))
    print(f"t-SNE of {res['num_points']} test clips of {len(res['classes'])} classes -> {png}")


def _run_label(run_dir: Path) -> tuple[str, int | None]:
    """Legend label and K of a pretraining run, from its config.yaml when present."""
    from cpm.config import config_from_dict
    from cpm.eval.records import VARIANT_TITLES, variant_of

    path = run_dir / "config.yaml"
    if not path.is_file():
        return run_dir.name, None
    cfg = config_from_dict(yaml.safe_load(path.read_text()) or {})
    label = VARIANT_TITLES[variant_of(cfg)]
    return f"{label} [{run_dir.name}]", cfg.eval.mining_k or cfg.loss.topk or None


@guarded
def plot_mining_main(argv=None) -> None:
    """Mining precision of the top-K positives per epoch (Fig. 3), several runs overlaid (w/ and w/o PM), and
    training_curves.png: kNN, mining precision, target mass on own stale copies, feature spread."""
    from cpm.eval.plots import mining_curve, plot_mining, plot_training_curves
    from cpm.eval.records import make_record, write_results

    p = argparse.ArgumentParser(prog="cpm-plot-mining", description=plot_mining_main.__doc__)
    p.add_argument("runs", nargs="+", help="pretraining run folders (holding metrics.jsonl)")
    p.add_argument("--label", nargs="+", default=None, help="one legend label per run")
    p.add_argument("--out", required=True, help="output folder (mining_precision.png, results.json)")
    add_debug_argument(p)
    args = p.parse_args(argv)
    if args.label is not None and len(args.label) != len(args.runs):
        raise CPMError(f"--label: {len(args.label)} labels given for {len(args.runs)} runs")
    curves, metrics, ks = [], {}, set()
    for i, run in enumerate(map(Path, args.runs)):
        label, k = _run_label(run if run.is_dir() else run.parent)
        label = args.label[i] if args.label else label
        ep, val = mining_curve(run)
        curves.append((label, ep, val))
        ks.add(k)
        metrics[label] = {"run": str(run), "final": float(val[-1]), "mean": float(np.mean(val)),
                          "epochs": ep.tolist(), "precision": val.round(3).tolist()}
    k = ks.pop() if len(ks) == 1 else None
    png = plot_mining(curves, Path(args.out) / "mining_precision.png", k=k)
    plot_training_curves(args.runs, Path(args.out) / "training_curves.png", [c[0] for c in curves])
    write_results(args.out, make_record("mining", metrics, None, None))
    print("mining precision (final epoch): " + ", ".join(f"{lab} {m['final']:.1f}%" for lab, m in metrics.items())
          + f" -> {png}")


@guarded
def results_table_main(argv=None) -> None:
    """Gather results.json files into markdown tables laid out like the paper's Tables 1-4."""
    from cpm.eval.records import load_results
    from cpm.eval.tables import results_table

    p = argparse.ArgumentParser(prog="cpm-results-table", description=results_table_main.__doc__)
    p.add_argument("paths", nargs="+", help="results.json files or folders searched recursively (e.g. runs/)")
    p.add_argument("--out", default=None, help="write the markdown here (default: print it)")
    add_debug_argument(p)
    args = p.parse_args(argv)
    records = load_results(args.paths)
    if not records:
        raise CPMError(f"no results.json found under {', '.join(args.paths)}")
    text = f"<!-- {len(records)} runs, generated {time.strftime('%Y-%m-%d %H:%M')} -->\n" + results_table(records)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"{len(records)} runs -> {args.out}")
    else:
        print(text)


@guarded
def plot_sweep_main(argv=None) -> None:
    """Linear accuracy against a pretraining hyper-parameter (Fig. 4: loss.topk, Fig. 5: loss.tau_target)."""
    from cpm.eval.plots import plot_sweep
    from cpm.eval.records import load_results, make_record, write_results
    from cpm.eval.tables import sweep_points

    p = argparse.ArgumentParser(prog="cpm-plot-sweep", description=plot_sweep_main.__doc__)
    p.add_argument("paths", nargs="+", help="results.json files or folders searched recursively")
    p.add_argument("--key", required=True, help="dotted pretraining config key on the x axis, e.g. loss.topk")
    p.add_argument("--protocol", default="linear", help="which evaluation runs to use (default: linear)")
    p.add_argument("--out", required=True, help="output folder (sweep.png, results.json)")
    add_debug_argument(p)
    args = p.parse_args(argv)
    points = sweep_points(load_results(args.paths), args.key, args.protocol)
    if not points:
        raise CPMError(f"no '{args.protocol}' results with a numeric '{args.key}' under {', '.join(args.paths)}")
    lines = [(bench, list(pts), list(pts.values())) for bench, pts in sorted(points.items())]
    png = plot_sweep(lines, Path(args.out) / "sweep.png", xlabel=args.key,
                     ylabel=f"{args.protocol} top-1 (%)", title=f"Effect of {args.key}")
    metrics = {bench: {str(x): v for x, v in sorted(pts.items())} for bench, pts in points.items()}
    write_results(args.out, make_record("sweep", metrics, None, None, key=args.key, member_protocol=args.protocol))
    for bench, pts in sorted(points.items()):
        print(f"{bench}: " + ", ".join(f"{args.key}={x:g} {v:.1f}%" for x, v in sorted(pts.items())))
    print(f"-> {png}")
