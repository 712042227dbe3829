"""The notebook API: build_encoder, load_encoder, embed."""
import pytest
import torch

import cpm
from cpm.errors import CPMError


def _save(model, cfg, path):
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "version": cpm.__version__}, path)


def test_load_encoder_restores_weights_in_eval_mode(tiny_cfg, tmp_path):
    torch.manual_seed(0)
    model = cpm.build_model(tiny_cfg)
    model(torch.randn(4, 3, 16, 25, 2), torch.randn(4, 3, 16, 25, 2))  # moves BN running stats
    _save(model, tiny_cfg, tmp_path / "last.pt")
    enc = cpm.load_encoder(tmp_path / "last.pt")
    assert not enc.training
    x = torch.randn(5, 3, 16, 25, 2)
    model.encoder.eval()
    assert torch.allclose(enc(x), model.encoder(x))
    feats = cpm.embed(enc, x, batch_size=2)
    assert feats.shape == (5, tiny_cfg.model.hidden_dim) and torch.allclose(feats, model.encoder(x), atol=1e-6)


def test_embed_keeps_training_mode(tiny_cfg):
    enc = cpm.build_encoder(tiny_cfg).train()
    cpm.embed(enc, torch.randn(2, 3, 16, 25, 2).numpy())
    assert enc.training


def test_truncated_checkpoint_is_one_line_error(tiny_cfg, tmp_path):
    _save(cpm.build_model(tiny_cfg), tiny_cfg, tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CPMError, match="cut.pt: cannot be read") as err:
        cpm.load_encoder(tmp_path / "cut.pt")
    assert "\n" not in str(err.value)
    with pytest.raises(CPMError, match="file not found"):
        cpm.load_encoder(tmp_path / "missing.pt")


def test_other_architecture_lists_incompatible_keys(tiny_cfg, tmp_path):
    model = cpm.build_model(tiny_cfg)
    state = model.state_dict()
    state.pop("encoder.blocks.0.gcn.conv.weight")
    state["encoder.extra.weight"] = torch.zeros(1)
    torch.save({"model": state, "config": tiny_cfg.to_dict()}, tmp_path / "x.pt")
    with pytest.raises(CPMError, match=r"missing keys: blocks.0.gcn.conv.weight; unexpected keys: extra.weight"):
        cpm.load_encoder(tmp_path / "x.pt")
    torch.save({"weights": 1}, tmp_path / "y.pt")
    with pytest.raises(CPMError, match=r"missing entries \['model', 'config'\]"):
        cpm.load_encoder(tmp_path / "y.pt")
