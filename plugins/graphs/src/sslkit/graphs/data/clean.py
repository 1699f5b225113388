"""Checks and cleaning of graph structure: one clear error for bad input, counts for the rest.

Bad input (edge ids out of range, features with the wrong number of rows, an empty graph) raises
one :class:`sslkit.core.errors.DataError` that names the first offending edge and its file row.
What can be repaired (self-loops, duplicate edges, isolated nodes) is repaired and counted; the
counts go to the run's log (one line) and to ``info["cleaning"]``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from sslkit.core.errors import DataError

log = logging.getLogger("sslkit.graphs")


def check_num_nodes(num_nodes: int, *, source: Any, what: str = "graph") -> None:
    if num_nodes <= 0:
        raise DataError(
            f"the {what} has no nodes",
            path=source,
            hint="give a non-empty edge list and node features",
        )


def check_edge_range(
    edge_index: np.ndarray | torch.Tensor,
    num_nodes: int,
    *,
    source: Any,
    rows: np.ndarray | None = None,
    feature_source: Any = None,
    what: str = "edge",
) -> None:
    """Raise a :class:`DataError` naming the first ``edge_index`` column with an id outside
    ``[0, num_nodes)``. ``rows[i]`` is the file row of column ``i`` (1-based), when known."""
    ei = torch.as_tensor(edge_index)
    if ei.numel() == 0:
        return
    bad = ((ei < 0) | (ei >= num_nodes)).any(dim=0)
    if not bool(bad.any()):
        return
    first = int(torch.nonzero(bad)[0, 0])
    u, v = (int(a) for a in ei[:, first])
    node = u if (u < 0 or u >= num_nodes) else v
    n_bad = int(bad.sum())
    where = f"{what} {first}"
    feats = f" the node features ({feature_source}) have" if feature_source else " the graph has"
    raise DataError(
        f"{where} ({u}, {v}) refers to node {node}, out of range:{feats} {num_nodes} rows, "
        f"so node ids go from 0 to {num_nodes - 1} ({n_bad} {what}(s) out of range in all)",
        path=source,
        row=int(rows[first]) if rows is not None else None,
        hint="fix the ids, or give features with one row per node",
    )


def check_rows(n_rows: int, expected: int, *, source: Any, what: str, against: str) -> None:
    if n_rows != expected:
        raise DataError(
            f"{what} has {n_rows} rows but {against} has {expected}",
            path=source,
            hint=f"give exactly one {what} row per node, in node-id order",
        )


def clean_edges(
    edge_index: torch.Tensor, num_nodes: int, *, undirected: bool, source: Any = None
) -> tuple[torch.Tensor, dict[str, int]]:
    """Drop self-loops and duplicate edges, optionally add reverse edges; count what was done.

    Returns the cleaned, sorted ``edge_index`` and ``{"self_loops", "duplicate_edges",
    "isolated_nodes", "input_edges", "edges"}``.
    """
    ei = edge_index.long()
    n_in = int(ei.size(1))
    if n_in == 0:
        raise DataError(
            "the graph has no edges (an empty graph)",
            path=source,
            hint="give an edge list with at least one edge (source, target per row)",
        )
    loops = ei[0] == ei[1]
    n_loops = int(loops.sum())
    ei = ei[:, ~loops]
    keys = ei[0] * num_nodes + ei[1]
    uniq = torch.unique(keys)
    n_dup = int(keys.numel() - uniq.numel())
    if undirected:
        src, dst = uniq // num_nodes, uniq % num_nodes
        both = torch.cat([uniq, dst * num_nodes + src])
        uniq = torch.unique(both)
    ei = torch.stack([uniq // num_nodes, uniq % num_nodes])
    if ei.size(1) == 0:
        raise DataError(
            f"the graph has no edges once its {n_loops} self-loops are removed",
            path=source,
            hint="give an edge list with at least one edge between two different nodes",
        )
    touched = torch.zeros(num_nodes, dtype=torch.bool)
    touched[ei.reshape(-1)] = True
    n_iso = int((~touched).sum())
    stats = {
        "input_edges": n_in,
        "self_loops": n_loops,
        "duplicate_edges": n_dup,
        "isolated_nodes": n_iso,
        "edges": int(ei.size(1)),
    }
    report(stats, source)
    return ei, stats


def report(stats: dict[str, int], source: Any = None, kind: str = "graph") -> None:
    """One log line with what cleaning did (warning level when anything was repaired)."""
    name = f" {source}" if source else ""
    if kind == "hypergraph":
        text = (
            f"hypergraph{name}: {stats['hyperedges']} hyperedges kept, "
            f"{stats['duplicate_hyperedges']} duplicate hyperedges merged, "
            f"{stats['repeated_members']} repeated members removed, "
            f"{stats['singleton_hyperedges']} single-node hyperedges, "
            f"{stats['isolated_nodes']} isolated nodes (in no hyperedge, kept)"
        )
        repaired = stats["duplicate_hyperedges"] + stats["repeated_members"]
    else:
        text = (
            f"graph{name}: {stats['input_edges']} edges read, {stats['self_loops']} self-loops "
            f"removed, {stats['duplicate_edges']} duplicate edges merged, "
            f"{stats['isolated_nodes']} isolated nodes (kept), {stats['edges']} directed edges "
            "used"
        )
        repaired = stats["self_loops"] + stats["duplicate_edges"]
    if repaired or stats.get("isolated_nodes"):
        log.warning(text)
    else:
        log.info(text)


def clean_hyperedges(
    hyperedges: list[list[int]], num_nodes: int, *, source: Any = None
) -> tuple[torch.Tensor, dict[str, int]]:
    """``hyperedges`` (lists of node ids) -> incidence ``(2, nnz)`` [node; hyperedge], with
    repeated members and duplicate hyperedges removed and counted."""
    if not hyperedges:
        raise DataError(
            "the hypergraph has no hyperedges (an empty graph)",
            path=source,
            hint="give one hyperedge a line: node ids separated by spaces or commas",
        )
    seen: set[tuple[int, ...]] = set()
    nodes, edges = [], []
    n_dup = n_rep = n_single = 0
    for members in hyperedges:
        uniq = tuple(sorted(set(members)))
        n_rep += len(members) - len(uniq)
        if uniq in seen:
            n_dup += 1
            continue
        seen.add(uniq)
        if len(uniq) == 1:
            n_single += 1
        e = len(seen) - 1
        nodes.extend(uniq)
        edges.extend([e] * len(uniq))
    index = torch.tensor([nodes, edges], dtype=torch.long)
    touched = torch.zeros(num_nodes, dtype=torch.bool)
    touched[index[0]] = True
    stats = {
        "input_hyperedges": len(hyperedges),
        "hyperedges": len(seen),
        "duplicate_hyperedges": n_dup,
        "repeated_members": n_rep,
        "singleton_hyperedges": n_single,
        "isolated_nodes": int((~touched).sum()),
        "memberships": int(index.size(1)),
    }
    report(stats, source, kind="hypergraph")
    return index, stats
