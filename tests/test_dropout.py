"""The ST-GCN's dropout: nn.Dropout's numbers (mask, values, gradients, RNG stream), its faster CPU mask."""
import pytest
import torch

from cpm.models.dropout import Dropout, keep_mask, uniform_mask_matches_bernoulli
from cpm.models.stgcn import STGCN


def _run(module, x0, seed=3):
    """Output, input gradient and the next global draw after `module` on a non-leaf copy of x0."""
    torch.manual_seed(seed)
    w = torch.linspace(0.5, 1.5, x0.shape[1]).view(1, -1, 1, 1).requires_grad_(True)
    y = x0 * w  # non-leaf: in-place dropout is allowed
    out = module(y)
    (out * torch.arange(out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    return out.detach(), w.grad, torch.rand(3)


@pytest.mark.parametrize("p, inplace", [(0.5, True), (0.3, True), (0.5, False), (0.9, True)])
def test_same_numbers_as_nn_dropout(p, inplace):
    x0 = torch.randn(6, 8, 10, 25)
    ours, torchs = _run(Dropout(p, inplace=inplace), x0), _run(torch.nn.Dropout(p, inplace=inplace), x0)
    for a, b in zip(ours, torchs):
        assert torch.equal(a, b)
    kept = (ours[0] != 0).float().mean().item()
    assert abs(kept - (1 - p)) < 0.03  # a real mask, not all-pass (12,000 elements)


def test_eval_and_non_contiguous_inputs_are_torchs():
    x = torch.randn(4, 5, 6, 7)
    assert torch.equal(Dropout(0.5, inplace=True).eval()(x.clone()), x)
    t = x.transpose(1, 2)  # not contiguous: left to torch, still the same numbers
    torch.manual_seed(1)
    a = Dropout(0.5, inplace=True)(t.clone())
    torch.manual_seed(1)
    b = torch.nn.Dropout(0.5, inplace=True)(t.clone())
    assert not t.clone().is_contiguous() and torch.equal(a, b) and (a == 0).any()


@pytest.mark.parametrize("chunk", [999, 1 << 18])
def test_fast_mask_is_bernoullis_where_the_check_says_so(chunk, monkeypatch):
    import cpm.models.dropout as dropout

    monkeypatch.setattr(dropout, "CHUNK", chunk)  # 17,000 draws in 18 chunks, or in one
    if not uniform_mask_matches_bernoulli():
        pytest.skip("this CPU's bernoulli_ takes another path; Dropout falls back to nn.Dropout here")
    x = torch.empty(1000, 17)
    torch.manual_seed(7)
    bern = torch.empty_like(x).bernoulli_(0.25)
    after_bern = torch.get_rng_state()
    torch.manual_seed(7)
    mask = keep_mask(x, 0.25)
    assert torch.equal(mask, bern.bool()) and torch.equal(torch.get_rng_state(), after_bern)
    assert 0.2 < mask.float().mean().item() < 0.3


def test_encoder_state_dict_keys_unchanged():
    keys = set(STGCN(hidden_channels=4, hidden_dim=8).state_dict())
    assert "blocks.1.tcn.3.running_mean" in keys and not any(".tcn.4." in k for k in keys)
    assert isinstance(STGCN(hidden_channels=4, hidden_dim=8).blocks[1].tcn[4], torch.nn.Dropout)
