"""Loading, checks and cleaning: real Cora through PyG's reader, bad input, repairs counted."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from sslkit.core.errors import DataError
from sslkit.graphs.configs import GraphData
from sslkit.graphs.data import from_pyg, load_data, register_graph


def _append(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def test_embedded_cora_through_pyg_planetoid():
    d = load_data(GraphData())
    assert d.info["num_nodes"] == 2708 and d.info["num_features"] == 1433
    assert d.info["num_edges"] == 10556 and d.info["num_classes"] == 7
    assert [int(d.masks[k].sum()) for k in ("train", "val", "test")] == [140, 500, 1000]
    assert d.full_batch and d.split_names() == ["train", "val", "test"]
    # row-normalised features, as DGI/GRACE/GraphMAE preprocess Cora
    assert torch.allclose(d.graph.x.sum(1), torch.ones(2708), atol=1e-5)
    b = next(d.eval_batches("test", 4096))
    assert b.inputs["nodes"].numel() == 1000 and b.labels.shape == (1000,)


def test_processes_reading_cora_at_once_all_get_it(tmp_path):
    """Several processes (torchrun ranks, parallel runs) on a fresh cache: each must read the
    whole Cora, none a half-written copy of another's."""
    import os
    import subprocess
    import sys

    code = (
        "from sslkit.graphs.data.io import read_planetoid; "
        "g = read_planetoid(); print(g.x.shape[0], g.edge_index.shape[1])"
    )
    env = {**os.environ, "SSLKIT_CACHE": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300)[0].split()[-2:] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert outs == [["2708", "10556"]] * 4
    left = list((tmp_path / "cache" / "planetoid").glob("*/.build-*"))
    assert left == []  # every private build folder was renamed or removed


def test_embedded_hypergraph():
    d = load_data(GraphData(path="cocitation-cora"))
    assert d.info["num_nodes"] == 2708 and d.info["num_splits"] == 10
    assert d.info["cleaning"]["input_hyperedges"] == 1579
    assert d.split_nodes("train", 3).numel() == 140
    assert d.graph.hyperedge_index.max(1).values[0] < 2708


def test_csv_graph_loads_and_reloads_with_state(csv_graph):
    d = load_data(GraphData(**csv_graph, normalize="standard"))
    assert d.info["num_nodes"] == 90 and d.has_labels()
    again = load_data(GraphData(**csv_graph, normalize="standard"), state=d.state())
    assert torch.equal(d.graph.x, again.graph.x)


def test_edge_out_of_range_names_first_edge(tmp_path, make_csv_graph):
    paths = make_csv_graph(tmp_path)
    lines = Path(paths["path"]).read_text().splitlines()
    lines.insert(5, "3,500")  # file row 6 (1-based, header is row 1)
    lines.insert(9, "700,1")
    Path(paths["path"]).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_data(GraphData(**paths))
    msg = str(err.value)
    assert "row 6" in msg and "node 500" in msg and "90 rows" in msg and "2 edge(s)" in msg


def test_negative_and_non_integer_ids(tmp_path, make_csv_graph):
    paths = make_csv_graph(tmp_path)
    _append(paths["path"], "-1,4\n")
    with pytest.raises(DataError, match="node -1"):
        load_data(GraphData(**paths))
    paths = make_csv_graph(tmp_path)
    _append(paths["path"], "a,4\n")
    with pytest.raises(DataError, match="not an integer"):
        load_data(GraphData(**paths))


def test_features_with_wrong_number_of_rows(tmp_path, make_csv_graph):
    paths = make_csv_graph(tmp_path)
    rows = Path(paths["features"]).read_text().splitlines()
    Path(paths["features"]).write_text("\n".join(rows[:50]) + "\n")
    with pytest.raises(DataError) as err:
        load_data(GraphData(**paths))
    assert "out of range" in str(err.value) and "50 rows" in str(err.value)
    # labels and features disagree
    paths = make_csv_graph(tmp_path)
    labels = Path(paths["labels"]).read_text().splitlines()
    Path(paths["labels"]).write_text("\n".join(labels[:80]) + "\n")
    with pytest.raises(DataError, match="labels has 80 rows but the features has 90"):
        load_data(GraphData(**paths))
    # a PyG Data whose x disagrees with num_nodes
    bad = Data(x=torch.randn(5, 3), edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=7)
    with pytest.raises(DataError, match="5 rows but num_nodes has 7"):
        from_pyg(bad)


