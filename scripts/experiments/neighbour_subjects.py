#!/usr/bin/env python
"""Who are a clip's nearest neighbours: the same performer or the same action? (issue 16's stage-2 question)

    python scripts/experiments/neighbour_subjects.py --config configs/msr_action3d_val.yaml \
        [--checkpoint runs/.../last.pt] [--k 5] [--subject-regex 's(\\d+)']

For the training split of --config (loaded as the trainer loads it, not augmented), prints the share of each
clip's k nearest neighbours (itself excluded) that share its performer and its label, with chance levels, in
the input space (flattened clips, Euclidean), with each clip's mean pose removed (what is left is movement),
and in the encoder's feature space (cosine; random init, seeded, unless --checkpoint). The performer is read
from the clip names with --subject-regex (MSR Action3D `aAA_sSS_eEE`: 's(\\d+)'; NTU `SsssCcccPppp...`:
'P(\\d+)'). A relational objective mines exactly these neighbours: when most of them are the same performer
doing another action, the structure it learns is the performer's.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cpm.cli.common import add_debug_argument, add_set_argument, run_guarded  # noqa: E402
from cpm.config import load_config  # noqa: E402
from cpm.data.dataset import build_dataset  # noqa: E402
from cpm.errors import CPMError  # noqa: E402
from cpm.eval.protocols import load_eval_encoder  # noqa: E402
from cpm.runtime.features import extract_features  # noqa: E402


def neighbour_shares(dist: torch.Tensor, groups: dict[str, torch.Tensor], k: int) -> dict[str, float]:
    """Share of each row's k nearest columns (smallest `dist`, the diagonal excluded) in the row's own group,
    for every grouping in `groups` (name -> (N,) ids)."""
    d = dist.clone()
    d.fill_diagonal_(float("inf"))
    idx = d.topk(k, dim=1, largest=False).indices
    return {name: (g[idx] == g[:, None]).float().mean().item() for name, g in groups.items()}


def chance(g: torch.Tensor) -> float:
    """Share of same-group pairs among all ordered pairs of distinct items."""
    counts = torch.bincount(g).double()
    return float((counts * (counts - 1)).sum() / (len(g) * (len(g) - 1)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--checkpoint", default=None, help="pretrained checkpoint (default: random init)")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--subject-regex", default=r"s(\d+)", help="group 1 = performer id, searched in clip names")
    p.add_argument("--seed", type=int, default=0, help="random-init seed")
    add_set_argument(p, "data.validation=true")
    add_debug_argument(p)
    args = p.parse_args(argv)
    return run_guarded(lambda: report(args), argv)


def report(args) -> int:
    """Load the training clips and print the three spaces' neighbour shares."""
    try:
        pattern = re.compile(args.subject_regex)
    except re.error as err:
        raise CPMError(f"--subject-regex {args.subject_regex!r}: not a regular expression ({err})") from None
    torch.set_num_threads(1)
    cfg = load_config(args.config, ["logging.progress=false", *args.overrides])
    data = build_dataset(cfg.data, "train")
    if data.names is None:
        raise CPMError(f"data.format={cfg.data.format}: the clips carry no names, so no performer ids")
    if not 1 <= args.k < len(data):
        raise CPMError(f"--k: expected 1 <= k < {len(data)} (the training clips), got {args.k}")
    found = [pattern.search(n) for n in data.names]
    if not all(found):
        raise CPMError(f"--subject-regex {args.subject_regex!r} does not match clip name "
                       f"{data.names[found.index(None)]!r} (group 1 must be the performer id)")
    groups = {"performer": torch.tensor([int(m.group(1)) for m in found]), "label": torch.as_tensor(data.labels)}
    x = torch.stack([data[i][0] for i in range(len(data))])  # (N, C, T, V, M)
    moving = (x - x.mean(dim=2, keepdim=True)).flatten(1)  # valid frames fill T after resizing
    ev = load_eval_encoder(cfg, args.checkpoint, args.checkpoint is None, args.seed)
    feats, _ = extract_features(ev.encoder, data, ev.stream, device=torch.device("cpu"),
                                batch_size=cfg.eval.batch_size, progress=False)
    f = F.normalize(feats, dim=1)
    spaces = {"input (centred clips)": torch.cdist(x.flatten(1), x.flatten(1)),
              "input minus each clip's mean pose": torch.cdist(moving, moving),
              f"encoder ({'checkpoint' if args.checkpoint else 'random init'})": 1 - f @ f.t()}
    print(f"{len(data)} training clips, {len(groups['performer'].unique())} performers; share of the {args.k} "
          f"nearest neighbours with the same performer (chance {chance(groups['performer']):.3f}) / label "
          f"(chance {chance(groups['label']):.3f})")
    for name, dist in spaces.items():
        s = neighbour_shares(dist, groups, args.k)
        print(f"  {name:40s} performer {s['performer']:.3f}  label {s['label']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
