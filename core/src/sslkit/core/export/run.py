"""``sslkit export``: stream a run's embeddings (or its encoder) into production formats."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslkit.core.engine.method import move_to
from sslkit.core.errors import RunError, UsageError

FORMATS = ("parquet", "npy")


def model_card(loaded: Any, dim: int) -> dict[str, Any]:
    from sslkit.core.api import environment

    return {
        "domain": loaded.config.domain,
        "method": loaded.config.method,
        "embedding_dim": dim,
        "nested_dims": list(getattr(loaded.method, "nested_dims", ())),
        "config": loaded.config.to_dict(),
        "data_fingerprint": loaded.data.fingerprint(),
        "checkpoint": loaded.checkpoint,
        "environment": environment(),
    }


def check_dim(method: Any, dim: int | None) -> int:
    full = int(method.embed_dim)
    if dim is None or dim == full:
        return full
    nested = tuple(getattr(method, "nested_dims", ()))
    if dim not in nested:
        raise UsageError(
            f"--dim {dim}: this encoder was trained at sizes {', '.join(map(str, nested or (full,)))}; "
            "train with Matryoshka sizes to export smaller embeddings"
        )
    return dim


@torch.no_grad()
def iter_embeddings(loaded: Any, batch_size: int, dim: int, device: str = "cpu"):
    method = loaded.method
    for batch in loaded.data.export_batches(batch_size):
        z = method.embed(move_to(batch.inputs, torch.device(device)))[:, :dim]
        yield np.asarray(batch.ids), z.float().cpu().numpy()


def export_run(
    loaded: Any,
    *,
    to: str,
    out: str | Path | None = None,
    dim: int | None = None,
    overwrite: bool = False,
    batch_size: int = 4096,
    **options: Any,
) -> Path:
    if to not in FORMATS:
        raise UsageError(f"unknown export format {to!r}; available: {', '.join(FORMATS)}")
    dim = check_dim(loaded.method, dim)
    target = Path(out) if out else loaded.run_dir / "export" / to
    if target.exists() and not overwrite:
        raise RunError(f"{target} already exists; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        card = model_card(loaded, dim)
        if to == "parquet":
            from sslkit.core.export.writers import ParquetWriter

            writer = ParquetWriter(tmp / "embeddings.parquet", dim, card)
            for ids, emb in iter_embeddings(loaded, batch_size, dim):
                writer.write(ids, emb)
            writer.close()
        elif to == "npy":
            ids_all, embs = [], []
            for ids, emb in iter_embeddings(loaded, batch_size, dim):
                ids_all.append(ids)
                embs.append(emb)
            np.save(tmp / "embeddings.npy", np.concatenate(embs), allow_pickle=False)
            np.save(tmp / "ids.npy", np.concatenate(ids_all), allow_pickle=False)
        import json

        (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=str))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
