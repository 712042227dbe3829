"""Value checks of a `Config` that single types cannot express: ranges, enumerations, cross-key rules."""
from __future__ import annotations

import re
import typing

from cpm.config.schema import MSR_TRAIN_SUBJECTS
from cpm.errors import CPMError
from cpm.graph import LAYOUT_NAMES, layout_of


def raise_all(problems: list) -> None:
    """One CPMError carrying every problem found (a person fixes them in one pass, not one per run)."""
    if len(problems) == 1:
        raise CPMError(problems[0])
    if problems:
        raise CPMError(f"{len(problems)} config problems: " + "; ".join(problems))


DEVICE_RE = re.compile(r"auto|cpu|cuda(:\d+)?")


class _Problems(list):
    """`check(cond, key, msg)` records a problem instead of raising, so `validate` reports all at once."""

    def __call__(self, cond: bool, key: str, msg: str) -> bool:
        if not cond:
            self.append(f"config key '{key}': {msg}")
        return bool(cond)


def allowed_values(section, key: str) -> tuple:
    """The values the `Literal[...]` annotation of `key` in a config section's dataclass allows (schema.py)."""
    return typing.get_args(typing.get_type_hints(type(section))[key])


def _one_of(check: _Problems, section, key: str, where: str) -> bool:
    """Record a problem unless `section.key` is one of its allowed values; True when it is."""
    allowed, value = allowed_values(section, key), getattr(section, key)
    return check(value in allowed, f"{where}.{key}", f"expected {'|'.join(allowed)}, got '{value}'")


