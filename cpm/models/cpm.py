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

from cpm.losses import cpm_terms
from cpm.queue import ContextQueue


def mining_precision(positives: torch.Tensor, queue_labels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of mined queue entries (B, K) whose true label equals the sample's (Fig. 3); unknown (-1) ignored,
    nan when none is known. Stays on the device (no host sync in the training step)."""
    mined = queue_labels[positives]
    known = mined >= 0
    hits = ((mined == labels[:, None]) & known).sum()
    n = known.sum()
    return torch.where(n > 0, hits / n.clamp(min=1), torch.full((), math.nan, device=positives.device))


def self_mass(t_logits: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """Mean share of the target distribution D' (softmax of `t_logits`, B x N) on each row's own stale copies
    (`own`, B x N bool): near 1, the target says little more than "find yourself in the queue"."""
    return (t_logits.softmax(dim=1) * own).sum(dim=1).mean()


class CPM(nn.Module):
    """Siamese CPM. `forward(x1, x2, topk, labels, ids)` -> dict(loss, top1_sim, emb_std, mining_precision, pe,
    self_mass)."""

    def __init__(self, encoder: nn.Module, projector: nn.Module, predictor: nn.Module, queue: ContextQueue,
                 tau: float = 0.1, tau_target: float = 0.05, monitor_k: int = 100, symmetric: bool = True,
                 renormalize: bool = False, target_momentum: float = 0.0, exclude_self: bool = False,
                 center: bool = False, average: bool = False):
        super().__init__()
        self.encoder, self.projector, self.predictor, self.queue = encoder, projector, predictor, queue
        self.tau, self.tau_target, self.renormalize = tau, tau_target, renormalize
        self.monitor_k = min(monitor_k, queue.size)  # K of the mining precision logged in both stages (Fig. 3)
        self.symmetric, self.target_momentum = symmetric, target_momentum
        self.exclude_self, self.center = exclude_self, center
        if target_momentum > 0:  # optional EMA target (BYOL/MoCo); the paper shares weights (SimSiam)
            self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
            self.target_projector = copy.deepcopy(projector).requires_grad_(False)
        if average:  # the student encoder's weight average (model.average_last), read by evaluation only
            self.average_encoder = copy.deepcopy(encoder).requires_grad_(False)
            self.register_buffer("average_count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def _update_target(self, momentum: float | None = None) -> None:
        """theta' <- m theta' + (1 - m) theta over the parameters only (m = `momentum`, default the model's).
        The target's BN running statistics stay its own, updated by its own forward passes (MoCo's key encoder):
        its weights are not the student's, so the student's statistics would not fit them in eval mode. Training
        is unaffected (BN uses batch statistics)."""
        m = self.target_momentum if momentum is None else momentum
        pairs = [(self.target_encoder, self.encoder), (self.target_projector, self.projector)]
        for tgt, src in pairs:
            for pt, ps in zip(tgt.parameters(), src.parameters()):
                pt.mul_(m).add_(ps.detach(), alpha=1 - m)

    @torch.no_grad()
    def update_average(self, x: torch.Tensor, active: bool) -> None:
        """After an optimizer step: SWA's uniform average a_n = a_(n-1) + (theta - a_(n-1)) / n of the student
        encoder over the `active` steps; before the first one it is a copy of the student (weights and BN
        statistics), so every checkpoint holds a usable encoder. Its BN statistics come from a pass of the batch
        `x` under the averaged weights (SWA's update_bn, run as it goes), dropout off as at evaluation; no random
        numbers are drawn, so training is unchanged. No-op without `model.average_last`."""
        if not hasattr(self, "average_encoder"):
            return
        avg, src = self.average_encoder, self.encoder
        if not active:
            for a, s in zip(avg.state_dict().values(), src.state_dict().values()):
                a.copy_(s)
            self.average_count.zero_()
            return
        self.average_count += 1
        w = (1.0 / self.average_count).float()  # a tensor: no host sync
        for a, s in zip(avg.parameters(), src.parameters()):
            a.lerp_(s.detach(), w.to(a.dtype))
        for m in avg.modules():
            m.train(not isinstance(m, nn.Dropout))
        avg(x)

    def _centered(self, z: torch.Tensor) -> torch.Tensor:
        # Sec. 3.1: "z and z' are assumed to be mean-centered along the batch dimension" (model.center)
        return z - z.mean(dim=0, keepdim=True) if self.center and self.training else z

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Student projection z = g(f(x)) (batch-centred when `model.center`)."""
        return self._centered(self.projector(self.encoder(x)))

    def target(self, x: torch.Tensor, z_student: torch.Tensor) -> torch.Tensor:
        """Target projection z' of x under stop-gradient: the student's own z (shared weights, SimSiam) or the
        EMA branch's (`target_momentum` > 0)."""
        if self.target_momentum == 0:
            return z_student.detach()
        with torch.no_grad():
            return self._centered(self.target_projector(self.target_encoder(x)))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, topk: int = 0, labels: torch.Tensor | None = None,
                ids: torch.Tensor | None = None, momentum: float | None = None) -> dict[str, torch.Tensor]:
        """`labels` feed the mining-precision monitor only; `ids` (training-sample indices) the self-copy
        monitor and, with `exclude_self`, the loss; `momentum` this step's EMA momentum (the trainer's
        `model.target_momentum_schedule`; None = `target_momentum`)."""
        if self.target_momentum > 0 and self.training:
            self._update_target(momentum)
        z1, z2 = self.embed(x1), self.embed(x2)
        p1 = self.predictor(z1)
        p2 = self.predictor(z2) if self.symmetric else None
        return self.contrast(p1, p2, self.target(x1, z1), self.target(x2, z2), topk, labels, z1=z1, ids=ids)

    def contrast(self, p1: torch.Tensor, p2: torch.Tensor | None, t1: torch.Tensor, t2: torch.Tensor,
                 topk: int = 0, labels: torch.Tensor | None = None, z1: torch.Tensor | None = None,
                 ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss, mining, monitoring and enqueue from predictions p and targets t of both views (the part of
        `forward` after the heads; p2 is None when not symmetric; `z1` is the student embedding watched for
        collapse, default t1). Same dict as `forward`."""
        # the queue is written in place after the loss; the loss must keep the values it was computed with
        queue = self.queue.queue.clone()
        # both directions at once: rows [p1; p2] predict targets [t2; t1], one matmul per side (no loop)
        p = p1 if p2 is None else torch.cat([p1, p2])
        t = t2 if p2 is None else torch.cat([t2, t1])
        own = exclude = None
        if ids is not None:  # (B, N): queue entries that are earlier copies of the sample itself
            ids = ids.to(t.device)
            own = (self.queue.ids[None, :] == ids[:, None]) & (ids[:, None] >= 0)
            if self.exclude_self:  # rows [p1; p2] belong to the same samples
                exclude = own if p2 is None else torch.cat([own, own])
        terms = cpm_terms(p, t, queue, self.tau, self.tau_target, topk, self.renormalize, exclude)
        t_logits, positives = terms.t_logits, terms.positives
        out = {"loss": terms.loss.mean()}
        with torch.no_grad():
            b = t2.shape[0]
            out["top1_sim"] = t_logits[:b].max(dim=1).values.mean() * self.tau_target  # back to cosine
            emb = t1 if z1 is None else z1
            out["emb_std"] = F.normalize(emb.detach().float(), dim=1).std(dim=0).mean()  # collapse -> 0 (SimSiam)
            # torch.full launches a fill on the device; torch.tensor(value, device=cuda) would copy and sync
            out["pe"] = torch.full((), float(topk > 0), device=t_logits.device)
            out["mining_precision"] = torch.full((), math.nan, device=t_logits.device)
            out["self_mass"] = (torch.full((), math.nan, device=t_logits.device) if own is None
                                else self_mass(t_logits[:b], own))
            if labels is not None and self.monitor_k > 0:
                mined = positives[:b] if topk == self.monitor_k else t_logits[:b].topk(self.monitor_k, dim=1).indices
                out["mining_precision"] = mining_precision(mined, self.queue.labels, labels.to(t_logits.device))
            self.queue.enqueue(t2, labels, ids)  # one entry per instance: the target of the second view
        return out
