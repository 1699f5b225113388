"""Readers: Planetoid raw files (PyG's own reader), edge-list CSV + features, hyperedge lists.

Each returns plain tensors (``x``, ``edge_index`` / hyperedge lists, labels, splits) and checks
the input, raising one :class:`DataError` that names the file and row of the first problem.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslkit.core.data import cache_dir
from sslkit.core.errors import DataError
from sslkit.graphs.data.clean import check_edge_range, check_num_nodes, check_rows

PLANETOID_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")

# sha256 of the shipped Planetoid Cora files (kimiyoung/planetoid @af6abf46): they are pickles,
# so they are only handed to PyG's reader when they are exactly the files we ship.
CORA_SHA256 = {
    "ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
}


@dataclass
class RawGraph:
    """A node-level graph as read from its source (before cleaning)."""

    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor | None = None
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    """Given splits (``train``/``val``/``test`` boolean masks), e.g. Planetoid's public split."""
    source: str = ""
    name: str = ""
    classes: list[str] | None = None
    node_ids: list[str] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RawHypergraph:
    x: torch.Tensor
    hyperedges: list[list[int]]
    y: torch.Tensor | None = None
    splits: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)
    """Given (train node ids, test node ids) splits."""
    source: str = ""
    name: str = ""


def embedded_path(*parts: str) -> Path:
    """A file or folder of the sample data shipped in ``sslkit/graphs/datasets/``."""
    return Path(str(resources.files("sslkit.graphs.datasets").joinpath(*parts)))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Planetoid


def planetoid_prefix(folder: Path) -> str | None:
    """``cora`` for a folder holding ``ind.cora.*`` (directly or in ``<Name>/raw/``)."""
    for p in sorted(folder.glob("ind.*.x")):
        return p.name[len("ind.") : -len(".x")]
    return None


def read_planetoid(folder: Path | None = None, *, trust_pickle: bool = False) -> RawGraph:
    """Planetoid raw files through PyG's ``Planetoid`` (offline: the files are copied to
    ``<cache>/planetoid/<hash>/built/<Name>/raw/`` so PyG finds them and never downloads).

    ``folder=None`` reads the embedded Cora, verified against its known hashes.
    """
    from torch_geometric.datasets import Planetoid

    embedded = folder is None
    src = embedded_path("planetoid-cora") if embedded else Path(folder)
    if not embedded and (src / "raw").is_dir():
        src = src / "raw"
    prefix = planetoid_prefix(src)
    if prefix is None:
        raise DataError(
            "no Planetoid raw files (ind.<name>.x, ...) in this folder",
            path=src,
            hint="point data.path at the folder holding ind.cora.* / ind.citeseer.* / ind.pubmed.*",
        )
    files = {s: src / f"ind.{prefix}.{s}" for s in PLANETOID_SUFFIXES}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise DataError(
            f"Planetoid folder lacks {', '.join(missing)}",
            path=src,
            hint="all 8 ind.<name>.* files are needed",
        )
    digest = hashlib.sha256()
    for name in sorted(p.name for p in files.values()):
        h = _sha256(src / name)
        if embedded and CORA_SHA256.get(name) != h:
            raise DataError(
                f"embedded file {name} does not match its known hash",
                path=src,
                hint="reinstall sslkit-graphs",
            )
        digest.update(h.encode())
    if not embedded and not trust_pickle:
        raise DataError(
            "Planetoid raw files are Python pickles and can run code when read",
            path=src,
            hint="set data.trust_pickle=true if you trust these files",
        )
    if prefix.lower() not in ("cora", "citeseer", "pubmed"):
        raise DataError(
            f"PyG's Planetoid reader knows cora, citeseer and pubmed, not {prefix!r}",
            path=src,
        )
    name = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}[prefix.lower()]
    root = cache_dir("graphs") / "planetoid" / digest.hexdigest()[:16] / "built"
    try:
        if not root.is_dir():
            _build_planetoid(root, name, files)
        ds = Planetoid(str(root), name, split="public")
    except Exception as exc:
        raise DataError(
            f"PyG could not read the Planetoid files: {type(exc).__name__}: {exc}", path=src
        ) from exc
    d = ds[0]
    return RawGraph(
        x=d.x.float(),
        edge_index=d.edge_index,
        y=d.y.long(),
        masks={"train": d.train_mask, "val": d.val_mask, "test": d.test_mask},
        source="cora (embedded)" if embedded else str(src),
        name=prefix.lower(),
    )


