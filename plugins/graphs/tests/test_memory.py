"""A PyG ``Data`` in memory through the Python API: pretrain and evaluate take ``data=graph``."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from sslkit.core.errors import DataError, UsageError
from sslkit.testing.memory import pretrain_in_memory


def _graph(make_sbm, **kw) -> Data:
    ei, x, y = make_sbm(**kw)
    return Data(
        x=torch.from_numpy(x), edge_index=torch.from_numpy(ei).long(), y=torch.from_numpy(y)
    )


def test_pretrain_and_evaluate_a_pyg_graph(tmp_path, make_sbm):
    from sslkit.core import api

    graph = _graph(make_sbm)
    described = f"<in-memory Data {graph.num_nodes} nodes, {graph.num_edges} edges>"
    result = pretrain_in_memory(
        "graphs",
        "grace",
        graph,
        tmp_path,
        ["data.normalize=none", "method.hidden_dim=16", "train.max_steps=2"],
        described=described,
    )
    assert result.data.info["name"] == "in-memory"

    report = api.evaluate(result.run_dir, task="node_classification", data=graph)
    assert report["data"] == described
    assert report["tasks"]["node_classification"]["random_test_acc_mean"] > 0.0

    with pytest.raises(UsageError, match="in memory"):
        api.evaluate(result.run_dir, task="node_classification")
    # another graph is not the one the run was trained on (the transductive check stays)
    with pytest.raises(DataError, match="does not match the run"):
        api.evaluate(result.run_dir, task="node_classification", data=_graph(make_sbm, seed=1))


def test_register_graph_still_loads_a_mem_path(make_sbm):
    from sslkit.graphs.configs import GraphData
    from sslkit.graphs.data import from_memory, load_data, register_graph

    graph = _graph(make_sbm)
    path = register_graph("sbm", graph)
    a = load_data(GraphData(path=path, normalize="none"))
    b = from_memory(graph, GraphData(normalize="none"))
    assert a.info["fingerprint"] == b.info["fingerprint"]
    assert a.info["num_edges"] == b.info["num_edges"]
