"""Shared fixtures: tiny configs and the path of the read-only real data (skipped when absent)."""
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tiny test shapes: one thread is fastest, and CI has 2 cores
    yield


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture
def tiny_cfg():
    """A Config small enough for CPU unit tests."""
    from cpm.config import Config

    cfg = Config()
    cfg.model.hidden_channels, cfg.model.hidden_dim = 4, 16
    cfg.model.proj_hidden, cfg.model.proj_dim, cfg.model.pred_hidden = 16, 8, 16
    cfg.loss.queue_size, cfg.loss.topk = 32, 4
    cfg.data.num_frames = 16
    return cfg