def _build_planetoid(root: Path, name: str, files: dict[str, Path]) -> None:
    """PyG's processed Cora/CiteSeer/PubMed made in a private folder, then renamed to ``root``
    in one step: processes that load the same files at once (torchrun ranks, parallel runs)
    never read a half-copied raw file or a half-written ``processed/data.pt``."""
    import uuid

    from torch_geometric.datasets import Planetoid

    root.parent.mkdir(parents=True, exist_ok=True)
    # mkdir, not tempfile.mkdtemp: the folder keeps the umask's permissions once published,
    # so a cache shared between users stays readable
    tmp = root.parent / f".build-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        raw = tmp / name / "raw"
        raw.mkdir(parents=True)
        for p in files.values():
            shutil.copyfile(p, raw / p.name)
        Planetoid(str(tmp), name, split="public")
        try:
            tmp.rename(root)
        except OSError:
            if not root.is_dir():
                raise
            # another process published it first: keep theirs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# edge-list CSV


_ID_COLUMNS = ("id", "node", "node_id", "nodeid")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_features(path: Path) -> tuple[torch.Tensor, list[str] | None]:
    """Node features from a CSV (optional id column, optional header) or an NPZ."""
    if not path.is_file():
        raise DataError("features file does not exist", path=path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if {"format", "shape", "data"} <= set(keys):
                import scipy.sparse as sp

                x = np.asarray(sp.load_npz(path).todense())
            elif "x" in keys:
                x = z["x"]
            elif len(keys) == 1:
                x = z[keys[0]]
            else:
                raise DataError(
                    f"NPZ has arrays {', '.join(keys)}; which are the features?",
                    path=path,
                    hint="name the feature array `x`",
                )
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
            raise DataError(
                f"features must be a 2-D numeric array, got shape {x.shape} of {x.dtype}",
                path=path,
            )
        return torch.as_tensor(np.asarray(x, dtype=np.float32)), None
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    header = not all(_is_number(c) for c in df.columns if c.lower() not in _ID_COLUMNS)
    if not header:
        df = pd.read_csv(path, dtype=str, header=None, keep_default_na=False)
        df.columns = [str(c) for c in df.columns]
    ids = None
    id_cols = [c for c in df.columns if str(c).lower() in _ID_COLUMNS]
    if id_cols:
        ids = df[id_cols[0]].astype(str).tolist()
        df = df.drop(columns=id_cols[0])
    if len(df) == 0:
        raise DataError("features file has no rows", path=path)
    first_row = 2 if header else 1
    values = np.empty(df.shape, dtype=np.float32)
    for j, col in enumerate(df.columns):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"feature value {df[col].iloc[i]!r} is not a number",
                path=path,
                row=i + first_row,
                column=str(col),
                hint="features must be numeric; encode categories first",
            )
        values[:, j] = num.to_numpy(dtype=np.float32)
    if ids is not None and len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"node id {dup!r} appears twice", path=path, column=id_cols[0])
    return torch.from_numpy(values), ids


