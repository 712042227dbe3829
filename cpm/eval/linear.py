"""Linear evaluation (paper Sec. 4.2): a linear classifier on a frozen encoder, trained supervisedly.

Lineage defaults (CrosSCLR/AimCLR, all in `cfg.eval`): SGD lr 3.0, momentum 0.9, no weight decay, 100
epochs, lr / 10 at epoch 80, no augmentation. Because the encoder is frozen (eval mode: BN statistics and
dropout off) and the inputs are not augmented, the features of every clip are the same at every epoch, so
they are computed once and the classifier trains on the cached features on the device (`train_linear`).
`train_linear_uncached` re-encodes every batch each epoch (the classic slow path) and visits the same
batches in the same order, so both paths give the same classifier up to float rounding.

The test split is scored every `eval.linear_test_every` epochs and at the last (`EpochTests`); the report holds
both the last and the best tested epoch, labelled, and `top1` is the one `eval.report` names (the lineage's
processor keeps the best: CrosSCLR/AimCLR `show_best`, with `eval_interval: 5`). Scoring the test split does
not touch the classifier or any random stream, so the last-epoch result is the same as without it.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from cpm.errors import CPMError
from cpm.eval.features import num_classes_of, snapshot_state
from cpm.eval.logistic import fit_logistic
from cpm.eval.metrics import classification_report
from cpm.runtime.features import dataset_layout, encode_batch, extract_features, make_loader


def check_schedule(epochs: int, lr: float, batch_size: int, milestones, prefix: str) -> None:
    """One-line errors for an unusable optimisation schedule in `cfg.eval`."""
    if epochs < 1:
        raise CPMError(f"config key 'eval.{prefix}_epochs': must be >= 1, got {epochs}")
    if not lr > 0:
        raise CPMError(f"config key 'eval.{prefix}_lr': must be > 0, got {lr}")
    if batch_size < 1:
        raise CPMError(f"config key 'eval.batch_size': must be >= 1, got {batch_size}")
    if any(not isinstance(m, int) or m < 1 for m in milestones):
        raise CPMError(f"config key 'eval.{prefix}_milestones': expected positive epoch numbers, got {milestones}")


def new_classifier(in_dim: int, num_classes: int, seed: int) -> nn.Linear:
    """fc layer initialised N(0, 0.01), bias 0 (MoCo/AimCLR linear eval), from its own seeded generator."""
    fc = nn.Linear(in_dim, num_classes)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=g) * 0.01)
        fc.bias.zero_()
    return fc


def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """Shuffled sample order of one epoch (CPU int64), drawn from the run's own generator."""
    return torch.randperm(n, generator=generator)


def _optimizer(params, ecfg):
    opt = torch.optim.SGD(params, lr=ecfg.linear_lr, momentum=ecfg.linear_momentum,
                          weight_decay=ecfg.linear_weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(ecfg.linear_milestones), gamma=0.1)


