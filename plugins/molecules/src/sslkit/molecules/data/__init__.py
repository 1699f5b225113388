"""``load_data(config, state=None)``: the molecules plugin's data entry point.

``config.path`` is ``""`` or ``bbbp`` (the embedded BBBP), ``esol`` (the embedded ESOL), or a
CSV / TSV / Parquet / ``.smi`` file; a pandas DataFrame goes through :func:`from_memory`
(``api.pretrain("molecules", data=df)``). Steps: read the table, find the SMILES column and
the label columns, parse and featurise every SMILES (cached, see
:mod:`~sslkit.molecules.data.cache`), split (scaffold by default), and hand back a
:class:`~sslkit.molecules.data.domain.MoleculeSet`. ``state`` (from a run) fixes the
featuriser, the standardisation and the task kind, so evaluate and export featurise as
pretraining did.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from sslkit.core.errors import DataError
from sslkit.molecules.configs import MoleculeData
from sslkit.molecules.data.cache import Featurised, cache_key, load, save
from sslkit.molecules.data.domain import MoleculeSet, batch_inputs, graph_of
from sslkit.molecules.data.featurise import SCHEMES, featurise
from sslkit.molecules.data.parse import parse_smiles, report_invalid
from sslkit.molecules.data.reading import (
    Table,
    frame_table,
    label_columns,
    label_matrix,
    read_table,
    smiles_column,
)
from sslkit.molecules.data.splits import make_split, scaffolds

__all__ = [
    "MoleculeData",
    "MoleculeSet",
    "batch_inputs",
    "featurise_table",
    "from_memory",
    "graph_of",
    "load_data",
]

log = logging.getLogger("sslkit.molecules")


def load_data(config: MoleculeData | None = None, state: dict[str, Any] | None = None):
    config = config or MoleculeData()
    return build(read_table(config.path, config.max_rows), config, state)


def from_memory(obj: Any, config: MoleculeData, state: dict[str, Any] | None = None):
    """The plugin's ``from_memory`` hook: a pandas DataFrame with a SMILES column."""
    table = frame_table(obj)
    if config.max_rows:
        table.frame = table.frame.head(config.max_rows)
    return build(table, config, state)


def featurise_table(
    table: Table, column: str, scheme: str, standardise: bool, strict: bool, use_cache: bool = True
) -> tuple[Featurised, dict[str, Any]]:
    """The table's molecules parsed and featurised (from the cache when it holds them), and
    facts about the work: ``cache`` (hit or miss), ``seconds``, ``molecules_per_second``."""
    start = time.perf_counter()
    key = cache_key(
        table.digest, column=column, scheme=scheme, standardise=standardise, rows=len(table.frame)
    )
    found = load(key) if use_cache else None
    if found is not None:
        if strict and found.invalid:
            bad = found.invalid[0]
            raise DataError(
                f"invalid SMILES {bad['smiles']!r}: {bad['reason']}",
                path=table.source,
                row=bad["row"],
                column=column,
                hint="fix or remove the row, or leave data.strict=false to skip invalid SMILES",
            )
        f = found
    else:
        f = _featurise(table, column, scheme, standardise, strict)
        if use_cache:
            save(key, f)
    seconds = time.perf_counter() - start
    total = len(f) + len(f.invalid)
    facts = {
        "cache": "hit" if found is not None else "miss",
        "seconds": round(seconds, 4),
        "molecules_per_second": round(total / seconds, 1) if seconds > 0 else 0.0,
    }
    report_invalid(f.invalid, total, table.source, column)
    return f, facts


def _featurise(
    table: Table, column: str, scheme: str, standardise: bool, strict: bool
) -> Featurised:
    from rdkit import Chem

    values = table.frame[column].tolist()
    mols, invalid = parse_smiles(
        values, source=table.source, column=column, standardise=standardise, strict=strict
    )
    xs, eis, eas, rows, smiles = [], [], [], [], []
    for i, mol in enumerate(mols):
        if mol is None:
            continue
        x, ei, ea = featurise(mol, scheme)
        xs.append(x)
        eis.append(ei)
        eas.append(ea)
        rows.append(i)
        smiles.append(Chem.MolToSmiles(mol))
    if not rows:
        raise DataError(
            f"none of the {len(values)} SMILES in column {column!r} is valid",
            path=table.source,
            hint="check data.smiles names the SMILES column",
        )
    s = SCHEMES[scheme]
    return Featurised(
        x=np.concatenate(xs).astype(np.int64),
        edge_index=np.concatenate(eis, axis=1).astype(np.int64),
        edge_attr=np.concatenate(eas).reshape(-1, len(s.bond_vocab)).astype(np.int64),
        atom_ptr=np.cumsum([0, *(len(x) for x in xs)]).astype(np.int64),
        edge_ptr=np.cumsum([0, *(e.shape[1] for e in eis)]).astype(np.int64),
        rows=np.asarray(rows, dtype=np.int64),
        smiles=smiles,
        scaffolds=scaffolds(smiles),
        invalid=invalid,
    )


def _kind(labels: np.ndarray | None, asked: str) -> str:
    if labels is None:
        return "none"
    if asked != "auto":
        return asked
    finite = labels[np.isfinite(labels)]
    return "classification" if finite.size and np.isin(finite, (0.0, 1.0)).all() else "regression"


def build(table: Table, config: MoleculeData, state: dict[str, Any] | None = None) -> MoleculeSet:
    state = state or {}
    scheme = state.get("featuriser", config.featuriser)
    if scheme not in SCHEMES:
        raise DataError(f"unknown featuriser {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    standardise = bool(state.get("standardise", config.standardise))
    frame = table.frame
    column = smiles_column(frame, config.smiles, table.source)
    if config.id_column and config.id_column not in frame.columns:
        raise DataError(
            f"no id column {config.id_column!r}; the columns are: {', '.join(frame.columns)}",
            path=table.source,
            hint="set data.id_column to an existing column, or leave it empty",
        )
    tasks = label_columns(frame, tuple(config.labels), (column, config.id_column), table)
    f, work = featurise_table(table, column, scheme, standardise, config.strict, config.cache)
    kept = frame.iloc[f.rows]
    labels = label_matrix(kept, tasks, table.source) if tasks else None
    if labels is not None and not np.isfinite(labels).any():
        labels = None
    log.info(
        "%s: %d molecules (%d invalid skipped), featurised with %s (cache %s, %.0f molecules/s)",
        table.source,
        len(f),
        len(f.invalid),
        scheme,
        work["cache"],
        work["molecules_per_second"],
    )
    saved = state.get("task_kind")
    kind = saved if labels is not None and saved in ("classification", "regression") else None
    kind = kind or _kind(labels, config.task)
    keys = f.scaffolds if config.split != "random" else f.smiles
    splits = make_split(config.split, keys, config.split_seed)
    ids = kept[config.id_column].astype(str).to_numpy() if config.id_column else f.rows.copy()
    facts = {
        "source": table.source,
        "smiles_column": column,
        "molecules": len(f),
        "invalid": len(f.invalid),
        "tasks": tasks,
        "task_kind": kind,
        "split": config.split,
        "split_sizes": {k: len(v) for k, v in splits.items()},
        "featurisation": work,
        "fingerprint": table.digest[:16],
    }
    new_state = {"featuriser": scheme, "standardise": standardise, "task_kind": kind}
    return MoleculeSet(
        f,
        labels=labels,
        tasks=tasks if labels is not None else [],
        kind=kind,
        splits=splits,
        ids=ids,
        pretrain_on=config.pretrain_on,
        info=SCHEMES[scheme].info(),
        facts=facts,
        state=new_state,
    )