def read_labels(
    path: Path, num_nodes: int, ids: list[str] | None
) -> tuple[torch.Tensor, list[str]]:
    """Labels, one a row (or ``id,label``); empty cells mean unlabeled (-1)."""
    import pandas as pd

    if not path.is_file():
        raise DataError("labels file does not exist", path=path)
    df = pd.read_csv(path, dtype=str, header=None, keep_default_na=False)
    first = [str(v).strip().lower() for v in df.iloc[0]] if len(df) else []
    if first and (first[-1] in ("label", "labels", "y", "class") or first[0] in _ID_COLUMNS):
        df = df.iloc[1:].reset_index(drop=True)
    if df.shape[1] >= 2:
        keys, raw = df.iloc[:, 0].astype(str).tolist(), df.iloc[:, 1].astype(str).tolist()
        index = {k: i for i, k in enumerate(ids)} if ids is not None else None
        labels = [""] * num_nodes
        for r, (k, v) in enumerate(zip(keys, raw)):
            pos = index.get(k) if index is not None else (int(k) if k.isdigit() else None)
            if pos is None or pos >= num_nodes:
                raise DataError(
                    f"labelled node {k!r} is not a node of the graph",
                    path=path,
                    row=r + 1,
                    hint="label ids must match the feature rows (or their id column)",
                )
            labels[pos] = v.strip()
    else:
        labels = [str(v).strip() for v in df.iloc[:, 0]]
        check_rows(len(labels), num_nodes, source=path, what="labels", against="the features")
    classes = sorted({v for v in labels if v}, key=lambda s: (not s.lstrip("-").isdigit(), s))
    if all(c.lstrip("-").isdigit() for c in classes):
        classes = sorted(classes, key=int)
    lookup = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([lookup[v] if v else -1 for v in labels], dtype=torch.long)
    return y, classes


