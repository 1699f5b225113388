"""``load_data(config, state=None)``: the graphs plugin's data entry point.

``config.path`` may be:

- ``""`` or ``"cora"``: the embedded Planetoid Cora (public split), read by PyG's ``Planetoid``;
- ``"cocitation-cora"``: the embedded co-citation Cora hypergraph with its 10 splits;
- a Planetoid raw folder (``ind.<name>.*``; needs ``data.trust_pickle=true``: they are pickles);
- a hypergraph folder (``hyperedges.txt`` + ``features.npz``/``.csv`` [+ ``labels.txt``,
  ``splits/``]);
- an edge-list CSV, with ``data.features`` (CSV or NPZ) and optional ``data.labels``;
- ``pyg:<Class>:<root>[:<name>]``: a dataset class of ``torch_geometric.datasets`` read from
  ``root`` (offline when its files are there), e.g. ``pyg:TUDataset:/data/TU:MUTAG``;
- ``mem:<name>``: a PyG ``Data``, a list of them or a PyG dataset registered in this process with
  :func:`register_graph` (a config file or ``--set data.path=mem:<name>`` run in-process).

Data already in memory goes to the Python API directly: ``api.pretrain("graphs", data=pyg_data)``
(and ``api.evaluate(run, data=pyg_data)``), through the plugin's ``from_memory`` hook,
:func:`from_memory`. :func:`from_pyg` turns an in-memory PyG object into a :class:`DomainData`
without a run; ``from_memory`` and ``mem:`` both go through it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from sslkit.core.errors import DataError, UsageError
from sslkit.graphs.configs import GraphData
from sslkit.graphs.data.clean import (
    check_edge_range,
    check_num_nodes,
    check_rows,
    clean_edges,
    clean_hyperedges,
)
from sslkit.graphs.data.domain import GraphSetData, HypergraphData, NodeGraphData, _fingerprint
from sslkit.graphs.data.io import (
    RawGraph,
    looks_like,
    read_edge_csv,
    read_hypergraph,
    read_planetoid,
)

__all__ = [
    "GraphData",
    "GraphSetData",
    "HypergraphData",
    "NodeGraphData",
    "from_memory",
    "from_pyg",
    "load_data",
    "register_graph",
]

log = logging.getLogger("sslkit.graphs")

_MEMORY: dict[str, Any] = {}


def register_graph(name: str, obj: Any) -> str:
    """Register a PyG ``Data``, list of ``Data`` or dataset in this process; returns the
    ``data.path`` that loads it (``mem:<name>``), for configs that name their data by path.
    From Python, ``api.pretrain("graphs", data=obj)`` needs no registration."""
    _MEMORY[name] = obj
    return f"mem:{name}"


def load_data(config: GraphData | None = None, state: dict[str, Any] | None = None):
    config = config or GraphData()
    path = (config.path or "").strip()
    low = path.lower()
    if low in ("", "cora"):
        return _node_data(read_planetoid(None), config, state)
    if low in ("cocitation-cora", "cocitation_cora"):
        return _hyper_data(read_hypergraph(None), config, state)
    if low.startswith("mem:"):
        name = path[4:]
        if name not in _MEMORY:
            raise UsageError(
                f"no in-memory graph {name!r}; registered: {', '.join(_MEMORY) or '(none)'}"
            )
        return from_pyg(_MEMORY[name], config, state, name=name)
    if low.startswith("pyg:"):
        return from_pyg(_pyg_dataset(path), config, state, name=path)
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(
            "no such file or folder",
            path=p,
            hint="give an edge-list CSV, a Planetoid or hypergraph folder, or a data set name "
            "(cora, cocitation-cora)",
        )
    kind = looks_like(p)
    if kind == "planetoid":
        return _node_data(read_planetoid(p, trust_pickle=config.trust_pickle), config, state)
    if kind == "hypergraph":
        return _hyper_data(read_hypergraph(p), config, state)
    if kind == "edge_csv":
        return _node_data(read_edge_csv(p, config.features, config.labels), config, state)
    raise DataError(
        "cannot tell what graph format this is",
        path=p,
        hint="expected an edge-list .csv, a folder with hyperedges.txt, or a Planetoid folder "
        "(ind.<name>.*)",
    )


def _pyg_dataset(spec: str) -> Any:
    parts = spec.split(":", 3)
    if len(parts) < 3:
        raise UsageError(
            f"{spec!r}: write pyg:<Class>:<root>[:<name>], e.g. pyg:TUDataset:data:MUTAG"
        )
    import torch_geometric.datasets as D

    cls = getattr(D, parts[1], None)
    if cls is None:
        raise UsageError(f"torch_geometric.datasets has no {parts[1]!r}")
    try:
        return cls(parts[2], parts[3]) if len(parts) > 3 else cls(parts[2])
    except Exception as exc:
        raise DataError(
            f"PyG could not load {parts[1]}: {type(exc).__name__}: {exc}",
            path=parts[2],
            hint="put the data set's raw files under root (no network is used when present)",
        ) from exc


# ---------------------------------------------------------------------------------------------
# features


def _normalize(x: Tensor, how: str, state: dict[str, Any] | None) -> tuple[Tensor, dict[str, Any]]:
    x = x.float()
    if state is not None and "num_features" in state and int(state["num_features"]) != x.size(1):
        raise DataError(
            f"the data has {x.size(1)} node features but the run was trained on "
            f"{state['num_features']}",
            hint="evaluate and export with data of the same feature columns",
        )
    how = (state or {}).get("normalize", how)
    out: dict[str, Any] = {"normalize": how, "num_features": int(x.size(1))}
    if how == "row":
        s = x.sum(1, keepdim=True)
        x = x / s.clamp(min=1e-12).where(s != 0, torch.ones_like(s))
    elif how == "standard":
        if state is not None and "mean" in state:
            mean, std = torch.tensor(state["mean"]), torch.tensor(state["std"])
        else:
            mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
        out["mean"], out["std"] = mean.tolist(), std.tolist()
        x = (x - mean) / std
    if not torch.isfinite(x).all():
        bad = torch.nonzero(~torch.isfinite(x))[0].tolist()
        raise DataError(
            f"node features hold NaN or infinite values (first at node {bad[0]}, feature {bad[1]})",
            hint="fill or drop missing feature values",
        )
    return x, out


# ---------------------------------------------------------------------------------------------
# node-level graphs


def _holdout(ei: Tensor, n: int, frac: float, seed: int) -> tuple[Tensor, dict[str, Tensor]]:
    """Remove ``frac`` of the undirected edges (both directions); sample as many non-edges."""
    gen = torch.Generator().manual_seed(int(seed))
    und = ei[:, ei[0] < ei[1]]
    perm = torch.randperm(und.size(1), generator=gen)
    k = max(1, round(frac * und.size(1)))
    pos = und[:, perm[:k]]
    drop = set((pos[0] * n + pos[1]).tolist())
    key = torch.minimum(ei[0], ei[1]) * n + torch.maximum(ei[0], ei[1])
    keep = torch.tensor([int(v) not in drop for v in key.tolist()], dtype=torch.bool)
    existing = set(key.tolist())
    negs: list[tuple[int, int]] = []
    while len(negs) < k:
        cand = torch.randint(0, n, (2, 2 * k), generator=gen)
        for u, v in cand.t().tolist():
            a, b = min(u, v), max(u, v)
            if a != b and a * n + b not in existing:
                existing.add(a * n + b)
                negs.append((a, b))
                if len(negs) == k:
                    break
    neg = torch.tensor(negs, dtype=torch.long).t()
    return ei[:, keep], {"pos": pos, "neg": neg}


def _node_data(raw: RawGraph, config: GraphData, state: dict[str, Any] | None) -> NodeGraphData:
    n = int(raw.x.size(0))
    check_num_nodes(n, source=raw.source)
    check_edge_range(raw.edge_index, n, source=raw.source)
    for note in raw.notes:
        log.warning(note)
    ei, stats = clean_edges(raw.edge_index, n, undirected=config.undirected, source=raw.source)
    x, st = _normalize(raw.x, config.normalize, state)
    holdout = None
    if config.holdout_edges > 0:
        if not 0 < config.holdout_edges < 1:
            raise UsageError("data.holdout_edges must be between 0 and 1")
        ei, holdout = _holdout(ei, n, config.holdout_edges, config.split_seed)
    graph = Data(x=x, edge_index=ei, num_nodes=n)
    if raw.y is not None:
        graph.y = raw.y
    full = config.batching == "full" or (
        config.batching == "auto"
        and n <= config.max_full_batch_nodes
        and ei.size(1) <= config.max_full_batch_edges
    )
    num_classes = int(raw.y.max()) + 1 if raw.y is not None and (raw.y >= 0).any() else 0
    info = {
        "kind": "graph",
        "name": raw.name,
        "source": raw.source,
        "num_nodes": n,
        "num_edges": int(ei.size(1)),
        "num_features": int(x.size(1)),
        "num_classes": num_classes,
        "classes": raw.classes,
        "full_batch": bool(full),
        "num_neighbors": list(config.num_neighbors),
        "cleaning": stats,
        "holdout_edges": int(holdout["pos"].size(1)) if holdout else 0,
        "split_seed": int(config.split_seed),
        "fingerprint": _fingerprint(raw.x, raw.edge_index),
    }
    st["fingerprint"] = info["fingerprint"]
    return NodeGraphData(
        graph,
        info=info,
        state=st,
        masks=raw.masks,
        full_batch=full,
        num_neighbors=tuple(config.num_neighbors),
        sampler=config.sampler,
        holdout=holdout,
        node_ids=raw.node_ids,
    )


# ---------------------------------------------------------------------------------------------
# hypergraphs


def _hyper_data(raw, config: GraphData, state: dict[str, Any] | None) -> HypergraphData:
    n = int(raw.x.size(0))
    index, stats = clean_hyperedges(raw.hyperedges, n, source=raw.source)
    x, st = _normalize(raw.x, config.normalize, state)
    graph = Data(x=x, hyperedge_index=index, num_nodes=n)
    graph.num_hyperedges = int(index[1].max()) + 1
    if raw.y is not None:
        graph.y = raw.y
    info = {
        "kind": "hypergraph",
        "name": raw.name,
        "source": raw.source,
        "num_nodes": n,
        "num_hyperedges": graph.num_hyperedges,
        "num_features": int(x.size(1)),
        "num_classes": int(raw.y.max()) + 1 if raw.y is not None else 0,
        "num_splits": len(raw.splits),
        "full_batch": True,
        "cleaning": stats,
        "fingerprint": _fingerprint(raw.x, index),
    }
    st["fingerprint"] = info["fingerprint"]
    return HypergraphData(graph, info=info, state=st, splits=raw.splits)


# ---------------------------------------------------------------------------------------------
# PyG objects


def from_pyg(
    obj: Any,
    config: GraphData | None = None,
    state: dict[str, Any] | None = None,
    *,
    name: str = "pyg",
):
    """A PyG ``Data`` (one graph; ``hyperedge_index`` makes it a hypergraph), a list of ``Data``
    or a PyG dataset (several graphs -> graph-level data) as :class:`DomainData`."""
    config = config or GraphData()
    if isinstance(obj, Data):
        return _single_pyg(obj, config, state, name)
    try:
        graphs = [obj[i] for i in range(len(obj))]
    except TypeError:
        raise DataError(
            f"cannot read a {type(obj).__name__} as a graph",
            hint="give a torch_geometric Data, a list of Data or a PyG dataset",
        ) from None
    if not graphs:
        raise DataError("the data set has no graphs (an empty graph set)", path=name)
    if len(graphs) == 1:
        return _single_pyg(graphs[0], config, state, name)
    return _graph_set(graphs, config, state, name)


MEMORY_NAME = "in-memory"
"""The graph name (``info.json``'s ``name`` and ``source``) of data given with ``data=``: the
same for the same object at pretrain and evaluate, whatever ``data.path`` describes."""


def from_memory(obj: Any, config: GraphData, state: dict[str, Any] | None = None):
    """The plugin's ``from_memory`` hook: ``api.pretrain("graphs", data=obj)``,
    ``api.evaluate(run, data=obj)`` and ``api.export(run, data=obj)`` load a PyG ``Data`` (a
    list of ``Data`` or a PyG dataset: graph-level data) here, with the run's ``[data]``
    options, as a ``mem:`` path does. ``state`` reuses a run's fitted preprocessing."""
    return from_pyg(obj, config, state, name=MEMORY_NAME)


def _check_pyg(d: Data, where: str) -> int:
    if getattr(d, "x", None) is None:
        raise DataError("graph has no node features (data.x)", path=where)
    n = int(d.x.size(0))
    declared = d.num_nodes if "num_nodes" in d else None
    if declared is not None and int(declared) != n:
        check_rows(n, int(declared), source=where, what="node features (x)", against="num_nodes")
    check_num_nodes(n, source=where)
    if getattr(d, "y", None) is not None and d.y.dim() >= 1 and d.y.size(0) not in (1, n):
        check_rows(int(d.y.size(0)), n, source=where, what="labels (y)", against="x")
    return n


def _single_pyg(d: Data, config: GraphData, state, name: str):
    n = _check_pyg(d, name)
    if getattr(d, "hyperedge_index", None) is not None:
        from sslkit.graphs.data.io import RawHypergraph

        hi = d.hyperedge_index
        check_edge_range(hi[:1].repeat(2, 1), n, source=name, what="membership")
        groups: dict[int, list[int]] = {}
        for v, e in hi.t().tolist():
            groups.setdefault(e, []).append(v)
        raw = RawHypergraph(
            x=d.x, hyperedges=list(groups.values()), y=getattr(d, "y", None), source=name, name=name
        )
        return _hyper_data(raw, config, state)
    masks = {
        k: getattr(d, f"{k}_mask")
        for k in ("train", "val", "test")
        if getattr(d, f"{k}_mask", None) is not None and getattr(d, f"{k}_mask").dim() == 1
    }
    ei = getattr(d, "edge_index", None)
    if ei is None:
        ei = torch.empty(2, 0, dtype=torch.long)
    raw = RawGraph(
        x=d.x, edge_index=ei, y=getattr(d, "y", None), masks=masks, source=name, name=name
    )
    return _node_data(raw, config, state)


def _graph_set(graphs: list[Data], config: GraphData, state, name: str) -> GraphSetData:
    out = []
    totals = {
        "self_loops": 0,
        "duplicate_edges": 0,
        "isolated_nodes": 0,
        "input_edges": 0,
        "edges": 0,
    }
    nf = None
    xs = []
    for i, d in enumerate(graphs):
        where = f"{name}[{i}]"
        n = _check_pyg(d, where)
        if nf is None:
            nf = int(d.x.size(1))
        elif int(d.x.size(1)) != nf:
            raise DataError(f"graph has {d.x.size(1)} node features, graph 0 has {nf}", path=where)
        ei = (
            d.edge_index
            if getattr(d, "edge_index", None) is not None
            else torch.empty(2, 0, dtype=torch.long)
        )
        check_edge_range(ei, n, source=where)
        # small molecules may have no edges: keep them, count nothing to repair
        ei, st = _clean_quiet(ei, n, config.undirected)
        for k in totals:
            totals[k] += st[k]
        g = Data(x=d.x.float(), edge_index=ei, num_nodes=n)
        if getattr(d, "y", None) is not None:
            g.y = d.y.view(-1)[:1].long()
        out.append(g)
        xs.append(g.x)
    from sslkit.graphs.data.clean import report

    report(totals, name)
    allx = torch.cat(xs)
    _, st = _normalize(allx, config.normalize if config.normalize != "row" else "none", state)
    if st["normalize"] == "standard":
        mean, std = torch.tensor(st["mean"]), torch.tensor(st["std"])
        for g in out:
            g.x = (g.x - mean) / std
    labels = [int(g.y) for g in out if getattr(g, "y", None) is not None]
    info = {
        "kind": "graphs",
        "name": name,
        "source": name,
        "num_graphs": len(out),
        "num_nodes": int(allx.size(0)),
        "num_features": int(allx.size(1)),
        "num_classes": (max(labels) + 1) if labels else 0,
        "full_batch": False,
        "cleaning": totals,
        "fingerprint": _fingerprint(allx),
    }
    st["fingerprint"] = info["fingerprint"]
    return GraphSetData(out, info=info, state=st)


def _clean_quiet(ei: Tensor, n: int, undirected: bool) -> tuple[Tensor, dict[str, int]]:
    ei = ei.long()
    n_in = int(ei.size(1))
    loops = ei[0] == ei[1]
    ei = ei[:, ~loops]
    keys = ei[0] * n + ei[1]
    uniq = torch.unique(keys)
    n_dup = int(keys.numel() - uniq.numel())
    if undirected and uniq.numel():
        uniq = torch.unique(torch.cat([uniq, (uniq % n) * n + uniq // n]))
    ei = torch.stack([uniq // n, uniq % n])
    touched = torch.zeros(n, dtype=torch.bool)
    touched[ei.reshape(-1)] = True
    return ei, {
        "input_edges": n_in,
        "self_loops": int(loops.sum()),
        "duplicate_edges": n_dup,
        "isolated_nodes": int((~touched).sum()),
        "edges": int(ei.size(1)),
    }
