"""ST-GCN encoder (Yan et al., AAAI 2018) in the self-supervised variant of CrosSCLR/AimCLR/CPM.

Input (N, C, T, V, M) -> input BatchNorm -> 10 ST-GCN blocks -> global average pool over T and V ->
mean over persons -> (N, hidden_dim). The paper's "9-layer ST-GCN" (Sec. 4.2) counts the blocks after the
input block: widths are [h, h, h, h, 2h (stride 2), 2h, 2h, 4h (stride 2), 4h, hidden_dim], the first block
has no residual and no dropout.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cpm.errors import CPMError
from cpm.graph import Graph, Layout, get_layout
from cpm.models.dropout import Dropout
from cpm.models.graph_mm import graph_mm


class GraphConv(nn.Module):
    """Spatial graph convolution sum_k W_k X A_k: a 1x1 conv to K*C_out channels (W_k) and a product with each
    partition's adjacency A_k over the joints, summed over the K partitions.

    W_k (channels) and A_k (joints) commute, so the joint product runs on the narrower side. With C_in <= C_out
    (every layer of this encoder) X A_k for all k is one GEMM over the joint axis, then one 1x1 conv mixes the
    K*C_in channels: same function and parameters; forward+backward measured 1.2-3.5x faster per layer on CPU
    (fp32) than conv-then-einsum, whose einsum copies the K*C_out-channel tensor into a (k, v)-contiguous layout.
    """

    def __init__(self, in_channels: int, out_channels: int, num_partitions: int):
        super().__init__()
        self.k, self.out_channels = num_partitions, out_channels
        self.conv = nn.Conv2d(in_channels, out_channels * num_partitions, kernel_size=1)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        n, cin, t, v = x.shape
        k, cout = self.k, self.out_channels
        if cin > cout:  # narrowing layer: mix channels first, then the joint product on C_out channels
            return torch.einsum("nkctv,kvw->nctw", self.conv(x).view(n, k, cout, t, v), a)
        z = graph_mm(x.reshape(-1, v), a.transpose(0, 1).reshape(v, k * v)).view(n, cin, t, k, v)  # X A_k, all k
        z = z.permute(0, 1, 3, 2, 4).reshape(n, cin * k, t, v)
        w = self.conv.weight.view(k, cout, cin).permute(1, 2, 0).reshape(cout, cin * k, 1, 1)
        y = F.conv2d(z, w)
        if self.conv.bias is None:
            return y
        return y + (self.conv.bias.view(k, cout).t() @ a.sum(dim=1))[:, None, :]  # bias through A: sum_k b_k 1^T A_k


class STGCNBlock(nn.Module):
    """Spatial graph conv -> BN -> ReLU -> temporal conv (kernel x 1, stride) -> BN -> dropout, + residual, ReLU."""

    def __init__(self, cin: int, cout: int, num_partitions: int, kernel: int = 9, stride: int = 1,
                 dropout: float = 0.0, residual: bool = True):
        super().__init__()
        self.gcn = GraphConv(cin, cout, num_partitions)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, (kernel, 1), (stride, 1), ((kernel - 1) // 2, 0)),
            nn.BatchNorm2d(cout), Dropout(dropout, inplace=True),  # nn.Dropout's numbers, faster on CPU
        )
        if not residual:
            self.residual = None
        elif cin == cout and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return self.relu(self.tcn(self.gcn(x, a)) + res)


class STGCN(nn.Module):
    """ST-GCN encoder: (N, C, T, V, M) skeleton clips -> (N, hidden_dim) features."""

    def __init__(self, in_channels: int = 3, hidden_channels: int = 16, hidden_dim: int = 256,
                 layout: Layout | str = "ntu", strategy: str = "spatial", max_persons: int = 2,
                 temporal_kernel: int = 9, dropout: float = 0.5, edge_importance: bool = True,
                 data_bn: str = "mvc", output_bn: bool = False):
        super().__init__()
        self.layout = get_layout(layout) if isinstance(layout, str) else layout
        self.in_channels, self.max_persons, self.hidden_dim = in_channels, max_persons, hidden_dim
        self.num_joints = self.layout.num_joints
        self.register_buffer("A", torch.from_numpy(Graph(self.layout, strategy).A), persistent=False)
        k, h, v = self.A.shape[0], hidden_channels, self.num_joints
        # 'mvc': one BN channel per (person, joint, coord) as 2s-AGCN/CTR-GCN; 'vc': shared over persons (ST-GCN)
        self.data_bn_mode = data_bn
        self.data_bn = nn.BatchNorm1d((max_persons if data_bn == "mvc" else 1) * v * in_channels)
        widths = [(in_channels, h, 1), (h, h, 1), (h, h, 1), (h, h, 1), (h, 2 * h, 2), (2 * h, 2 * h, 1),
                  (2 * h, 2 * h, 1), (2 * h, 4 * h, 2), (4 * h, 4 * h, 1), (4 * h, hidden_dim, 1)]
        self.blocks = nn.ModuleList(
            STGCNBlock(cin, cout, k, temporal_kernel, s, dropout=0.0 if i == 0 else dropout, residual=i > 0)
            for i, (cin, cout, s) in enumerate(widths)
        )
        self.edge_importance = nn.ParameterList(
            nn.Parameter(torch.ones_like(self.A)) for _ in self.blocks) if edge_importance else None
        # pooled ReLU features differ in scale by dimension; a non-affine BN puts them on one (model.output_bn)
        self.out_bn = nn.BatchNorm1d(hidden_dim, affine=False) if output_bn else None

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a one-line CPMError unless x is (N, C, T, V, M) with this encoder's C, V and M."""
        if x.dim() != 5:
            raise CPMError(f"encoder input x: expected 5 dims (N, C, T, V, M), got shape {tuple(x.shape)}")
        n, c, t, v, m = x.shape
        if c != self.in_channels or v != self.num_joints or t < 4:
            raise CPMError(f"encoder input x: expected (N, C={self.in_channels}, T>=4, V={self.num_joints}, M), "
                           f"got shape {tuple(x.shape)}")
        if self.data_bn_mode == "mvc" and m != self.max_persons:
            raise CPMError(f"encoder input x: expected M={self.max_persons} persons (model.data_bn='mvc'), "
                           f"got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pooled(x)
        return h if self.out_bn is None else self.out_bn(h)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(N, hidden_dim) features pooled over time, joints and persons, before `output_bn`."""
        self.check_input(x)
        n, c, t, v, m = x.shape
        if self.data_bn_mode == "mvc":
            x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t))
        else:
            x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t))
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for i, block in enumerate(self.blocks):
            a = self.A if self.edge_importance is None else self.A * self.edge_importance[i]
            x = block(x, a)
        return x.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)
