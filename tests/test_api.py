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


def test_load_encoder_reads_the_chosen_branch(tiny_cfg, tmp_path):
    """eval.encoder / branch='target' loads the EMA target's weights and its own BN statistics; a run without
    an EMA target says so in one line."""
    tiny_cfg.model.target_momentum = 0.9
    torch.manual_seed(0)
    model = cpm.build_model(tiny_cfg)
    with torch.no_grad():  # target weights that differ from the student's
        for p in model.target_encoder.parameters():
            p.mul_(1.5)
    model(torch.randn(4, 3, 16, 25, 2), torch.randn(4, 3, 16, 25, 2))
    _save(model, tiny_cfg, tmp_path / "ema.pt")
    x = torch.randn(5, 3, 16, 25, 2)
    model.eval()
    assert torch.allclose(cpm.load_encoder(tmp_path / "ema.pt", branch="target")(x), model.target_encoder(x))
    assert torch.allclose(cpm.load_encoder(tmp_path / "ema.pt")(x), model.encoder(x))  # the run's eval.encoder
    tiny_cfg.eval.encoder = "target"
    _save(model, tiny_cfg, tmp_path / "ema_target.pt")
    assert torch.allclose(cpm.load_encoder(tmp_path / "ema_target.pt")(x), model.target_encoder(x))
    with pytest.raises(CPMError, match="branch: expected student\\|target\\|average, got .teacher."):
        cpm.load_encoder(tmp_path / "ema.pt", branch="teacher")
    tiny_cfg.model.target_momentum, tiny_cfg.eval.encoder = 0.0, "student"
    _save(cpm.build_model(tiny_cfg), tiny_cfg, tmp_path / "shared.pt")
    with pytest.raises(CPMError, match="shared.pt: has no target encoder"):
        cpm.load_encoder(tmp_path / "shared.pt", branch="target")


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
