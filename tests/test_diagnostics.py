"""Collapse statistics (cpm.diagnostics) on hand-built feature sets."""
import math

import pytest
import torch

from cpm.diagnostics import collapse_warning, effective_rank, feature_spread


def test_constant_features_have_no_spread_and_rank_zero():
    f = torch.ones(10, 4) * 3.0
    assert feature_spread(f) == 0.0 and effective_rank(f) == 0.0
    assert "collapsing" in collapse_warning(0.0, 0.0)


def test_spread_hand_case():
    # rows (1, 0) and (-1, 0) around mean 0: each is its own norm away from the mean -> spread 1
    assert feature_spread(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(1.0)
    # rows (10, 1) and (10, -1): distance 1 from the mean (10, 0), norm sqrt(101)
    assert feature_spread(torch.tensor([[10.0, 1.0], [10.0, -1.0]])) == pytest.approx(1 / math.sqrt(101))


def test_effective_rank_counts_used_directions():
    line = torch.arange(8.0)[:, None] * torch.tensor([[1.0, 2.0, 0.0]])
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-6)
    square = torch.tensor([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]])  # two equal singular values
    assert effective_rank(square) == pytest.approx(2.0, abs=1e-6)
    assert collapse_warning(0.5, 2.0) is None and collapse_warning(0.5, 1.5) is not None
