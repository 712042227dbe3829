"""The graph product in row blocks: bit for bit a single mm, forward and backward."""
import pytest
import torch

from cpm.models import graph_mm as gm


@pytest.mark.parametrize("rows", [5000, 12288, 4096])
def test_same_bits_and_gradients_as_one_mm(rows, monkeypatch):
    monkeypatch.setattr(gm, "ROWS", 1000)  # several blocks and a ragged last one at these sizes
    torch.manual_seed(0)
    x0, b0 = torch.randn(rows, 25), torch.rand(25, 75)
    outs = []
    for fn in (gm.graph_mm, torch.mm):
        x, b = x0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
        y = fn(x, b)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        outs.append((y.detach(), x.grad, b.grad))
    for ours, theirs in zip(*outs):
        assert torch.equal(ours, theirs)
    assert outs[0][0].abs().sum() > 0


def test_row_block_mm_matches_and_small_inputs_take_one_mm(monkeypatch):
    monkeypatch.setattr(gm, "ROWS", 7)
    x, b = torch.randn(30, 4), torch.randn(4, 6)
    assert torch.equal(gm.row_block_mm(x, b), x @ b)
    small = torch.randn(7, 4, requires_grad=True)
    assert gm.graph_mm(small, b).grad_fn.name() == "MmBackward0"  # no blocks to gain: autograd's mm
    assert "RowBlockMM" in gm.graph_mm(torch.randn(30, 4, requires_grad=True), b).grad_fn.name()
