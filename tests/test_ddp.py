"""DDP under torchrun-style env vars: 2 CPU processes (gloo) x batch B == 1 process x batch 2B.

On CPU there is no SyncBatchNorm (torch has no CPU kernel), so per-process batch statistics would make the
two runs differ for a reason that has nothing to do with the queue; the test therefore swaps BatchNorm for
identity in both runs. What remains is exactly what DDP must get right: the data shards of the
DistributedSampler, gradient averaging, and the all-gather that fills the queue from every rank.
"""
import os
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from cpm.errors import CPMError
from cpm.train import distributed, trainer
from cpm.runtime.checkpoint import load_checkpoint

B = 4  # per-rank batch


def _cfg():
    sys.path.insert(0, os.path.dirname(__file__))
    from test_trainer import tiny

    cfg = tiny(epochs=1)
    cfg.train.batch_size = 2 * B  # global batch
    cfg.data.synthetic.num_train = 24  # 3 steps of 2B
    cfg.data.augment.shear, cfg.data.augment.crop_pad_ratio = 0.0, 0  # no per-rank random views
    cfg.model.dropout = 0.0
    cfg.loss.queue_size, cfg.loss.pe_start_epoch = 32, 0  # stage 2: top-K over the gathered queue
    cfg.optim.lr, cfg.schedule.warmup_epochs = 0.1, 0
    cfg.train.device = "cpu"  # gloo on the CPU also on a GPU machine (two ranks on one GPU: NCCL refuses)
    return cfg


def _no_bn(cfg):
    model = _BUILD(cfg)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
    return model


_BUILD = trainer.build_model


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE="2")
    torch.set_num_threads(1)
    trainer.build_model = _no_bn
    trainer.pretrain(_cfg(), out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_ranks_fill_the_queue_like_one_rank_with_twice_the_batch(tmp_path, monkeypatch):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
    monkeypatch.setattr(trainer, "build_model", _no_bn)
    torch.set_num_threads(1)
    trainer.pretrain(_cfg(), tmp_path / "single")

    ddp = load_checkpoint(tmp_path / "ddp" / "last.pt")["model"]
    one = load_checkpoint(tmp_path / "single" / "last.pt")["model"]
    steps = 24 // (2 * B)
    assert int(ddp["queue.ptr"]) == int(one["queue.ptr"]) == steps * 2 * B
    # rank r takes samples r, r+2, ... of the shared permutation: in each gathered chunk of 2B rows, row i
    # is single-run row 2i (rank 0 part) or 2(i - B) + 1 (rank 1 part)
    order = [2 * i for i in range(B)] + [2 * i + 1 for i in range(B)]
    perm = torch.tensor([c * 2 * B + j for c in range(steps) for j in order])
    n = steps * 2 * B
    assert torch.equal(ddp["queue.labels"][:n], one["queue.labels"][perm])
    assert torch.allclose(ddp["queue.queue"][:n], one["queue.queue"][perm], atol=1e-5)
    assert torch.equal(ddp["queue.queue"][n:], one["queue.queue"][n:])  # untouched initial rows
    # gradient averaging over ranks == gradient of the 2B batch: the same weights after 3 updates
    for k, v in one.items():
        if v.is_floating_point() and not k.startswith("queue."):
            assert torch.allclose(ddp[k], v, rtol=1e-4, atol=1e-5), k
    # rank 0 alone wrote the run's files
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["config.yaml", "last.pt", "metrics.jsonl"]


def _record_teardown(monkeypatch) -> list[str]:
    from cpm.train import distributed

    calls: list[str] = []
    monkeypatch.setattr(distributed, "is_dist", lambda: True)
    monkeypatch.setattr(distributed.dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: calls.append("destroy"))
    return calls


def test_a_finished_run_waits_for_every_rank_before_leaving_the_group(monkeypatch):
    from cpm.train import distributed

    calls = _record_teardown(monkeypatch)
    distributed.cleanup(finished=True)
    assert calls == ["barrier", "destroy"]
    calls.clear()
    distributed.cleanup(finished=False)  # a failed rank must not wait on peers that may never arrive
    assert calls == ["destroy"]


def test_pretrain_leaves_without_waiting_when_the_run_fails(monkeypatch, tmp_path):
    sys.path.insert(0, os.path.dirname(__file__))
    from test_trainer import tiny

    seen: list[bool] = []
    monkeypatch.setattr(trainer.dist, "cleanup", lambda finished=True: seen.append(finished))
    trainer.pretrain(tiny(epochs=1), tmp_path / "ok")
    monkeypatch.setattr(trainer.Run, "train", lambda self, stop_after=None: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        trainer.pretrain(tiny(epochs=1), tmp_path / "bad")
    assert seen == [True, False]


def test_more_processes_than_gpus_is_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: pytest.fail("set_device before the check"))
    for rank in ("0", "1"):  # every rank stops before the rendezvous, rank 0 too
        for name, value in (("WORLD_SIZE", "2"), ("LOCAL_WORLD_SIZE", "2"), ("LOCAL_RANK", rank), ("RANK", rank)):
            monkeypatch.setenv(name, value)
        with pytest.raises(CPMError, match=r"^torchrun started 2 processes on this node but it has 1 CUDA "
                                           r"device\(s\): use --nproc_per_node 1 \(one process per GPU\), or "
                                           r"train.device=cpu$"):
            distributed.init_distributed("auto")
