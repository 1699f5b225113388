"""``load_data(config, state=None)``: the molecules plugin's data entry point.

``config.path`` is ``""`` or ``bbbp`` (the embedded BBBP), ``esol`` (the embedded ESOL), or a
CSV / TSV / Parquet / ``.smi`` file; a pandas DataFrame goes through :func:`from_memory`
(``api.pretrain("molecules", data=df)``). Steps: read the table, find the SMILES column and
the label columns, parse and featurise every SMILES (cached, see
:mod:`~sslkit.molecules.data.cache`), split (scaffold by default), and hand back a
:class:`~sslkit.molecules.data.domain.MoleculeSet`. Pretraining reads another library when
``data.pretrain_data`` names one (the embedded ZINC for the embedded BBBP and ESOL), featurised
when training starts. ``state`` (from a run) fixes the
featuriser, the standardisation, the task kind and the token vocabulary (``mlm``), so
evaluate and export featurise and tokenise as pretraining did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from sslkit.core.errors import DataError
from sslkit.molecules.configs import MoleculeData
from sslkit.molecules.data.cache import Featurised
from sslkit.molecules.data.domain import MoleculeSet, batch_inputs, graph_of
from sslkit.molecules.data.featurise import SCHEMES
from sslkit.molecules.data.featurise_many import featurise_table
from sslkit.molecules.data.reading import (
    Table,
    frame_table,
    label_columns,
    label_matrix,
    read_table,
    smiles_column,
)
from sslkit.molecules.data.splits import make_split
from sslkit.molecules.data.tokens import Tokeniser

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


def pretraining_library(
    config: MoleculeData, table: Table, scheme: str, standardise: bool
) -> tuple[str, Callable[[], Featurised] | None]:
    """The molecules pretraining sees when not the data's own (``data.pretrain_data``): its
    source, and a function that featurises them (called when training starts, so evaluate and
    export never featurise it). ``(source, None)``: the data's own molecules."""
    choice = config.pretrain_data.strip()
    if choice.lower() == "auto":
        embedded = table.source.startswith("<embedded") and bool(table.labels)
        choice = "zinc" if embedded else "self"
    if choice.lower() == "self":
        return table.source, None
    library = read_table(choice, config.max_rows)
    named = config.smiles if config.smiles in library.frame.columns else ""
    column = smiles_column(library.frame, named, library.source)

    def featurised() -> Featurised:
        f, work = featurise_table(library, column, scheme, standardise, False, config.cache, False)
        log.info(
            "%s: %d molecules to pretrain on (%d invalid skipped; cache %s, %.0f molecules/s)",
            library.source,
            len(f),
            len(f.invalid),
            work["cache"],
            work["molecules_per_second"],
        )
        return f

    return library.source, featurised


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
    split = config.split
    need_scaffolds = split != "random"
    f, work = featurise_table(
        table, column, scheme, standardise, config.strict, config.cache, need_scaffolds
    )
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
    keys = f.scaffolds if need_scaffolds else f.smiles
    splits = make_split(split, keys, config.split_seed)
    ids = kept[config.id_column].astype(str).to_numpy() if config.id_column else f.rows.copy()
    facts = {
        "source": table.source,
        "smiles_column": column,
        "molecules": len(f),
        "invalid": len(f.invalid),
        "tasks": tasks,
        "task_kind": kind,
        "split": split,
        "split_sizes": {k: len(v) for k, v in splits.items()},
        "featurisation": work,
        "fingerprint": table.digest[:16],
    }
    facts["pretrain_data"], library = pretraining_library(config, table, scheme, standardise)
    new_state = {"featuriser": scheme, "standardise": standardise, "task_kind": kind}
    tokeniser = Tokeniser.from_state(state["tokens"]) if state.get("tokens") else None
    if tokeniser is not None:
        new_state["tokens"] = tokeniser.state()
    return MoleculeSet(
        f,
        labels=labels,
        tasks=tasks if labels is not None else [],
        kind=kind,
        splits=splits,
        ids=ids,
        pretrain_on=config.pretrain_on,
        library=library,
        info=SCHEMES[scheme].info(),
        facts=facts,
        state=new_state,
        tokeniser=tokeniser,
    )
