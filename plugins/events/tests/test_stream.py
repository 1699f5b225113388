"""Streaming Parquet gives the same sequences as loading in memory, sharded without overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sslkit.core.errors import DataError
from sslkit.events.configs import EventsData
from sslkit.events.data import load_data


def _log(n_users: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for _ in range(int(rng.integers(1, 15))):
            rows.append(
                {
                    "client_id": u,
                    "trans_date": int(rng.integers(0, 100)),
                    "small_group": int(rng.integers(0, 6)),
                    "amount": float(rng.normal()),
                    "target": u % 3,
                }
            )
    return pd.DataFrame(rows)  # grouped by entity, times unsorted within an entity


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    p = tmp_path / "events.parquet"
    _log().to_parquet(p, row_group_size=37)
    return p


def _sequences(items) -> list[tuple[bytes, bytes]]:
    return sorted((c.tobytes(), x.tobytes()) for c, x in items)


def test_stream_matches_memory(parquet: Path) -> None:
    base = EventsData(path=str(parquet), labels="target", min_freq=1)
    mem = load_data(base)
    st = load_data(EventsData(**{**base.__dict__, "stream": True, "stream_batch_rows": 23}))
    assert st.stats["entities"] == mem.stats["entities"]
    assert st.info == mem.info
    assert st.info["cat_sizes"] == mem.info["cat_sizes"]
    assert st.pre.vocab == mem.pre.vocab
    for k, v in mem.pre.scale.items():  # the sample holds every event here: exact statistics
        np.testing.assert_allclose(st.pre.scale[k], v, rtol=1e-9)
    ds_mem = mem.train_dataset()
    assert _sequences(st.train_dataset()) == _sequences(ds_mem[i] for i in range(len(ds_mem)))
    for split in ("train", "test"):
        a = list(mem.eval_batches(split, 8))
        b = list(st.eval_batches(split, 8))
        assert (
            np.concatenate([x.ids for x in a]).tolist()
            == np.concatenate([x.ids for x in b]).tolist()
        )
        for x, y in zip(a, b):
            for key in ("cats", "nums", "mask"):
                assert torch.equal(x.inputs[key], y.inputs[key])
            np.testing.assert_array_equal(x.labels, y.labels)
    exported = np.concatenate([b.ids for b in st.export_batches(16)])
    assert sorted(exported.tolist()) == list(range(40))


def test_stream_shards_do_not_overlap(parquet: Path, monkeypatch) -> None:
    st = load_data(EventsData(path=str(parquet), stream=True, stream_batch_rows=50))
    import sslkit.core.distributed as dist

    seen = []
    for shard in range(3):
        monkeypatch.setattr(dist, "shard_info", lambda s=shard: (s, 3))
        seen.append(_sequences(st.train_dataset()))
    union = sorted(s for part in seen for s in part)
    monkeypatch.setattr(dist, "shard_info", lambda: (0, 1))
    assert union == _sequences(st.train_dataset())
    assert all(len(s) > 5 for s in seen)


def test_stream_needs_entities_grouped(tmp_path: Path) -> None:
    frame = _log(10).sample(frac=1.0, random_state=0)
    p = tmp_path / "shuffled.parquet"
    frame.to_parquet(p)
    with pytest.raises(DataError, match="not contiguous") as err:
        load_data(EventsData(path=str(p), stream=True))
    assert "sort the file" in str(err.value)
    csv = tmp_path / "events.csv"
    frame.to_csv(csv, index=False)
    with pytest.raises(DataError, match="Parquet only"):
        load_data(EventsData(path=str(csv), stream=True))