def read_edge_csv(path: Path, features: str = "", labels: str = "") -> RawGraph:
    """An edge list (source, target per row; a header is optional, extra columns ignored),
    node features (CSV or NPZ) and optional labels."""
    import pandas as pd

    if not path.is_file():
        raise DataError("edge-list file does not exist", path=path)
    try:
        df = pd.read_csv(path, dtype=str, header=None, keep_default_na=False, comment="#")
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    x, ids, notes = None, None, []
    if features:
        x, ids = read_features(Path(features))
    header = 0
    if len(df) and not (
        _is_number(df.iloc[0, 0]) and df.shape[1] > 1 and _is_number(df.iloc[0, 1])
    ):
        if ids is None or (df.iloc[0, 0] not in set(ids)):
            header = 1
    body = df.iloc[header:]
    if len(body) == 0:
        raise DataError(
            "the graph has no edges (an empty graph)",
            path=path,
            hint="give one edge a row: source,target",
        )
    if df.shape[1] < 2:
        raise DataError(
            "an edge list needs two columns (source, target)",
            path=path,
            hint="write one edge a row: source,target",
        )
    src_s, dst_s = body.iloc[:, 0].astype(str).str.strip(), body.iloc[:, 1].astype(str).str.strip()
    file_rows = np.arange(len(body)) + header + 1
    if ids is not None:
        lookup = {k: i for i, k in enumerate(ids)}
        src = src_s.map(lookup)
        dst = dst_s.map(lookup)
        for col, s, raw in (("source", src, src_s), ("target", dst, dst_s)):
            bad = s.isna().to_numpy()
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"edge {i} refers to node {raw.iloc[i]!r}, which is not in the features' "
                    f"id column ({features})",
                    path=path,
                    row=int(file_rows[i]),
                    column=col,
                    hint="every edge end must be an id of the features file",
                )
        ei = torch.tensor(np.stack([src.to_numpy(np.int64), dst.to_numpy(np.int64)]))
    else:
        arrs = []
        for col, s in (("source", src_s), ("target", dst_s)):
            num = pd.to_numeric(s, errors="coerce")
            bad = (num.isna() | (num != num.round())).to_numpy()
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"node id {s.iloc[i]!r} is not an integer",
                    path=path,
                    row=int(file_rows[i]),
                    column=col,
                    hint="use 0-based integer node ids, or give features with an `id` column",
                )
            arrs.append(num.to_numpy(np.int64))
        ei = torch.tensor(np.stack(arrs))
    if x is None:
        n = int(ei.max()) + 1 if ei.numel() else 0
        check_num_nodes(n, source=path)
        check_edge_range(ei, n, source=path, rows=file_rows)
        deg = torch.bincount(ei.reshape(-1), minlength=n).float()
        x = torch.stack([torch.ones(n), torch.log1p(deg)], dim=1)
        notes.append("no features given: using [1, log(1 + degree)] as node features")
    else:
        check_num_nodes(x.size(0), source=features)
        check_edge_range(ei, x.size(0), source=path, rows=file_rows, feature_source=features)
    y, classes = (None, None)
    if labels:
        y, classes = read_labels(Path(labels), x.size(0), ids)
    return RawGraph(
        x=x,
        edge_index=ei,
        y=y,
        source=str(path),
        name=path.stem,
        classes=classes,
        node_ids=ids,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# hypergraphs


def read_hypergraph(folder: Path | None = None) -> RawHypergraph:
    """A folder with ``hyperedges.txt`` (one hyperedge a line: 0-based node ids separated by
    spaces or commas), ``features.npz`` (scipy sparse or array ``x``) or ``features.csv``,
    optional ``labels.txt`` and optional ``splits/<k>.train.txt`` / ``<k>.test.txt``.
    ``None`` reads the embedded co-citation Cora."""
    embedded = folder is None
    root = embedded_path("cocitation-cora") if embedded else Path(folder)
    hpath = root / "hyperedges.txt"
    if not hpath.is_file():
        raise DataError("no hyperedges.txt in this folder", path=root)
    feat = next((root / f for f in ("features.npz", "features.csv") if (root / f).is_file()), None)
    if feat is None:
        raise DataError(
            "no features.npz or features.csv beside hyperedges.txt",
            path=root,
            hint="give node features, one row per node",
        )
    x, _ = read_features(feat)
    n = x.size(0)
    check_num_nodes(n, source=feat, what="hypergraph")
    hyperedges: list[list[int]] = []
    for lineno, line in enumerate(hpath.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        try:
            members = [int(p) for p in parts]
        except ValueError:
            raise DataError(
                f"hyperedge members must be integer node ids, got {line.strip()!r}",
                path=hpath,
                row=lineno,
            ) from None
        for v in members:
            if v < 0 or v >= n:
                raise DataError(
                    f"hyperedge {len(hyperedges)} refers to node {v}, out of range: the "
                    f"features ({feat.name}) have {n} rows, so node ids go from 0 to {n - 1}",
                    path=hpath,
                    row=lineno,
                    hint="fix the ids, or give features with one row per node",
                )
        hyperedges.append(members)
    y = None
    if (root / "labels.txt").is_file():
        lines = [s.strip() for s in (root / "labels.txt").read_text().splitlines() if s.strip()]
        check_rows(len(lines), n, source=root / "labels.txt", what="labels", against=feat.name)
        try:
            y = torch.tensor([int(s) for s in lines], dtype=torch.long)
        except ValueError:
            raise DataError(
                "labels must be integers, one a line", path=root / "labels.txt"
            ) from None
    splits = []
    sdir = root / "splits"
    if sdir.is_dir():
        ks = sorted(
            {p.name.split(".")[0] for p in sdir.glob("*.train.txt")},
            key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s),
        )
        for k in ks:
            pair = []
            for part in ("train", "test"):
                p = sdir / f"{k}.{part}.txt"
                if not p.is_file():
                    raise DataError(f"split {k} has no {part} file", path=p)
                idx = torch.tensor([int(s) for s in p.read_text().split()], dtype=torch.long)
                if idx.numel() and (int(idx.max()) >= n or int(idx.min()) < 0):
                    raise DataError(f"split node id out of range (0..{n - 1})", path=p)
                pair.append(idx)
            splits.append((pair[0], pair[1]))
    return RawHypergraph(
        x=x,
        hyperedges=hyperedges,
        y=y,
        splits=splits,
        source="cocitation-cora (embedded)" if embedded else str(root),
        name="cocitation-cora" if embedded else root.name,
    )


def looks_like(path: Path) -> str:
    """Which reader a path needs: planetoid, hypergraph, edge_csv (or "")."""
    if path.is_dir():
        if (path / "hyperedges.txt").is_file():
            return "hypergraph"
        if planetoid_prefix(path) or ((path / "raw").is_dir() and planetoid_prefix(path / "raw")):
            return "planetoid"
        return ""
    if path.suffix.lower() in (".csv", ".tsv", ".txt", ".edges", ".gz"):
        return "edge_csv"
    return ""


def describe(path: Any) -> str:
    return str(path)