def _train_loop(fc: nn.Linear, n: int, batches, ecfg, seed: int, progress: bool, desc: str, on_epoch=None) -> list:
    """Shared epoch loop: batches(order) yields (features, labels) on the device. Returns the history;
    `on_epoch(epoch, fc)` (1-based epoch) may add entries to each epoch's record."""
    check_schedule(ecfg.linear_epochs, ecfg.linear_lr, ecfg.batch_size, ecfg.linear_milestones, "linear")
    opt, sched = _optimizer(fc.parameters(), ecfg)
    gen = torch.Generator().manual_seed(seed)
    history = []
    steps = -(-n // ecfg.batch_size)
    bar = tqdm(total=ecfg.linear_epochs * steps, desc=desc, disable=not progress, dynamic_ncols=True)
    for epoch in range(ecfg.linear_epochs):
        order = epoch_order(n, gen)
        loss_sum = torch.zeros((), device=fc.weight.device)
        correct = torch.zeros((), device=fc.weight.device)
        for feats, labels in batches(order):
            logits = fc(feats)
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * labels.numel()
            correct += (logits.detach().argmax(dim=1) == labels).sum()
            bar.update(1)
        sched.step()
        rec = {"epoch": epoch + 1, "loss": loss_sum.item() / n, "train_top1": 100.0 * correct.item() / n}
        if on_epoch is not None:
            rec.update(on_epoch(epoch + 1, fc))
        history.append(rec)
        bar.set_postfix(epoch=epoch + 1, loss=f"{rec['loss']:.4f}", acc=f"{rec['train_top1']:.1f}")
    bar.close()
    return history


def train_linear(feats: torch.Tensor, labels: torch.Tensor, num_classes: int, ecfg, seed: int = 0,
                 progress: bool = True, on_epoch=None) -> tuple[nn.Linear, list]:
    """Train a linear classifier on cached features (N, D) with labels (N,), on their device (`on_epoch`: see
    `_train_loop`)."""
    if feats.ndim != 2 or labels.shape != (feats.shape[0],):
        raise CPMError(f"train_linear: expected features (N, D) and labels (N,), got {tuple(feats.shape)} "
                       f"and {tuple(labels.shape)}")
    fc = new_classifier(feats.shape[1], num_classes, seed).to(feats.device)
    labels = labels.to(feats.device)

    def batches(order):
        order = order.to(feats.device)
        for start in range(0, order.numel(), ecfg.batch_size):
            idx = order[start:start + ecfg.batch_size]
            yield feats[idx], labels[idx]

    return fc, _train_loop(fc, feats.shape[0], batches, ecfg, seed, progress, "linear (cached)", on_epoch)


def train_linear_uncached(encoder: nn.Module, dataset, stream: str, num_classes: int, ecfg,
                          device: torch.device, seed: int = 0, num_workers: int = 0,
                          progress: bool = True, on_epoch=None) -> tuple[nn.Linear, list]:
    """The slow path: every epoch re-reads and re-encodes each batch (same batches as `train_linear`)."""
    encoder.to(device).eval()
    fc = new_classifier(encoder.hidden_dim, num_classes, seed).to(device)

    layout = dataset_layout(dataset)

    def batches(order):
        for x, y in make_loader(dataset, ecfg.batch_size, num_workers, device, sampler=order.tolist()):
            yield encode_batch(encoder, x, stream, layout, device), y.to(device)

    return fc, _train_loop(fc, len(dataset), batches, ecfg, seed, progress, "linear (no cache)", on_epoch)


def standardize(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Z-score every feature with the training split's mean and std (MAE's BatchNorm-without-affine probe):
    the lineage probe (SGD lr 3.0 on raw features) diverges or sits at chance when features are tiny or
    barely vary between clips (random init, near-collapse), which says nothing about what they separate."""
    mu, sd = train.mean(dim=0), train.std(dim=0).clamp(min=1e-6)
    return [(f - mu) / sd for f in (train, *others)]


def standardized_top1(ftr: torch.Tensor, ytr: torch.Tensor, fte: torch.Tensor, yte: torch.Tensor,
                      num_classes: int, ecfg, seed: int = 0, progress: bool = False) -> float:
    """Top-1 % on (fte, yte) of the linear probe on z-scored features (`standardize`) with L2
    `ecfg.standardized_weight_decay`: `ecfg.standardized_solver` sgd = `train_linear`'s last epoch at
    `ecfg.standardized_lr` (0 = `ecfg.linear_lr`); lbfgs = `fit_logistic`, the same objective's optimum (no seed)."""
    ztr, zte = standardize(ftr, fte)
    if ecfg.standardized_solver == "lbfgs":
        fc = fit_logistic(ztr, ytr, num_classes, ecfg.standardized_weight_decay)
    else:
        sgd = dataclasses.replace(ecfg, linear_lr=ecfg.standardized_lr or ecfg.linear_lr,
                                  linear_weight_decay=ecfg.standardized_weight_decay)
        fc, _ = train_linear(ztr, ytr, num_classes, sgd, seed, progress)
    return classification_report(class_scores(fc, zte), yte.cpu())["top1"]


@torch.no_grad()
def class_logits(fc: nn.Module, feats: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Classifier outputs (N, C) on the CPU (what CrosSCLR/AimCLR ensembles fuse)."""
    return torch.cat([fc(feats[i:i + batch_size]).float().cpu() for i in range(0, feats.shape[0], batch_size)])


def class_scores(fc: nn.Module, feats: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Softmax class scores (N, C) on the CPU (what the default 3-stream ensemble sums)."""
    return F.softmax(class_logits(fc, feats, batch_size), dim=1)


class EpochTests:
    """`on_epoch` hook of the probe: test logits every `every` epochs and at `last`; keeps the last and the best
    tested epoch (ties go to the later epoch, as the lineage's `best_result <= accuracy`)."""

    def __init__(self, feats: torch.Tensor, labels: torch.Tensor, every: int, last: int):
        self.feats, self.labels, self.every, self.final = feats, labels.cpu(), every, last
        self.last: dict | None = None
        self.best: dict | None = None

    def __call__(self, epoch: int, fc: nn.Module) -> dict:
        if epoch % self.every and epoch != self.final:
            return {}
        logits = class_logits(fc, self.feats)
        top1 = 100.0 * (logits.argmax(dim=1) == self.labels).float().mean().item()
        self.last = {"epoch": epoch, "top1": top1, "logits": logits}
        if self.best is None or top1 >= self.best["top1"]:
            self.best = self.last
        return {"test_top1": top1}


def verify_frozen(encoder: nn.Module, reference: dict, source: str) -> None:
    """Raise unless every parameter and buffer (BN running stats included) equals `reference` bit for bit."""
    now = snapshot_state(encoder)
    missing = sorted(set(reference) ^ set(now))
    changed = sorted(k for k in set(reference) & set(now)
                     if reference[k].shape != now[k].shape or not torch.equal(reference[k], now[k]))
    if missing or changed:
        raise CPMError(f"frozen encoder changed during evaluation (compared with {source}): "
                       f"{len(changed)} tensors differ, e.g. {(changed or missing)[:4]}; the encoder must stay "
                       f"in eval mode with requires_grad=False")


def linear_eval(ev, train_set, test_set, ecfg, device: torch.device, seed: int = 0, cache: bool = True,
                num_workers: int = 0, progress: bool = True) -> dict:
    """Full protocol on an `EvalEncoder`: train the probe, score the test split, check the encoder is intact.

    Returns the classification report (top1, top5, per_class, confusion) of the epoch `ecfg.report` names
    (`reported`), `last` and `best` ({epoch, top1, top5} of the last and the best tested epoch), `scores`
    (N_test, C) softmax and `logits` of the reported epoch, `labels` (N_test,), `history` (per-epoch loss and
    accuracy, `test_top1` at tested epochs) and `num_classes`.
    With `ecfg.linear_standardize` and cached features a second probe on z-scored features (`standardize`, its
    last epoch) adds `top1_standardized`; the report stays the lineage's.
    """
    encoder = ev.encoder.to(device).eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    num_classes = num_classes_of(train_set, test_set)
    kw = dict(device=device, batch_size=ecfg.batch_size, num_workers=num_workers, progress=progress)
    fte, yte = extract_features(encoder, test_set, ev.stream, desc="test features", **kw)
    tests = EpochTests(fte, yte, ecfg.linear_test_every, ecfg.linear_epochs)
    if cache:
        ftr, ytr = extract_features(encoder, train_set, ev.stream, desc="train features", **kw)
        _, history = train_linear(ftr, ytr, num_classes, ecfg, seed, progress, on_epoch=tests)
    else:
        _, history = train_linear_uncached(encoder, train_set, ev.stream, num_classes, ecfg, device, seed,
                                           num_workers, progress, on_epoch=tests)
    verify_frozen(encoder, ev.reference, ev.source)
    labels = yte.cpu()
    summary = {k: {"epoch": t["epoch"], "top1": t["top1"], "top5": classification_report(t["logits"], labels)["top5"]}
               for k, t in (("last", tests.last), ("best", tests.best))}
    chosen = tests.best if ecfg.report == "best" else tests.last
    report = classification_report(chosen["logits"], labels)
    extra = {}
    if ecfg.linear_standardize and cache:
        extra["top1_standardized"] = standardized_top1(ftr, ytr, fte, yte, num_classes, ecfg, seed, progress)
    return {**report, **extra, "reported": ecfg.report, **summary, "scores": F.softmax(chosen["logits"], dim=1),
            "logits": chosen["logits"], "labels": labels, "history": history, "num_classes": num_classes,
            "num_train": len(train_set)}
