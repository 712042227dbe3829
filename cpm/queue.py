"""The contextual queue Q = [a_1, ..., a_N] of target embeddings, first-in first-out (paper Sec. 3.1-3.2, MoCo)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cpm.errors import CPMError


def _gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` from all ranks in rank order; the identity outside torch.distributed."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return x
    world = torch.distributed.get_world_size()
    if world == 1:
        return x
    out = [torch.empty_like(x) for _ in range(world)]
    torch.distributed.all_gather(out, x.contiguous())
    return torch.cat(out)


class ContextQueue(nn.Module):
    """FIFO of `size` unit vectors of dimension `dim`, kept as persistent buffers so it resumes exactly.

    `labels` records the true class of each enqueued embedding (-1 = unknown) for monitoring the mining
    precision only (paper Fig. 3); nothing in the loss reads it. `ids` records which training sample each
    entry came from (-1 = unknown): the monitor measures how much of the target rests on a sample's own
    stale copies, and `loss.exclude_self` leaves them out.
    """

    def __init__(self, size: int, dim: int):
        super().__init__()
        if size < 1 or dim < 1:
            raise CPMError(f"ContextQueue: size and dim must be >= 1, got size={size}, dim={dim}")
        self.register_buffer("queue", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("labels", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ids", torch.full((size,), -1, dtype=torch.long))

    @property
    def size(self) -> int:
        return self.queue.shape[0]

    @torch.no_grad()
    def enqueue(self, emb: torch.Tensor, labels: torch.Tensor | None = None, ids: torch.Tensor | None = None) -> None:
        """Write l2-normalized `emb` (B, D) (gathered from all ranks) at the pointer, wrapping around."""
        if emb.dim() != 2 or emb.shape[1] != self.queue.shape[1]:
            raise CPMError(f"ContextQueue.enqueue: expected emb of shape (B, {self.queue.shape[1]}), "
                           f"got {tuple(emb.shape)}")
        emb = _gather(F.normalize(emb.detach().float(), dim=1))
        lab, sid = (torch.full((emb.shape[0],), -1, dtype=torch.long, device=emb.device) if v is None else
                    _gather(v.detach().to(device=emb.device, dtype=torch.long)) for v in (labels, ids))
        if emb.shape[0] > self.size:  # only the newest `size` survive a batch larger than the queue
            emb, lab, sid = emb[-self.size:], lab[-self.size:], sid[-self.size:]
        idx = (self.ptr + torch.arange(emb.shape[0], device=emb.device)) % self.size
        self.queue[idx] = emb.to(self.queue.dtype)
        self.labels[idx] = lab
        self.ids[idx] = sid
        self.ptr.copy_((self.ptr + emb.shape[0]) % self.size)
