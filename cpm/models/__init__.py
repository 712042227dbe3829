"""Model builders from a `Config`."""
from __future__ import annotations

from cpm.graph import layout_of
from cpm.models.cpm import CPM
from cpm.models.heads import mlp
from cpm.models.init import init_weights
from cpm.models.stgcn import STGCN
from cpm.queue import ContextQueue

__all__ = ["CPM", "STGCN", "ContextQueue", "mlp", "build_encoder", "build_model"]


def build_encoder(cfg) -> STGCN:
    """The ST-GCN encoder described by `cfg.model` for the layout and persons of `cfg.data`, initialised as
    `cfg.model.init`."""
    m = cfg.model
    encoder = STGCN(in_channels=m.in_channels, hidden_channels=m.hidden_channels, hidden_dim=m.hidden_dim,
                    layout=layout_of(cfg.data), strategy=m.graph_strategy, max_persons=cfg.data.max_persons,
                    temporal_kernel=m.temporal_kernel, dropout=m.dropout, edge_importance=m.edge_importance,
                    data_bn=m.data_bn, output_bn=m.output_bn)
    return init_weights(encoder, m.init)


def build_model(cfg) -> CPM:
    """The full CPM model (encoder, projector, predictor, queue) of `cfg`."""
    m, lo = cfg.model, cfg.loss
    encoder = build_encoder(cfg)  # built in this order (encoder, projector, predictor, queue): same random init
    projector = init_weights(mlp(m.hidden_dim, m.proj_hidden, m.proj_dim, m.proj_bn), m.init)
    predictor = init_weights(mlp(m.proj_dim, m.pred_hidden, m.proj_dim), m.init)
    return CPM(encoder, projector, predictor, ContextQueue(lo.queue_size, m.proj_dim),
               tau=lo.tau, tau_target=lo.tau_target, monitor_k=cfg.eval.mining_k or lo.topk, symmetric=m.symmetric,
               renormalize=lo.renormalize, target_momentum=m.target_momentum,
               exclude_self=lo.exclude_self, center=m.center, average=m.average_last > 0)
