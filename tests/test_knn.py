"""Weighted cosine kNN against a hand-computed vote."""
import math

import pytest
import torch

from cpm.errors import CPMError
from cpm.eval.knn import knn_accuracy, knn_predict, knn_scores


def test_hand_computed_vote():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0]])  # class 0, 1, 1 (scale is ignored)
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.2]])
    # cosine sims: 1/sqrt(1.04) to class 0, 0.2/sqrt(1.04) to each class-1 point
    s0, s1 = 1 / math.sqrt(1.04), 0.2 / math.sqrt(1.04)
    # k=3, t=1: class 0 weight e^s0 = 2.66 < class 1 weight 2 e^s1 = 2.43? -> check both ways
    w0, w1 = math.exp(s0), 2 * math.exp(s1)
    scores = knn_scores(train, labels, test, k=3, t=1.0, num_classes=2)
    assert scores[0].tolist() == pytest.approx([w0 / (w0 + w1), w1 / (w0 + w1)], rel=1e-5)
    assert knn_predict(train, labels, test, k=3, t=1.0, num_classes=2).tolist() == [int(w1 > w0)]
    # with a sharp temperature the nearest neighbour dominates
    assert knn_predict(train, labels, test, k=3, t=0.01, num_classes=2).tolist() == [0]
    # k=2 keeps the class-0 point and one class-1 point only
    w1_k2 = math.exp(s1 / 0.5)
    assert knn_scores(train, labels, test, k=2, t=0.5, num_classes=2)[0, 1].item() == pytest.approx(
        w1_k2 / (math.exp(s0 / 0.5) + w1_k2), rel=1e-5)


def test_accuracy_and_chunking():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 8, generator=g) * 5
    y = torch.arange(4).repeat(25)
    x = centers[y] + torch.randn(100, 8, generator=g)
    assert knn_accuracy(x, y, x, y, k=5) == 100.0
    a = knn_scores(x, y, x[:30], k=5, chunk_size=7)
    b = knn_scores(x, y, x[:30], k=5, chunk_size=1000)
    assert torch.allclose(a, b)


def test_bad_shapes():
    with pytest.raises(CPMError, match="equal D"):
        knn_predict(torch.zeros(3, 2), torch.zeros(3), torch.zeros(1, 4))


@pytest.mark.parametrize("stream", ["joint", "motion"])
def test_input_probes_run_on_the_flattened_clips_the_encoder_sees(tiny_cfg, stream):
    from cpm.data import build_dataset, to_stream
    from cpm.eval.linear import standardized_top1
    from cpm.eval.protocols import input_probes

    tiny_cfg.data.stream, tiny_cfg.data.normalize = stream, True
    tiny_cfg.data.synthetic.num_train, tiny_cfg.data.synthetic.num_test = 48, 24
    tiny_cfg.eval.knn_k, tiny_cfg.eval.knn_t = 3, 0.2

    def flat(split):  # by hand: every clip unaugmented, to the stream, flattened
        ds = build_dataset(tiny_cfg.data, split)
        x = torch.stack([ds[i][0] for i in range(len(ds))])
        return to_stream(x, stream, ds.layout).flatten(1), torch.tensor([ds[i][1] for i in range(len(ds))])

    (a, ya), (b, yb) = flat("train"), flat("test")
    expected = knn_accuracy(a, ya, b, yb, k=3, t=0.2, num_classes=12)
    got = input_probes(tiny_cfg, seed=3)
    assert got["knn"] == pytest.approx(expected)
    assert got["linear_std"] == pytest.approx(standardized_top1(a, ya, b, yb, 12, tiny_cfg.eval, 3))
    assert expected > 100 / 12  # synthetic classes differ in their motion: the raw clips already beat chance
