"""Pure statistics that tell a learning encoder from a collapsed one (logged by the trainer every epoch)."""
from __future__ import annotations

import torch

# below either, the trainer warns that the features are collapsing (a random-init ST-GCN in eval mode
# sits far below both; trained encoders that probe well sit far above, see docs/learning.md)
COLLAPSE_SPREAD, COLLAPSE_RANK = 0.02, 2.0


def feature_spread(f: torch.Tensor) -> float:
    """How much clips differ: mean_n ||f_n - mean f|| / mean_n ||f_n|| over the rows of `f` (N, D).

    0 when every clip maps to the same vector (collapse); ~1 when the features are centred noise."""
    f = f.double()
    return float((f - f.mean(dim=0)).norm(dim=1).mean() / f.norm(dim=1).mean().clamp(min=1e-12))


def effective_rank(f: torch.Tensor) -> float:
    """exp(entropy) of the normalised singular values of the centred features (Roy & Vetterli 2007, RankMe):
    1 when all clips lie on a line, up to min(N, D) when every direction is used equally."""
    f = f.double()
    s = torch.linalg.svdvals(f - f.mean(dim=0))
    if s.sum() <= 0:
        return 0.0
    p = s / s.sum()
    return float(torch.exp(-(p * torch.log(p.clamp(min=1e-300))).sum()))


def collapse_warning(spread: float, rank: float) -> str | None:
    """A one-line warning when the encoder's features look collapsed, else None."""
    if spread >= COLLAPSE_SPREAD and rank >= COLLAPSE_RANK:
        return None
    return (f"encoder features are collapsing: clips differ by {100 * spread:.2f} % of their norm, effective "
            f"rank {rank:.1f} (warned below {100 * COLLAPSE_SPREAD:.0f} % / {COLLAPSE_RANK:.0f}); check that the "
            f"input is centred (data.normalize), lower optim.lr, or use an EMA target (model.target_momentum)")
