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
    tiny_cfg.data.num_workers, tiny_cfg.model.target_momentum, tiny_cfg.model.average_last = 0, 0.9, 0.5
    torch.manual_seed(0)
    model = build_model(tiny_cfg).eval()
    with torch.no_grad():
        for p in model.target_encoder.parameters():
            p.mul_(1.5)
        for p in model.average_encoder.parameters():
            p.mul_(0.5)
    seen = []

    def scorer(ftr, ytr, fte, yte, **kw):
        seen.append(ftr)
        return float(len(seen))

    device = torch.device("cpu")
    x = torch.stack([torch.as_tensor(build_dataset(tiny_cfg.data, "train")[i][0]) for i in range(12)])
    for branch, encoder in (("student", model.encoder), ("target", model.target_encoder),
                            ("average", model.average_encoder)):
        tiny_cfg.eval.encoder = branch
        seen.clear()
        out = KnnMonitor(tiny_cfg, device, choose_precision("auto", device), scorer)(model)
        with torch.no_grad():
            assert torch.allclose(seen[0], encoder(x), atol=1e-5)
            if branch == "student":
                assert out == {"knn_top1": 1.0}
            else:  # the student's curve is logged beside it
                assert out == {"knn_top1": 1.0, "knn_student_top1": 2.0}
                assert torch.allclose(seen[1], model.encoder(x), atol=1e-5)
