"""The streaming writers: files equal what was written, batch after batch."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sslkit.core.export.writers import CARD_KEY, IdsWriter, NpyStreamWriter, ParquetWriter


def test_npy_stream_writer_unknown_row_count(tmp_path):
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(n, 5)).astype(np.float32) for n in (7, 1, 300, 0, 2)]
    w = NpyStreamWriter(tmp_path / "x.npy", np.float32, (5,))
    for b in batches:
        w.write(b)
    w.close()
    expected = np.concatenate(batches)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), expected)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert mm.shape == (310, 5) and mm.dtype == np.float32
    with pytest.raises(ValueError):
        NpyStreamWriter(tmp_path / "y.npy", np.float32, (5,)).write(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "batches",
    [
        [np.arange(3), np.arange(3, 10)],
        [np.array(["a", "bb"]), np.array(["ünïcode-id-long"])],
        [[], []],
    ],
)
def test_ids_writer(tmp_path, batches):
    w = IdsWriter(tmp_path / "ids.npy")
    for b in batches:
        w.write(b)
    w.close()
    got = np.load(tmp_path / "ids.npy", allow_pickle=False)
    assert got.tolist() == [v for b in batches for v in np.asarray(b).tolist()]
    assert [p.name for p in tmp_path.iterdir()] == ["ids.npy"]  # the string spool is gone


def test_parquet_schema_and_card(tmp_path):
    card = {"method": "simclr", "embedding_dim": 4}
    w = ParquetWriter(tmp_path / "e.parquet", 4, card)
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    w.write(np.array(["a", "b", "c"]), x[:3])
    w.write(np.array(["d", "e", "f"]), x[3:])
    w.close()
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 4)
    assert table.schema.field("id").type == pa.string()
    assert json.loads(table.schema.metadata[CARD_KEY.encode()]) == card
    got = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(got, x)
    assert pq.ParquetFile(tmp_path / "e.parquet").num_row_groups == 2  # one per batch