def validate(cfg) -> None:
    """Value checks that single types cannot express: every range and cross-key rule is checked and all
    problems are raised together (one line, each naming its key)."""
    d, m, lo, o, t, e = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train, cfg.eval
    _check = _Problems()
    _one_of(_check, d, "format", "data")
    _one_of(_check, d, "stream", "data")
    _check(d.layout in LAYOUT_NAMES, "data.layout", f"expected {'|'.join(LAYOUT_NAMES)}, got '{d.layout}'")
    _one_of(_check, d, "channels", "data")
    _check(m.in_channels == len(d.channels), "model.in_channels",
           f"{m.in_channels}, but data.channels='{d.channels}' feeds {len(d.channels)} per joint; "
           f"set model.in_channels={len(d.channels)}")
    _check(all(isinstance(n, str) and n.strip() for n in d.class_names), "data.class_names",
           "expected a list of non-empty strings (entry i names label i)")
    _check(not (d.class_names and d.class_names_file), "data.class_names",
           "data.class_names and data.class_names_file are both set; keep one")
    _check(d.normalize in (True, False, "auto"), "data.normalize", f"expected true|false|auto, got {d.normalize!r}")
    _one_of(_check, d, "normalize_center", "data")
    _one_of(_check, d, "normalize_rotation", "data")
    _check(d.num_frames >= 4, "data.num_frames", f"must be >= 4, got {d.num_frames}")
    vs = d.validation_subjects
    subjects = ", ".join(map(str, MSR_TRAIN_SUBJECTS))
    if _check(isinstance(vs, list) and all(type(s) is int and s in MSR_TRAIN_SUBJECTS for s in vs)
              and len(set(vs)) == len(vs) < len(MSR_TRAIN_SUBJECTS), "data.validation_subjects",
              f"expected distinct MSR Action3D training subjects from {subjects} (not all five), got {vs!r}") and vs:
        _check(d.format == "msr_action3d" and d.validation, "data.validation_subjects",
               f"{vs} needs data.format=msr_action3d and data.validation=true "
               f"(got format '{d.format}', validation {d.validation})")
    _check(d.max_persons >= 1, "data.max_persons", f"must be >= 1, got {d.max_persons}")
    _check(d.num_classes >= 0, "data.num_classes", f"must be >= 0 (0 = from the data), got {d.num_classes}")
    _check(d.num_workers >= 0, "data.num_workers", f"must be >= 0 (0 = load in the main process), got {d.num_workers}")
    a = d.augment
    for key in ("shear", "rotation", "noise_std", "posture_jitter"):
        _check(getattr(a, key) >= 0, f"data.augment.{key}", f"must be >= 0 (0 = off), got {getattr(a, key)}")
    _check(a.crop_pad_ratio >= 0, "data.augment.crop_pad_ratio", f"must be >= 0 (0 = off), got {a.crop_pad_ratio}")
    _check(0 <= a.joint_mask_prob < 1, "data.augment.joint_mask_prob", f"must be in [0, 1), got {a.joint_mask_prob}")
    _check(0 <= a.crop_resize_min <= 1, "data.augment.crop_resize_min", f"must be in [0, 1], got {a.crop_resize_min}")
    _check(0 <= a.scale < 1, "data.augment.scale", f"must be in [0, 1) (factors in [1 - s, 1 + s]), got {a.scale}")
    _check(0 <= a.motion_scale < 1, "data.augment.motion_scale",
           f"must be in [0, 1) (factors in [1 - s, 1 + s]), got {a.motion_scale}")
    _check(m.in_channels >= 1, "model.in_channels", f"must be >= 1, got {m.in_channels}")
    for key in ("hidden_channels", "hidden_dim", "proj_hidden", "proj_dim", "pred_hidden"):
        _check(getattr(m, key) >= 1, f"model.{key}", f"must be >= 1, got {getattr(m, key)}")
    _check(m.temporal_kernel >= 1 and m.temporal_kernel % 2 == 1, "model.temporal_kernel",
           f"must be an odd number >= 1 (same-length padding), got {m.temporal_kernel}")
    for key in ("data_bn", "init", "graph_strategy"):
        _one_of(_check, m, key, "model")
    _check(0.0 <= m.dropout < 1.0, "model.dropout", f"must be in [0, 1), got {m.dropout}")
    momentum_ok = _check(0.0 <= m.target_momentum < 1.0, "model.target_momentum",
                         f"must be in [0, 1), got {m.target_momentum}")
    if momentum_ok and _one_of(_check, m, "target_momentum_schedule", "model"):
        _check(m.target_momentum_schedule == "constant" or m.target_momentum > 0, "model.target_momentum_schedule",
               f"'{m.target_momentum_schedule}' raises the EMA target's momentum to 1, which needs "
               f"model.target_momentum > 0 (got 0: the target shares the student's weights)")
    average_ok = _check(0.0 <= m.average_last <= 1.0, "model.average_last",
                        f"must be in [0, 1] (a share of train.epochs; 0 = off), got {m.average_last}")
    if momentum_ok and average_ok and _one_of(_check, e, "encoder", "eval"):
        _check(e.encoder != "target" or m.target_momentum > 0, "eval.encoder",
               "'target' reads the EMA target branch, which needs model.target_momentum > 0 (got 0: the target "
               "shares the student's weights; use 'student')")
        _check(e.encoder != "average" or m.average_last > 0, "eval.encoder",
               "'average' reads the student's weight average, which needs model.average_last > 0 (got 0: no "
               "average is kept; use 'student')")
    _check(lo.tau > 0, "loss.tau", f"must be > 0, got {lo.tau}")
    _check(lo.tau_target > 0, "loss.tau_target", f"must be > 0, got {lo.tau_target}")
    # a rule that compares with another key is checked only once that key is valid, so it never takes the blame
    if _check(lo.queue_size >= 1, "loss.queue_size", f"must be >= 1, got {lo.queue_size}"):
        _check(0 <= lo.topk <= lo.queue_size, "loss.topk",
               f"must be in [0, loss.queue_size={lo.queue_size}], got {lo.topk}")
    _one_of(_check, o, "name", "optim")
    if _check(o.lr > 0, "optim.lr", f"must be > 0, got {o.lr}"):
        _check(0 <= o.final_lr <= o.lr, "optim.final_lr",
               f"must be in [0, optim.lr={o.lr}] (the cosine decays from lr down to it), got {o.final_lr}")
    _check(0 <= o.momentum < 1, "optim.momentum", f"must be in [0, 1), got {o.momentum}")
    _check(o.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    _check(o.trust_coefficient > 0, "optim.trust_coefficient", f"must be > 0, got {o.trust_coefficient}")
    if _check(t.epochs >= 1, "train.epochs", f"must be >= 1, got {t.epochs}"):
        _check(0 <= lo.pe_start_epoch <= t.epochs, "loss.pe_start_epoch",
               f"must be in [0, train.epochs={t.epochs}], got {lo.pe_start_epoch}")
        _check(0 <= cfg.schedule.warmup_epochs <= t.epochs, "schedule.warmup_epochs",
               f"must be in [0, train.epochs={t.epochs}], got {cfg.schedule.warmup_epochs}")
    _check(t.batch_size >= 2, "train.batch_size", f"must be >= 2 (BatchNorm), got {t.batch_size}")
    _check(bool(DEVICE_RE.fullmatch(t.device)), "train.device", f"expected auto|cpu|cuda|cuda:N, got '{t.device}'")
    _one_of(_check, t, "amp", "train")
    _check(t.save_every >= 1, "train.save_every", f"must be >= 1, got {t.save_every}")
    _one_of(_check, e, "report", "eval")
    _check(e.linear_test_every >= 1, "eval.linear_test_every", f"must be >= 1, got {e.linear_test_every}")
    _check(0 <= e.mining_k <= lo.queue_size, "eval.mining_k",
           f"must be in [0, loss.queue_size={lo.queue_size}], got {e.mining_k}")
    _check(bool(t.out_dir.strip()), "train.out_dir", "must name a folder, got an empty string")
    _check(e.knn_every >= 0, "eval.knn_every", f"must be >= 0 (0 = off), got {e.knn_every}")
    _check(e.precise_bn >= 0, "eval.precise_bn", f"must be >= 0 (0 = off), got {e.precise_bn}")
    _check(e.knn_k >= 1, "eval.knn_k", f"must be >= 1, got {e.knn_k}")
    _check(e.knn_t > 0, "eval.knn_t", f"must be > 0, got {e.knn_t}")
    _check(e.standardized_lr >= 0, "eval.standardized_lr",
           f"must be >= 0 (0 = eval.linear_lr), got {e.standardized_lr}")
    _check(e.standardized_weight_decay >= 0, "eval.standardized_weight_decay",
           f"must be >= 0, got {e.standardized_weight_decay}")
    if _one_of(_check, e, "standardized_solver", "eval"):
        _check(e.standardized_solver != "lbfgs" or e.standardized_weight_decay > 0, "eval.standardized_weight_decay",
               f"eval.standardized_solver 'lbfgs' needs an L2 > 0 (separable classes have no optimum without one), "
               f"got {e.standardized_weight_decay}")
    _check(e.batch_size >= 2, "eval.batch_size", f"must be >= 2 (BatchNorm while fine-tuning), got {e.batch_size}")
    for kind in ("linear", "finetune"):
        epochs, lr, mom, wd, stones = (getattr(e, f"{kind}_{k}") for k in
                                       ("epochs", "lr", "momentum", "weight_decay", "milestones"))
        _check(epochs >= 1, f"eval.{kind}_epochs", f"must be >= 1, got {epochs}")
        _check(lr > 0, f"eval.{kind}_lr", f"must be > 0, got {lr}")
        _check(0 <= mom < 1, f"eval.{kind}_momentum", f"must be in [0, 1), got {mom}")
        _check(wd >= 0, f"eval.{kind}_weight_decay", f"must be >= 0, got {wd}")
        _check(all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in stones),
               f"eval.{kind}_milestones", f"expected a list of epochs >= 1, got {stones}")
    lg = cfg.logging
    _check(lg.log_every >= 1, "logging.log_every", f"must be >= 1 (steps between scalars), got {lg.log_every}")
    _check(d.layout == "custom" or not d.layout_shoulders, "data.layout_shoulders",
           f"only for layout 'custom' (layout '{d.layout}' knows its shoulders), got {d.layout_shoulders}")
    if d.layout == "custom":
        try:
            layout_of(d)
        except CPMError as err:
            _check.append(str(err))
    raise_all(_check)
