"""Every graph method declares its encoder: the spec rebuilds it from plain JSON (the input width
read from the data included), with the weights ``embedder()`` holds, and it embeds as ``embed``
does, node-level, graph-level and on hypergraphs; MVGRL's ONNX module is its encoder."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import coalesce, remove_self_loops

from sslkit.graphs import configs as C
from sslkit.graphs.methods.bgrl import BGRL
from sslkit.graphs.methods.dgi import DGI
from sslkit.graphs.methods.grace import GRACE
from sslkit.graphs.methods.graphcl import GraphCL
from sslkit.graphs.methods.graphmae import GraphMAE
from sslkit.graphs.methods.hypeboy import HypeBoy
from sslkit.graphs.methods.mvgrl import MVGRL, TracedMVGRL
from sslkit.graphs.methods.tricl import TriCL
from sslkit.testing import check_encoder_spec

F = 6


def graph(n: int = 20, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (60,), generator=g)
    dst = torch.randint(0, n, (60,), generator=g)
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    ei = coalesce(remove_self_loops(ei)[0])  # as the plugin's data cleaning leaves a graph
    x = torch.rand(n, F, generator=g)
    return {"x": x, "edge_index": ei, "nodes": torch.arange(3, 15)}


def hypergraph(n: int = 20) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    v = torch.randint(0, n, (40,), generator=g)
    e = torch.arange(40) // 4
    return {"x": torch.rand(n, F, generator=g), "hyperedge_index": torch.stack([v, e]),
            "nodes": torch.arange(n)}  # fmt: skip


def graphs(count: int = 3) -> dict[str, torch.Tensor]:
    parts = [graph(8, seed=s) for s in range(count)]
    return {
        "x": torch.cat([p["x"] for p in parts]),
        "edge_index": torch.cat([p["edge_index"] % 8 + 8 * i for i, p in enumerate(parts)], 1),
        "batch": torch.arange(count).repeat_interleave(8),
    }


NODE_LEVEL = {
    "grace": lambda: GRACE(C.GRACEConfig(hidden_dim=8), F),
    "grace-gat": lambda: GRACE(C.GRACEConfig(encoder="gat", hidden_dim=8), F),
    "dgi": lambda: DGI(C.DGIConfig(hidden_dim=8), F),
    "dgi-sage": lambda: DGI(C.DGIConfig(encoder="sage", hidden_dim=8, num_layers=2), F),
    "bgrl": lambda: BGRL(C.BGRLConfig(hidden_dims=(8, 4)), F),
    "graphmae": lambda: GraphMAE(C.GraphMAEConfig(hidden_dim=8, num_heads=2), F),
    "graphcl": lambda: GraphCL(C.GraphCLConfig(hidden_dim=4, num_layers=3), F),
    "mvgrl": lambda: MVGRL(C.MVGRLConfig(hidden_dim=8), F),
    "mvgrl-topk": lambda: MVGRL(C.MVGRLConfig(hidden_dim=8, ppr_topk=4), F),
}
HYPERGRAPH = {
    "hypeboy": lambda: HypeBoy(C.HypeBoyConfig(hidden_dim=8), F),
    "tricl": lambda: TriCL(C.TriCLConfig(hidden_dim=8, proj_dim=4), F),
}


def _perturbed(method):
    torch.manual_seed(0)
    for p in method.parameters():  # away from any fresh init, so the loaded weights matter
        p.data.add_(0.1 * torch.randn_like(p))
    return method


@pytest.mark.parametrize("name", list(NODE_LEVEL))
def test_node_level_specs_rebuild_the_encoder(name):
    method = _perturbed(NODE_LEVEL[name]())
    spec = check_encoder_spec(method, graph())
    kwargs = spec["kwargs"]
    assert (kwargs.get("encoder") or kwargs)["in_dim"] == F  # the width read from the data


@pytest.mark.parametrize("name", list(HYPERGRAPH))
def test_hypergraph_specs_rebuild_the_encoder(name):
    method = _perturbed(HYPERGRAPH[name]())
    check_encoder_spec(method, hypergraph())
    check_encoder_spec(method, graph())  # a plain graph: its closed neighbourhoods


def test_graph_level_graphcl_pools_per_graph():
    method = _perturbed(GraphCL(C.GraphCLConfig(hidden_dim=4, num_layers=2), F, graph_level=True))
    spec = check_encoder_spec(method, graphs())
    assert spec["kwargs"]["layers"] == "concat" and spec["kwargs"]["pooling"] == method.pooling
    assert not any(k.startswith("projector") for k in method.embedder().state_dict())


def test_only_the_encoder_is_declared():
    keys = set(BGRL(C.BGRLConfig(hidden_dims=(8, 4)), F).embedder().state_dict())
    assert keys and all(k.startswith("encoder.") for k in keys)  # no predictor, no EMA target
    mvgrl = MVGRL(C.MVGRLConfig(hidden_dim=8), F)
    assert not any("disc" in k for k in mvgrl.embedder().state_dict())


def test_mvgrl_onnx_module_traces_its_encoder():
    method = _perturbed(MVGRL(C.MVGRLConfig(hidden_dim=8), F)).eval()
    traced = method.export_module()
    assert isinstance(traced, TracedMVGRL)
    assert set(traced.state_dict()) == {f"encoder.{k}" for k in method.embedder().state_dict()}
    inputs = graph()
    traced.keys = sorted(inputs)
    with torch.no_grad():
        got = traced(*(inputs[k] for k in traced.keys))
        torch.testing.assert_close(got, method.embed(inputs), atol=1e-4, rtol=1e-4)