def test_empty_graph(tmp_path, make_csv_graph):
    paths = make_csv_graph(tmp_path)
    Path(paths["path"]).write_text("source,target\n")
    with pytest.raises(DataError, match="empty graph"):
        load_data(GraphData(**paths))
    with pytest.raises(DataError, match="empty graph"):
        from_pyg(Data(x=torch.randn(4, 2), edge_index=torch.empty(2, 0, dtype=torch.long)))
    with pytest.raises(DataError, match="no nodes"):
        from_pyg(Data(x=torch.randn(0, 2), edge_index=torch.empty(2, 0, dtype=torch.long)))


def test_self_loops_duplicates_isolated_are_counted_and_logged(caplog):
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 2, 2, 2, 0, 0]])  # dup (1,2), loop (2,2)
    g = Data(x=torch.rand(6, 3), edge_index=ei)  # nodes 4 and 5 are isolated
    with caplog.at_level(logging.INFO, logger="sslkit.graphs"):
        d = from_pyg(g)
    c = d.info["cleaning"]
    assert (c["self_loops"], c["duplicate_edges"], c["isolated_nodes"]) == (1, 1, 2)
    assert c["edges"] == 8  # 4 distinct undirected edges, both directions
    line = [r.getMessage() for r in caplog.records if "self-loops" in r.getMessage()]
    assert line and "1 self-loops removed" in line[0] and "2 isolated nodes" in line[0]
    assert not bool((d.graph.edge_index[0] == d.graph.edge_index[1]).any())


def test_cli_exit_code_is_2_for_bad_data(tmp_path, make_csv_graph):
    paths = make_csv_graph(tmp_path)
    _append(paths["path"], "1,1000\n")
    with pytest.raises(DataError) as err:
        load_data(GraphData(**paths))
    assert err.value.exit_code == 2


def test_hypergraph_out_of_range(tmp_path):
    (tmp_path / "hyperedges.txt").write_text("0 1 2\n1 9\n")
    np.savez(tmp_path / "features.npz", x=np.ones((5, 3), np.float32))
    with pytest.raises(DataError) as err:
        load_data(GraphData(path=str(tmp_path)))
    assert "row 2" in str(err.value) and "node 9" in str(err.value)


def test_user_planetoid_needs_trust(tmp_path):
    from sslkit.graphs.data.io import embedded_path

    for p in embedded_path("planetoid-cora").iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    with pytest.raises(DataError, match="pickles"):
        load_data(GraphData(path=str(tmp_path)))
    d = load_data(GraphData(path=str(tmp_path), trust_pickle=True))
    assert d.info["num_nodes"] == 2708


def test_pyg_objects_graph_set_and_memory():
    graphs = []
    for i in range(6):
        n = 5 + i
        ring = torch.arange(n)
        graphs.append(
            Data(
                x=torch.ones(n, 2),
                edge_index=torch.stack([ring, (ring + 1) % n]),
                y=torch.tensor([i % 2]),
            )
        )
    d = from_pyg(graphs)
    assert d.info["kind"] == "graphs" and d.info["num_graphs"] == 6
    b = next(d.eval_batches("all", 4))
    assert int(b.inputs["batch"].max()) == 3 and list(b.labels) == [0, 1, 0, 1]
    path = register_graph("rings", graphs)
    assert load_data(GraphData(path=path)).info["num_graphs"] == 6


def test_holdout_edges_are_removed_from_training_graph():
    d = load_data(GraphData(holdout_edges=0.1))
    pos, neg = d.holdout["pos"], d.holdout["neg"]
    assert pos.size(1) == neg.size(1) == 528
    train = set(map(tuple, d.graph.edge_index.t().tolist()))
    assert not any((u, v) in train or (v, u) in train for u, v in pos.t().tolist())
    assert d.graph.edge_index.size(1) == 10556 - 2 * 528
