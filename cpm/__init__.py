"""cpm: Contrastive Positive Mining (ECCV 2022) for self-supervised 3D skeleton action representation learning.

Notebook API: `cpm.pretrain(cfg)`, `cpm.build_encoder(cfg)`, `cpm.load_encoder(path)`, `cpm.embed(encoder, x)`;
`cpm.load_classifier(path)` (a fine-tuned classifier.pt) and `cpm.predict(classifier, x)` (class scores).
"""
from __future__ import annotations

from cpm.version import __version__  # noqa: E402
from cpm.config import Config, load_config  # noqa: E402
from cpm.errors import CPMError  # noqa: E402
from cpm.models import build_encoder, build_model  # noqa: E402
from cpm.api import embed, load_checkpoint, load_classifier, load_encoder, predict, pretrain  # noqa: E402

__all__ = ["Config", "CPMError", "build_encoder", "build_model", "embed", "load_checkpoint", "load_classifier",
           "load_config", "load_encoder", "predict", "pretrain", "__version__"]
