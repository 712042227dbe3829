"""Contrastive Positive Mining (paper Sec. 3, Fig. 2): a SimSiam-style siamese network with a contextual queue.

Both branches share the encoder f and projector g. The student adds the predictor p; the target output z' is
used under stop-gradient. The student learns to predict the target's similarity distribution over the
queue (Eq. 4, stage 1), then the positive-enhanced one (Eq. 8, stage 2, `topk` > 0). After the loss, the
target embeddings are enqueued (FIFO).
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from cpm.losses import cpm_loss_from_similarities, similarities
from cpm.queue import ContextQueue


def mining_precision(positives: torch.Tensor, queue_labels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of mined queue entries (B, K) whose true label equals the sample's (Fig. 3); unknown (-1) ignored."""
    mined = queue_labels[positives]
    known = mined >= 0
    hits = (mined == labels[:, None]) & known
    return hits.sum() / known.sum() if known.any() else torch.tensor(math.nan, device=positives.device)


class CPM(nn.Module):
    """Siamese CPM. `forward(x1, x2, topk, labels)` -> dict(loss, top1_sim, emb_std, mining_precision, pe)."""

    def __init__(self, encoder: nn.Module, projector: nn.Module, predictor: nn.Module, queue: ContextQueue,
                 tau: float = 0.1, tau_target: float = 0.05, monitor_k: int = 100, symmetric: bool = True,
                 renormalize: bool = False, target_momentum: float = 0.0):
        super().__init__()
        self.encoder, self.projector, self.predictor, self.queue = encoder, projector, predictor, queue
        self.tau, self.tau_target, self.renormalize = tau, tau_target, renormalize
        self.monitor_k = min(monitor_k, queue.size)  # K of the mining precision logged in both stages (Fig. 3)
        self.symmetric, self.target_momentum = symmetric, target_momentum
        if target_momentum > 0:  # optional EMA target (BYOL/MoCo); the paper shares weights (SimSiam)
            self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
            self.target_projector = copy.deepcopy(projector).requires_grad_(False)

    @torch.no_grad()
    def _update_target(self) -> None:
        m = self.target_momentum
        pairs = [(self.target_encoder, self.encoder), (self.target_projector, self.projector)]
        for tgt, src in pairs:
            for pt, ps in zip(tgt.parameters(), src.parameters()):
                pt.mul_(m).add_(ps.detach(), alpha=1 - m)
            for bt, bs in zip(tgt.buffers(), src.buffers()):
                bt.copy_(bs)

    def _target(self, x: torch.Tensor, z_student: torch.Tensor) -> torch.Tensor:
        if self.target_momentum == 0:
            return z_student.detach()
        with torch.no_grad():
            return self.target_projector(self.target_encoder(x))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, topk: int = 0,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if self.target_momentum > 0 and self.training:
            self._update_target()
        z1 = self.projector(self.encoder(x1))
        z2 = self.projector(self.encoder(x2))
        t1, t2 = self._target(x1, z1), self._target(x2, z2)
        # the queue is written in place after the loss; the loss must keep the values it was computed with
        queue = self.queue.queue.clone()
        pairs = [(self.predictor(z1), t2)] + ([(self.predictor(z2), t1)] if self.symmetric else [])
        losses, z_sims = [], []
        for p, t in pairs:
            z_sim = similarities(t, queue)
            positives = z_sim.topk(topk, dim=1).indices if topk > 0 else None
            losses.append(cpm_loss_from_similarities(similarities(p, queue), z_sim, self.tau, self.tau_target,
                                                     positives, self.renormalize).mean())
            z_sims.append(z_sim)
        out = {"loss": torch.stack(losses).mean()}
        with torch.no_grad():
            z_sim = z_sims[0]
            out["top1_sim"] = z_sim.max(dim=1).values.mean()
            out["emb_std"] = F.normalize(z1.detach().float(), dim=1).std(dim=0).mean()  # collapse -> 0 (SimSiam)
            out["pe"] = torch.tensor(float(topk > 0), device=z_sim.device)
            out["mining_precision"] = torch.tensor(math.nan, device=z_sim.device)
            if labels is not None and self.monitor_k > 0:
                mined = z_sim.topk(self.monitor_k, dim=1).indices
                out["mining_precision"] = mining_precision(mined, self.queue.labels, labels.to(z_sim.device))
            self.queue.enqueue(t2, labels)  # one entry per instance: the target of the second view
        return out
