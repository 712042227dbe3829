"""The kNN monitor of pretraining (cpm.train.monitor): it scores the encoder that eval.encoder names."""
import torch

from cpm.data import build_dataset
from cpm.models import build_model
from cpm.runtime.device import choose_precision
from cpm.train.monitor import KnnMonitor


def test_knn_monitor_reads_the_branch_eval_encoder_names(tiny_cfg):
    """Breaks if the monitor always reads the student: the features it passes to the scorer must be the
    target encoder's with eval.encoder='target' and the student's otherwise."""
    tiny_cfg.data.format, tiny_cfg.data.max_persons = "synthetic", 1
    tiny_cfg.data.synthetic.num_train, tiny_cfg.data.synthetic.num_test = 12, 6
    tiny_cfg.data.num_workers, tiny_cfg.model.target_momentum = 0, 0.9
    torch.manual_seed(0)
    model = build_model(tiny_cfg).eval()
    with torch.no_grad():
        for p in model.target_encoder.parameters():
            p.mul_(1.5)
    seen = {}

    def scorer(ftr, ytr, fte, yte, **kw):
        seen["train"] = ftr
        return 0.0

    device = torch.device("cpu")
    for branch in ("student", "target"):
        tiny_cfg.eval.encoder = branch
        KnnMonitor(tiny_cfg, device, choose_precision("auto", device), scorer)(model)
        encoder = model.encoder if branch == "student" else model.target_encoder
        x = torch.stack([torch.as_tensor(build_dataset(tiny_cfg.data, "train")[i][0]) for i in range(12)])
        with torch.no_grad():
            assert torch.allclose(seen["train"], encoder(x), atol=1e-5)
