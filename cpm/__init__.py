"""cpm: Contrastive Positive Mining (ECCV 2022) for self-supervised 3D skeleton action representation learning.

Notebook API: `cpm.build_encoder(cfg)`, `cpm.load_encoder(path)`, `cpm.embed(encoder, x)`;
`cpm.load_classifier(path)` (a fine-tuned classifier.pt) and `cpm.predict(classifier, x)` (class scores).
"""
from __future__ import annotations

__version__ = "0.1.0"

from cpm.config import Config, load_config  # noqa: E402
from cpm.errors import CPMError  # noqa: E402
from cpm.models import build_encoder, build_model  # noqa: E402
from cpm.api import embed, load_checkpoint, load_classifier, load_encoder, predict  # noqa: E402

__all__ = ["Config", "CPMError", "build_encoder", "build_model", "embed", "load_checkpoint", "load_classifier",
           "load_config", "load_encoder", "predict", "__version__"]
