"""A table's SMILES parsed and featurised, in parallel for large tables, through the cache.

:func:`featurise_table` is what ``load_data`` calls: the cache entry of the table when there
is one (:mod:`~sslkit.molecules.data.cache`), else the work done here and saved. Tables of at
least :data:`PARALLEL_FROM` SMILES are cut into chunks featurised by forked worker processes
(one per CPU core, at most :data:`MAX_WORKERS`; RDKit holds the GIL, so threads would not
help); the chunks come back in order, so the result is the serial one. Bemis-Murcko scaffolds
(a second RDKit pass, a third of the work) are computed only when a split needs them, and
added to the cache entry then.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from sslkit.core.errors import DataError
from sslkit.molecules.data.cache import Featurised, cache_key, load, save
from sslkit.molecules.data.featurise import SCHEMES, VERSION, featurise
from sslkit.molecules.data.parse import parse_smiles, quiet_rdkit, report_invalid
from sslkit.molecules.data.reading import Table
from sslkit.molecules.data.splits import scaffolds

PARALLEL_FROM = 4000
MAX_WORKERS = 8
CHUNK = 2000


def _chunk(values: list[Any], offset: int, scheme: str, standardise: bool, with_scaffolds: bool):
    """Featurise ``values`` (rows ``offset`` on): ``(x, edge_index, edge_attr)`` lists, the
    kept rows, canonical SMILES, scaffolds (or None) and the invalid rows."""
    from rdkit import Chem

    rows = list(range(offset, offset + len(values)))
    mols, invalid = parse_smiles(
        values, source="", column="", standardise=standardise, strict=False, rows=rows
    )
    graphs, kept, smiles = [], [], []
    with quiet_rdkit():
        for i, mol in enumerate(mols):
            if mol is None:
                continue
            graphs.append(featurise(mol, scheme))
            kept.append(offset + i)
            smiles.append(Chem.MolToSmiles(mol))
    return graphs, kept, smiles, scaffolds(smiles) if with_scaffolds else None, invalid


def _workers(n: int) -> int:
    if n < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(int(cores or 1), MAX_WORKERS))


def _featurise(values: list[Any], scheme: str, standardise: bool, with_scaffolds: bool):
    workers = _workers(len(values))
    starts = range(0, len(values), CHUNK if workers > 1 else max(len(values), 1))
    jobs = [(values[s : s + CHUNK] if workers > 1 else values, s) for s in starts]
    if workers > 1:
        # fork: the workers use RDKit and numpy only (no torch op), and need no re-import
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(_chunk, v, s, scheme, standardise, with_scaffolds) for v, s in jobs
            ]
            parts = [f.result() for f in futures]
    else:
        parts = [_chunk(v, s, scheme, standardise, with_scaffolds) for v, s in jobs]
    graphs = [g for p in parts for g in p[0]]
    s = SCHEMES[scheme]
    return Featurised(
        x=np.concatenate([g[0] for g in graphs] or [np.zeros((0, len(s.atom_vocab)))]).astype(
            np.int64
        ),
        edge_index=np.concatenate([g[1] for g in graphs] or [np.zeros((2, 0))], axis=1).astype(
            np.int64
        ),
        edge_attr=np.concatenate([g[2] for g in graphs] or [np.zeros((0, len(s.bond_vocab)))])
        .reshape(-1, len(s.bond_vocab))
        .astype(np.int64),
        atom_ptr=np.cumsum([0, *(len(g[0]) for g in graphs)]).astype(np.int64),
        edge_ptr=np.cumsum([0, *(g[1].shape[1] for g in graphs)]).astype(np.int64),
        rows=np.asarray([r for p in parts for r in p[1]], dtype=np.int64),
        smiles=[m for p in parts for m in p[2]],
        scaffolds=[m for p in parts for m in p[3]] if with_scaffolds else None,
        invalid=[b for p in parts for b in p[4]],
    )


def _strict_stop(f: Featurised, source: str, column: str) -> None:
    if f.invalid:
        bad = f.invalid[0]
        raise DataError(
            f"invalid SMILES {bad['smiles']!r}: {bad['reason']}",
            path=source,
            row=bad["row"],
            column=column,
            hint="fix or remove the row, or leave data.strict=false to skip invalid SMILES",
        )


def featurise_table(
    table: Table,
    column: str,
    scheme: str,
    standardise: bool,
    strict: bool,
    use_cache: bool = True,
    with_scaffolds: bool = True,
) -> tuple[Featurised, dict[str, Any]]:
    """The table's molecules parsed and featurised (from the cache when it holds them), and
    facts about the work: ``cache`` (hit or miss), ``seconds``, ``molecules_per_second``,
    ``workers``. ``with_scaffolds``: also each molecule's scaffold (``f.scaffolds``)."""
    start = time.perf_counter()
    key = cache_key(
        table.digest,
        column=column,
        scheme=scheme,
        standardise=standardise,
        rows=len(table.frame),
        featuriser=VERSION,
    )
    f = load(key) if use_cache else None
    hit = f is not None
    values = table.frame[column].tolist()
    if f is None:
        f = _featurise(values, scheme, standardise, with_scaffolds)
        if strict:
            _strict_stop(f, table.source, column)
        if use_cache and len(f):
            save(key, f)
    elif strict:
        _strict_stop(f, table.source, column)
    if with_scaffolds and f.scaffolds is None:
        f.scaffolds = scaffolds(f.smiles)
        if use_cache:
            save(key, f)
    if not len(f):
        raise DataError(
            f"none of the {len(values)} SMILES in column {column!r} is valid",
            path=table.source,
            hint="check data.smiles names the SMILES column",
        )
    seconds = time.perf_counter() - start
    total = len(f) + len(f.invalid)
    facts = {
        "cache": "hit" if hit else "miss",
        "seconds": round(seconds, 4),
        "molecules_per_second": round(total / seconds, 1) if seconds > 0 else 0.0,
        "workers": 1 if hit else _workers(len(values)),
    }
    report_invalid(f.invalid, total, table.source, column)
    return f, facts
