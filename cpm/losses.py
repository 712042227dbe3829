"""CPM losses (paper Sec. 3.2-3.3), pure functions on tensors.

Notation: p = student prediction p(z), z = target projection z' (stop-gradient), queue Q = [a_1..a_N] of
unit rows. Everything is computed in log space in float32, so exp(1/tau') = exp(20) never overflows.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from cpm.errors import CPMError


def _check(p: torch.Tensor | None, z: torch.Tensor, queue: torch.Tensor, **scalars) -> None:
    if z.dim() != 2:
        raise CPMError(f"z: expected shape (B, D), got {tuple(z.shape)}")
    if queue.dim() != 2 or queue.shape[1] != z.shape[1]:
        raise CPMError(f"queue: expected shape (N, D={z.shape[1]}) matching z, got {tuple(queue.shape)}")
    if p is not None and p.shape != z.shape:
        raise CPMError(f"p: expected the shape of z {tuple(z.shape)}, got {tuple(p.shape)}")
    for name, value in scalars.items():
        if name in ("tau", "tau_target") and not value > 0:
            raise CPMError(f"{name}: expected a temperature > 0, got {value}")
        if name in ("k", "topk") and not 0 <= value <= queue.shape[0]:
            raise CPMError(f"{name}: expected 0 <= {name} <= N={queue.shape[0]} (queue size), got {value}")


def similarities(x: torch.Tensor, queue: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """(B, N) cosine similarities x_bar . a_i of the l2-normalized rows of x with the queue, times `scale`, in
    float32 even under autocast (the softmax over N entries at tau' = 0.05 needs the precision). The scale is
    applied to the (B, D) side: a temperature costs no pass over the (B, N) result."""
    with torch.autocast(x.device.type, enabled=False):
        x = F.normalize(x.float(), dim=1)
        return (x * scale if scale != 1.0 else x) @ queue.float().t()


def mine_positives(z: torch.Tensor, queue: torch.Tensor, k: int) -> torch.Tensor:
    """Eq. 5-6: indices (B, k) of the k queue entries most similar to the target embedding z (N_+)."""
    _check(None, z, queue, k=k)
    return similarities(z.detach(), queue).topk(k, dim=1).indices


def positive_enhanced_log_target(t_logits: torch.Tensor, idx: torch.Tensor, tau_target: float,
                                 renormalize: bool = False) -> torch.Tensor:
    """log D'_NP (Eq. 7) from target logits z_bar . a_i / tau' and the mined indices N_+.

    As written (renormalize=False): log d^e_i = 1/tau' - logsumexp_j(z_bar . a_j / tau') for i in N_+, the
    others keep log d'_i; the denominator is not changed, so D'_NP sums to more than 1.
    renormalize=True reads Eq. 7 as "set the mined logits to 1/tau', then softmax" (a proper distribution).
    """
    if renormalize:
        return t_logits.scatter(1, idx, 1.0 / tau_target).log_softmax(dim=1)
    lse = t_logits.logsumexp(dim=1, keepdim=True)
    return (t_logits - lse).scatter_(1, idx, (1.0 / tau_target - lse).expand(idx.shape))


def kl_to_target(log_d: torch.Tensor, log_t: torch.Tensor) -> torch.Tensor:
    """(B,) sum_i t_i (log t_i - log d_i) = H(T, D) - H(T): Eq. 4 for T = D', Eq. 8 for T = D'_NP."""
    return (log_t.exp() * (log_t - log_d)).sum(dim=1)


def log_target(t_logits: torch.Tensor, tau_target: float, positives: torch.Tensor | None = None,
               renormalize: bool = False) -> torch.Tensor:
    """log D' (Eq. 2) from target logits z_bar . a_i / tau', or log D'_NP (Eq. 7) given mined `positives`."""
    with torch.no_grad():  # the target is under stop-gradient: nothing to record
        if positives is None:
            return t_logits.log_softmax(dim=1)
        return positive_enhanced_log_target(t_logits, positives, tau_target, renormalize)


class CPMTerms(NamedTuple):
    """What one evaluation of the objective yields: per-row loss (B,), target logits z_bar . a_i / tau' (B, N)
    and the mined positives N_+ (B, K) or None in stage 1 (the model logs from the last two)."""
    loss: torch.Tensor
    t_logits: torch.Tensor
    positives: torch.Tensor | None


# logit of a queue entry left out (`exclude`): exp() underflows to exactly 0, and unlike -inf it keeps
# 0 * log-ratio finite in the KL sum
EXCLUDED = -1e4


def cpm_terms(p: torch.Tensor, z: torch.Tensor, queue: torch.Tensor, tau: float = 0.1, tau_target: float = 0.05,
              topk: int = 0, renormalize: bool = False, exclude: torch.Tensor | None = None) -> CPMTerms:
    """The CPM objective per row, with what it was computed from; `cpm_loss` is its batch mean.

    topk == 0: Eq. 4, KL(D' || D) = H(D', D) - H(D'), with D from Eq. 1 (student p, tau) and D' from
    Eq. 2 (target z, tau'). topk = K > 0: Eq. 8, H(D'_NP, D) - H(D'_NP) with the positive-enhanced target
    of Eq. 7 built from the K mined positives of Eq. 5-6. Gradients reach p only: z is detached.
    `exclude` (B, N) bool marks queue entries left out of D, D' and the mining (a row's own stale copies,
    `loss.exclude_self`); None = the paper's queue as it is.
    """
    _check(p, z, queue, tau=tau, tau_target=tau_target, topk=topk)
    with torch.no_grad():
        t_logits = similarities(z, queue, 1.0 / tau_target)
        if exclude is not None:
            t_logits = t_logits.masked_fill(exclude, EXCLUDED)
        positives = t_logits.topk(topk, dim=1).indices if topk > 0 else None  # same ranking as Eq. 5's z_bar . a_i
    p_logits = similarities(p, queue, 1.0 / tau)
    if exclude is not None:
        p_logits = p_logits.masked_fill(exclude, EXCLUDED)
    loss = kl_to_target(p_logits.log_softmax(dim=1), log_target(t_logits, tau_target, positives, renormalize))
    return CPMTerms(loss, t_logits, positives)


def cpm_loss(p: torch.Tensor, z: torch.Tensor, queue: torch.Tensor, tau: float = 0.1,
             tau_target: float = 0.05, topk: int = 0, renormalize: bool = False) -> torch.Tensor:
    """The CPM objective (Eq. 4, or Eq. 8 when topk > 0), mean over the batch; see `cpm_terms`."""
    return cpm_terms(p, z, queue, tau, tau_target, topk, renormalize).loss.mean()
