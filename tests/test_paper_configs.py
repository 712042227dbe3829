"""The paper configs follow the lineage where the paper is silent (issue 13); new options default to the old
behaviour, so configs that do not set them (demo, MSR Action3D) are unchanged."""
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from cpm.config import Config, load_config
from cpm.errors import CPMError
from cpm.models import build_encoder, build_model
from cpm.models.init import init_weights
from cpm.train.distributed import use_sync_bn

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PAPER = sorted([*CONFIGS.glob("ntu*.yaml"), *CONFIGS.glob("pku*.yaml"), *(CONFIGS / "ablations").glob("*.yaml")])


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.name)
def test_paper_configs_pin_the_lineage_values(path):
    cfg = load_config(path)
    m, e = cfg.model, cfg.eval
    assert (m.data_bn, m.init, m.sync_bn) == ("vc", "lineage", True)
    assert (e.batch_size, e.linear_lr, e.linear_epochs, e.linear_milestones) == (128, 3.0, 100, [80])
    assert (e.report, e.linear_test_every, e.mining_k) == ("best", 5, 100)
    assert (cfg.train.batch_size, cfg.train.epochs) == (512, 400)
    column = {"ntu60_xsub": "ntu60-xsub", "ntu60_xview": "ntu60-xview", "ntu120_xsub": "ntu120-xsub",
              "ntu120_xset": "ntu120-xset", "pku1_xsub": "pku1", "pku2_xsub": "pku2"}
    assert cfg.eval.benchmark == column[path.stem.removesuffix("_wo_pm")]  # results land in the paper's tables


def test_pku_mines_its_own_k_but_reports_fig3_at_100():
    for name, k in (("pku1_xsub.yaml", 50), ("pku2_xsub.yaml", 25)):
        cfg = load_config(CONFIGS / name)
        assert cfg.loss.topk == k and cfg.eval.mining_k == 100
        cfg.loss.queue_size, cfg.model.hidden_channels, cfg.model.hidden_dim = 256, 2, 8  # small, same K logic
        assert build_model(cfg).monitor_k == 100


def test_new_options_default_to_the_old_behaviour():
    cfg = Config()
    assert (cfg.model.data_bn, cfg.model.init, cfg.eval.batch_size, cfg.eval.report, cfg.eval.mining_k) == \
        ("mvc", "pytorch", 256, "last", 0)
    for name in ("demo.yaml", "msr_action3d.yaml"):
        c = load_config(CONFIGS / name)
        assert (c.model.init, c.eval.report, c.eval.mining_k) == ("pytorch", "last", 0)


def test_pytorch_init_draws_the_same_weights_as_before(tiny_cfg):
    torch.manual_seed(3)
    new = build_model(tiny_cfg).state_dict()
    torch.manual_seed(3)  # the pre-issue construction order: encoder, projector, predictor, queue
    from cpm.models import CPM, ContextQueue, mlp
    from cpm.models.stgcn import STGCN
    m = tiny_cfg.model
    enc = STGCN(m.in_channels, m.hidden_channels, m.hidden_dim, max_persons=2, temporal_kernel=9, dropout=m.dropout,
                data_bn=m.data_bn)
    old = CPM(enc, mlp(m.hidden_dim, m.proj_hidden, m.proj_dim), mlp(m.proj_dim, m.pred_hidden, m.proj_dim),
              ContextQueue(tiny_cfg.loss.queue_size, m.proj_dim)).state_dict()
    assert new.keys() == old.keys() and all(torch.equal(new[k], old[k]) for k in new)


def test_lineage_init_statistics(tiny_cfg):
    tiny_cfg.model.init = "lineage"
    tiny_cfg.model.hidden_channels, tiny_cfg.model.hidden_dim = 16, 64
    torch.manual_seed(0)
    enc = build_encoder(tiny_cfg)
    conv = enc.blocks[9].gcn.conv  # 64 -> 3 * 64 channels, 12288 weights
    assert abs(conv.weight.std().item() - 0.02) < 0.001 and abs(conv.weight.mean().item()) < 0.001
    assert torch.all(conv.bias == 0) and torch.all(enc.blocks[9].tcn[0].bias == 0)
    bn = enc.data_bn.weight  # BatchNorm weight ~ N(1, 0.02)
    assert abs(bn.mean().item() - 1.0) < 0.02 and 0.005 < bn.std().item() < 0.04
    assert all(torch.all(p == 1) for p in enc.edge_importance)  # not a conv/linear/BN weight: untouched
    lin = init_weights(nn.Linear(200, 100), "lineage")
    assert abs(lin.weight.std().item() - 0.02) < 0.001 and torch.all(lin.bias == 0)
    with pytest.raises(CPMError, match="model.init"):
        load_config(CONFIGS / "demo.yaml", ["model.init=xavier"])


def _info(world, device="cuda", rank=0):
    return SimpleNamespace(distributed=world > 1, world_size=world, device=torch.device(device), is_main=rank == 0)


def test_sync_bn_turns_on_under_torchrun_unless_set_off(capsys):
    cfg = Config()
    assert use_sync_bn(cfg, _info(4)) is True
    assert capsys.readouterr().out.strip() == ("note: SyncBatchNorm on: one BN over the global batch of 512 across "
                                               "4 processes (model.sync_bn=false: per-process BN over 128)")
    assert use_sync_bn(cfg, _info(1)) is False and capsys.readouterr().out == ""  # single process: nothing to say
    cfg.model.sync_bn = False
    assert use_sync_bn(cfg, _info(4)) is False
    assert "off (model.sync_bn=false): each of the 4 processes normalises its own 128 clips" in capsys.readouterr().out
    cfg.model.sync_bn = True
    assert use_sync_bn(cfg, _info(2, "cpu")) is False  # no CPU kernel: a notice, not an error
    assert "no SyncBatchNorm kernel on cpu" in capsys.readouterr().out
    assert use_sync_bn(cfg, _info(2, rank=1)) is True and capsys.readouterr().out == ""  # rank 0 prints
