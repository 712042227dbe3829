"""The ST-GCN encoder."""
import pytest
import torch

from cpm.errors import CPMError
from cpm.models.stgcn import STGCN


@pytest.mark.parametrize("layout, v, m", [("ntu", 25, 2), ("kinect_v1", 20, 1)])
def test_output_shape(layout, v, m):
    enc = STGCN(hidden_channels=4, hidden_dim=16, layout=layout, max_persons=m)
    out = enc(torch.randn(3, 3, 16, v, m))
    assert out.shape == (3, 16)


def test_block_widths_strides_and_residuals():
    enc = STGCN(hidden_channels=16, hidden_dim=256)
    outs = [b.gcn.conv.out_channels // 3 for b in enc.blocks]
    assert outs == [16, 16, 16, 16, 32, 32, 32, 64, 64, 256]
    strides = [b.tcn[2].stride[0] for b in enc.blocks]
    assert strides == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert enc.blocks[0].residual is None and isinstance(enc.blocks[1].residual, torch.nn.Identity)
    assert enc.blocks[0].tcn[4].p == 0.0 and enc.blocks[1].tcn[4].p == 0.5
    assert enc.data_bn.num_features == 2 * 25 * 3
    assert len(enc.edge_importance) == 10


def test_persons_are_averaged_and_pooling_is_global():
    torch.manual_seed(0)
    enc = STGCN(hidden_channels=4, hidden_dim=8, max_persons=2, data_bn="vc").eval()
    x = torch.randn(2, 3, 12, 25, 2)
    swapped = x.flip(-1)  # 'vc' BatchNorm is shared over persons, so the person order must not matter
    assert torch.allclose(enc(x), enc(swapped), atol=1e-5)


def test_gradients_flow_to_edge_importance():
    enc = STGCN(hidden_channels=4, hidden_dim=8)
    enc(torch.randn(2, 3, 8, 25, 2)).sum().backward()
    assert all(p.grad is not None for p in enc.edge_importance)


@pytest.mark.parametrize("shape, msg", [
    ((2, 3, 16, 25), "5 dims"), ((2, 2, 16, 25, 2), "C=3"), ((2, 3, 16, 20, 2), "V=25"),
    ((2, 3, 16, 25, 1), "M=2"), ((2, 3, 2, 25, 2), "T>=4"),
])
def test_bad_input_shapes(shape, msg):
    with pytest.raises(CPMError, match=msg):
        STGCN(hidden_channels=4, hidden_dim=8)(torch.randn(*shape))


@pytest.mark.parametrize("cin, cout", [(3, 8), (8, 8), (8, 4)])
def test_graph_conv_equals_conv_then_einsum(cin, cout):
    from cpm.graph import Graph, get_layout
    from cpm.models.stgcn import GraphConv

    torch.manual_seed(0)
    a = torch.from_numpy(Graph(get_layout("ntu")).A).double() * (1 + torch.rand(3, 25, 25, dtype=torch.float64))
    gc = GraphConv(cin, cout, 3).double()
    x = torch.randn(2, cin, 5, 25, dtype=torch.float64)
    ref = torch.einsum("nkctv,kvw->nctw", gc.conv(x).view(2, 3, cout, 5, 25), a)  # ST-GCN's reference form
    assert torch.allclose(gc(x, a), ref, atol=1e-10)


def test_output_bn_standardises_each_feature_with_batch_then_running_statistics():
    torch.manual_seed(0)
    plain = STGCN(hidden_channels=4, hidden_dim=8, layout="kinect_v1", max_persons=1, dropout=0.0)
    enc = STGCN(hidden_channels=4, hidden_dim=8, layout="kinect_v1", max_persons=1, dropout=0.0, output_bn=True)
    assert not any("out_bn" in k for k in plain.state_dict())  # published ST-GCN: checkpoints unchanged
    enc.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(16, 3, 12, 20, 1)
    h, out = plain(x), enc(x)  # train mode: this batch's mean and (biased) variance per dimension
    want = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5)
    assert torch.allclose(out, want, atol=1e-4)
    bn = enc.out_bn  # running statistics after one batch (momentum 0.1)
    assert torch.allclose(bn.running_mean, 0.1 * h.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, 0.9 + 0.1 * h.var(0, unbiased=True), atol=1e-5)
    enc.eval()  # eval: those statistics, not the batch's
    enc.out_bn = None
    h_eval = enc(x)
    enc.out_bn = bn
    assert torch.allclose(enc(x), (h_eval - bn.running_mean) / torch.sqrt(bn.running_var + 1e-5), atol=1e-5)
