"""Loading and preprocessing of event logs: a user's own messy log, formats, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sslkit.core.errors import ConfigError, DataError
from sslkit.events.configs import CoLESConfig, EventsData
from sslkit.events.data import EXCEL_EPOCH_DAYS, from_frame, load_data

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def messy_log(seed: int = 0) -> pd.DataFrame:
    """Mixed column types, times out of order, a rare category, a missing value, an entity
    with a single event and a row without an entity id."""
    rng = np.random.default_rng(seed)
    rows = []
    base = pd.Timestamp("2024-01-01")
    for user, n in [("u1", 12), ("u2", 7), ("u3", 1), ("u4", 20), ("u5", 9)]:
        for _ in range(n):
            rows.append(
                {
                    "user_id": user,
                    "event_time": (
                        base + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 60)))
                    ).isoformat(),
                    "channel": rng.choice(["web", "app", "shop"]),
                    "mcc_code": int(rng.choice([5411, 5812, 4111])),
                    "amount": float(np.round(rng.normal(50, 30), 2)),
                    "is_refund": bool(rng.random() < 0.1),
                }
            )
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    df.loc[3, "channel"] = "fax"  # rare: below min_freq -> unknown bucket
    df.loc[5, "amount"] = np.nan
    extra = df.iloc[[0]].copy()
    extra["user_id"] = None
    return pd.concat([df, extra], ignore_index=True)


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    p = tmp_path / "events.csv"
    messy_log().to_csv(p, index=False)
    return p


def test_users_own_log(log_csv: Path) -> None:
    data = load_data(EventsData(path=str(log_csv), min_freq=2))
    info, stats = data.info, data.stats
    assert stats["entities"] == 5 and stats["events"] == 49
    assert stats["dropped_rows_missing_id"] == 1
    assert info["time_format"] == "datetime"
    # detected fields: text and code columns are categorical, amounts numeric
    assert info["cat_fields"][:3] == ["channel", "mcc_code", "is_refund"]
    assert info["num_fields"] == ["amount", "time_delta", "time_age"]
    # events sorted by time within each entity; the one-event entity is kept
    ch = data.chunk
    for e in range(ch.n_entities):
        t = ch.t[ch.offsets[e] : ch.offsets[e + 1]]
        assert np.all(np.diff(t) >= 0)
    assert sorted(ch.lengths().tolist()) == [1, 7, 9, 12, 20]
    one = int(np.flatnonzero(ch.ids == "u3")[0])
    s = int(ch.offsets[one])
    assert data.nums[s, info["num_fields"].index("time_delta")] == pytest.approx(
        -data.pre.scale["time_delta"][0] / data.pre.scale["time_delta"][1]
    )
    # the rare value goes to the unknown bucket (code 1); padding is 0 nowhere in real events
    raw = ch.cat_raw[0].to_numpy(dtype=object)
    assert np.all(data.cats[raw == "fax", 0] == 1)
    assert np.all(data.cats[:, :3] >= 1)
    assert np.isfinite(data.nums).all()
    # every entity is embedded once across the splits
    all_ids = np.concatenate([b.ids for sp in data.split_names() for b in data.eval_batches(sp, 2)])
    assert sorted(all_ids.tolist()) == ["u1", "u2", "u3", "u4", "u5"]
    batch = next(data.eval_batches(data.split_names()[0], 8))
    lengths = batch.inputs["mask"].sum(1)
    assert batch.inputs["cats"].shape[:2] == batch.inputs["mask"].shape
    assert (batch.inputs["cats"][~batch.inputs["mask"]] == 0).all()
    assert int(lengths.min()) >= 1


def test_state_round_trip_and_unseen_values(log_csv: Path, tmp_path: Path) -> None:
    cfg = EventsData(path=str(log_csv), min_freq=2)
    data = load_data(cfg)
    state = json.loads(json.dumps(data.state()))
    again = load_data(cfg, state=state)
    np.testing.assert_array_equal(again.cats, data.cats)
    np.testing.assert_allclose(again.nums, data.nums)
    # new data scored with the saved state: unseen values -> unknown, scaling unchanged
    other = messy_log(seed=1)
    other.loc[0, "channel"] = "carrier pigeon"
    p = tmp_path / "new.csv"
    other.to_csv(p, index=False)
    new = load_data(EventsData(path=str(p)), state=state)
    assert new.pre.scale == data.pre.scale and new.pre.vocab == data.pre.vocab
    row = new.chunk.cat_raw[0].to_numpy(dtype=object) == "carrier pigeon"
    assert np.all(new.cats[row, 0] == 1)


def test_parquet_and_dataframe_give_the_same_arrays(log_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(log_csv)
    pq = tmp_path / "events.parquet"
    frame.to_parquet(pq)
    a = load_data(EventsData(path=str(log_csv)))
    b = load_data(EventsData(path=str(pq)))
    c = from_frame(frame, EventsData())
    for other in (b, c):
        np.testing.assert_array_equal(other.cats, a.cats)
        np.testing.assert_allclose(other.nums, a.nums)
        assert other.chunk.ids.tolist() == a.chunk.ids.tolist()


def test_excel_serial_days_match_dates() -> None:
    dates = pd.to_datetime(["2011-10-30 16:17", "2011-01-02 08:00", "2011-05-05 12:30"])
    serial = (dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1) + EXCEL_EPOCH_DAYS
    base = {"CustomerID": [1.0, 1.0, 2.0], "Country": ["UK", "UK", "FR"], "Quantity": [1, 2, 3]}
    excel = from_frame(pd.DataFrame({**base, "InvoiceDate": serial}))
    as_dates = from_frame(pd.DataFrame({**base, "InvoiceDate": dates.astype(str)}))
    assert excel.info["time_format"] == "excel"
    np.testing.assert_allclose(excel.chunk.t, as_dates.chunk.t, atol=1e-6)
    assert excel.chunk.ids.tolist() == [1, 2]  # integral float ids read as integers
    # 2011-10-30 was a Sunday (weekday 6), at 16h
    k = excel.info["cat_fields"].index("time_weekday")
    row = int(np.argmax(excel.chunk.t))
    assert excel.cats[row, k] - 2 == 6 and excel.cats[row, k + 1] - 2 == 16


def test_cutoff_keeps_labels_out_of_the_sequences() -> None:
    frame = pd.DataFrame(
        {
            "client_id": [1, 1, 1, 2, 2, 3, 4],
            "t": [1.0, 5.0, 12.0, 2.0, 3.0, 15.0, 9.0],
            "amount": [1, 2, 30, 4, 5, 6, 7],
        }
    )
    data = from_frame(frame, EventsData(time_col="t", cutoff="10", labels="after_cutoff"))
    assert data.chunk.ids.tolist() == [1, 2, 4]  # entity 3 has no event before the cutoff
    assert data.chunk.t.max() < 10
    assert data.chunk.lengths().tolist() == [2, 2, 1]
    y = dict(zip(data.chunk.ids.tolist(), data.labels.tolist()))
    assert y == {1: 1, 2: 0, 4: 0}
    assert data.pre.ref == 10.0


def test_embedded_online_retail_has_no_leak() -> None:
    data = load_data(EventsData())
    cutoff = (pd.Timestamp("2011-09-01") - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    assert data.chunk.t.max() < cutoff
    assert data.stats["dataset"] == "online-retail" and data.has_labels()
    assert data.stats["entities"] == 2668
    assert 0.45 < data.labels.mean() < 0.65
    assert set(data.split_names()) == {"train", "test"}


def test_labels_from_a_file_and_regression(tmp_path: Path) -> None:
    events = pd.DataFrame(
        {"client_id": [1, 1, 2, 2, 3], "trans_date": [0, 1, 0, 2, 5], "amt": [1.0, 2, 3, 4, 5]}
    )
    labels = pd.DataFrame({"client_id": [1, 2, 3], "income": [10.5, 20.25, 30.125]})
    lp = tmp_path / "labels.csv"
    labels.to_csv(lp, index=False)
    data = from_frame(events, EventsData(labels=str(lp), task_kind="regression"))
    assert data.task_kind() == "regression"
    assert data.labels.tolist() == [10.5, 20.25, 30.125]


@pytest.mark.shared_data
def test_age_group_sample_format() -> None:
    folder = SHARED / "events" / "age-group-sample"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (../shared/data is only in the development checkout)")
    data = load_data(
        EventsData(path=str(folder / "age-transactions.csv"), labels=str(folder / "age-bin.csv"))
    )
    assert data.stats["entities"] == 100 and data.stats["events"] == 1000
    assert data.info["time_format"] == "number"
    assert data.info["cat_fields"] == ["small_group"]  # an integer code column
    assert data.stats["label_classes"] == [0, 1, 2, 3]
    embedded = load_data(EventsData(path="age-group"))
    np.testing.assert_array_equal(embedded.labels, data.labels)


# ---------------------------------------------------------------------------------------------
# bad input: one clear DataError each (the CLI prints it as one line and exits 2)


def _write(tmp_path: Path, frame: pd.DataFrame) -> str:
    p = tmp_path / "bad.csv"
    frame.to_csv(p, index=False)
    return str(p)


def test_missing_id_column(tmp_path: Path) -> None:
    path = _write(tmp_path, pd.DataFrame({"when": ["2024-01-01"], "amount": [1.0]}))
    with pytest.raises(DataError, match="no entity id column") as err:
        load_data(EventsData(path=path))
    assert err.value.exit_code == 2 and "data.id_col" in str(err.value)
    with pytest.raises(DataError, match="id column 'client' not found"):
        load_data(EventsData(path=path, id_col="client"))


def test_missing_time_column(tmp_path: Path) -> None:
    path = _write(tmp_path, pd.DataFrame({"user_id": [1, 2], "amount": [1.0, 2.0]}))
    with pytest.raises(DataError, match="no event time column"):
        load_data(EventsData(path=path))
    with pytest.raises(DataError, match="time column 'ts' not found"):
        load_data(EventsData(path=path, time_col="ts"))


def test_unparseable_times_name_column_and_first_bad_row(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3],
            "event_time": ["2024-01-01", "2024-01-02", "yesterday", "2024-01-05", "soon"],
        }
    )
    path = _write(tmp_path, frame)
    with pytest.raises(DataError) as err:
        load_data(EventsData(path=path))
    msg = str(err.value)
    assert "'event_time'" in msg and "row 3" in msg and "'yesterday'" in msg and "2 such row" in msg
    numeric = pd.DataFrame({"user_id": [1, 1, 2], "step": ["1", "2", "x"]})
    with pytest.raises(DataError, match=r"row 3.*'step'.*not a number|'step'.*row 3"):
        load_data(EventsData(path=_write(tmp_path, numeric), time_col="step", time_format="number"))


def test_no_entity_long_enough_for_the_slices(log_csv: Path) -> None:
    from sslkit.events.methods import coles

    data = load_data(EventsData(path=str(log_csv)))
    with pytest.raises(DataError, match="no entity has at least 50 events") as err:
        coles.build(CoLESConfig(slice_min=50, slice_max=60), data)
    assert "method.slice_min" in str(err.value)


def test_other_bad_input(tmp_path: Path, log_csv: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_data(EventsData(path=str(tmp_path / "nope.csv")))
    odd = tmp_path / "events.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(DataError, match="unknown file type"):
        load_data(EventsData(path=str(odd)))
    with pytest.raises(ConfigError, match="cutoff"):
        load_data(EventsData(path=str(log_csv), cutoff="not a date"))
    with pytest.raises(DataError, match="not in the table"):
        load_data(EventsData(path=str(log_csv), cat_cols=("colour",)))
