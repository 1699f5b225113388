"""Schema inference, preprocessing, saved state and bad-input errors."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sslkit.core.errors import DataError
from sslkit.tabular.configs import TabularData
from sslkit.tabular.data import from_dataframe, load_data, split_mask
from sslkit.tabular.schema import FIRST, MISSING, UNKNOWN, Schema, SchemaWarning, fit_schema


def load(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        return load_data(replace(TabularData(path=str(path)), **kw))


def test_schema_of_a_mixed_csv(csv_path):
    with pytest.warns(SchemaWarning) as rec:
        data = load_data(TabularData(path=str(csv_path), target="churn"))
    messages = " ".join(str(w.message) for w in rec)
    assert "customer_id" in messages and "id-like" in messages
    assert "notes" in messages and "free text" in messages
    schema = data.schema
    assert set(schema.excluded) == {"customer_id", "notes"}
    names = schema.feature_names
    # numeric, the datetime's parts, then categorical + binary + missing indicator
    assert names[:2] == ["age", "income"]
    assert {"signup.days", "signup.month", "signup.weekday", "signup.hour"} <= set(names)
    assert {"city", "member", "income.missing"} <= set(names)
    assert "churn" not in names
    kinds = {s["name"]: s["kind"] for s in schema.categorical}
    assert kinds["member"] == "binary" and kinds["city"] == "categorical"
    assert data.task_kind() == "classification"
    assert schema.target["classes"] == ["no", "yes"]
    train = data.arrays("train")
    assert np.isfinite(train["num"]).all()
    assert train["num"].dtype == np.float32 and train["cat"].dtype == np.int64
    # the missing indicator and the missing category agree with the raw table
    raw = pd.read_csv(csv_path)
    held = split_mask(np.arange(len(raw)), 0, 0.2)
    tr = raw[~held].reset_index(drop=True)
    j = names.index("income.missing") - len(schema.numeric)
    np.testing.assert_array_equal(train["cat"][:, j] == FIRST + 1, tr["income"].isna().to_numpy())
    jc = names.index("city") - len(schema.numeric)
    np.testing.assert_array_equal(train["cat"][:, jc] == MISSING, tr["city"].isna().to_numpy())
    # splits: seeded, disjoint, everything covered
    assert len(train["ids"]) + len(data.arrays("test")["ids"]) == len(raw)
    assert not set(train["ids"]) & set(data.arrays("test")["ids"])


def test_state_roundtrip_reuses_the_fit(csv_path, tmp_path):
    data = load(csv_path, target="churn")
    state = json.loads(json.dumps(data.state()))  # what a run saves
    # other rows, with an unseen category: preprocessing must not be refitted
    other = pd.read_csv(csv_path).iloc[:50].copy()
    other.loc[0, "city"] = "marseille"
    other["age"] = other["age"] + 100  # a refit would rescale this; the saved fit clips it high
    path = tmp_path / "other.csv"
    other.to_csv(path, index=False)
    again = load_data(TabularData(path=str(path), target="churn"), state=state)
    assert again.info == data.info
    whole = np.concatenate([again.arrays("train")["cat"], again.arrays("test")["cat"]])
    ids = np.concatenate([again.arrays("train")["ids"], again.arrays("test")["ids"]])
    jc = data.schema.feature_names.index("city") - len(data.schema.numeric)
    assert whole[ids == 0, jc][0] == UNKNOWN
    num = np.concatenate([again.arrays("train")["num"], again.arrays("test")["num"]])
    assert num[:, 0].min() > 3.0  # all far above the fitted ages
    # and the same rows give the same arrays as in training
    same = load_data(TabularData(path=str(csv_path), target="churn"), state=state)
    np.testing.assert_array_equal(same.arrays("train")["num"], data.arrays("train")["num"])
    np.testing.assert_array_equal(same.arrays("test")["cat"], data.arrays("test")["cat"])


def test_quantile_scaling_matches_sklearn():
    from sklearn.preprocessing import QuantileTransformer

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.exponential(3, 3000), np.zeros(1000)])  # repeated values too
    df = pd.DataFrame({"x": x, "y": rng.normal(size=len(x))})
    schema = fit_schema(df, scaling="quantile")
    num, _ = schema.transform(df)
    ref = QuantileTransformer(n_quantiles=1000, output_distribution="normal").fit_transform(
        df[["x"]]
    )
    inner = x > 0  # sklearn sends ties at the minimum to the bound (-5.2); we keep them central
    np.testing.assert_allclose(num[inner, 0], ref[inner, 0], atol=1e-4)
    # the 1000 zeros are the lowest quarter: they map to the middle of it, ppf(0.125)
    from scipy.stats import norm

    np.testing.assert_allclose(num[~inner, 0], norm.ppf(0.5 * 1000 / 3999), atol=2e-3)
    std = fit_schema(df, scaling="standard").transform(df)[0]
    np.testing.assert_allclose(std[:, 1], (df.y - df.y.mean()) / df.y.std(ddof=0), atol=1e-5)


def test_parquet_and_dataframe_agree(tmp_path, table):
    path = tmp_path / "t.parquet"
    table.to_parquet(path)
    a = load(path, target="churn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        b = from_dataframe(table, target="churn")
    assert a.info == b.info
    np.testing.assert_allclose(a.arrays("train")["num"], b.arrays("train")["num"])


def test_streamed_parquet_matches_memory(tmp_path, table):
    path = tmp_path / "t.parquet"
    table.to_parquet(path, row_group_size=50)
    mem = load(path, target="churn")
    streamed = load(path, target="churn", stream="stream")
    assert type(streamed).__name__ == "StreamedTable"
    assert streamed.info == mem.info
    ids = np.concatenate([b.ids for b in streamed.eval_batches("test", 32)])
    np.testing.assert_array_equal(ids, mem.arrays("test")["ids"])
    rows = list(streamed.train_dataset())
    assert len(rows) == len(mem.arrays("train")["ids"])
    got = np.sort(np.stack([r["num"].numpy() for r in rows])[:, 0])
    np.testing.assert_allclose(got, np.sort(mem.arrays("train")["num"][:, 0]))


def test_streamed_rows_are_sharded(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"u": rng.random(300), "c": rng.choice(["a", "b", "c"], 300)})
    path = tmp_path / "t.parquet"
    table.to_parquet(path)
    streamed = load(path, stream="stream")
    import sslkit.core.distributed as dist

    seen = []
    for shard in range(2):
        monkeypatch.setattr(dist, "shard_info", lambda s=shard: (s, 2))
        seen.append(np.stack([r["num"].numpy()[0] for r in streamed.train_dataset()]))
    assert abs(len(seen[0]) - len(seen[1])) <= 20
    assert not set(seen[0].tolist()) & set(seen[1].tolist())
    assert len(seen[0]) + len(seen[1]) == len(streamed_train_ids(streamed))


def test_streamed_epoch_order_follows_set_epoch(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"u": rng.random(400), "c": rng.choice(["a", "b"], 400)})
    path = tmp_path / "t.parquet"
    table.to_parquet(path, row_group_size=64)
    ds = load(path, stream="stream").train_dataset()

    def order(epoch=None):
        if epoch is not None:
            ds.set_epoch(epoch)
        return np.stack([r["num"].numpy()[0] for r in ds])

    first = order(3)
    np.testing.assert_array_equal(order(), first)  # iterating again does not advance the epoch
    np.testing.assert_array_equal(order(3), first)  # a resumed run's epoch 3: the same order
    other = order(4)
    assert not np.array_equal(other, first)
    np.testing.assert_array_equal(np.sort(other), np.sort(first))
    # a fresh dataset (a resumed process) reproduces epoch 4
    again = load(path, stream="stream").train_dataset()
    again.set_epoch(4)
    np.testing.assert_array_equal(np.stack([r["num"].numpy()[0] for r in again]), other)


def test_streamed_folder_of_files_keeps_row_order(tmp_path, table):
    folder = tmp_path / "parts"
    folder.mkdir()
    for k, start in enumerate(range(0, len(table), 70)):
        table.iloc[start : start + 70].to_parquet(folder / f"part-{k:02d}.parquet")
    (folder / "_SUCCESS").write_text("")
    mem = load(folder, target="churn", stream="memory")
    streamed = load(folder, target="churn", stream="stream", max_rows=200)
    whole = load(folder, target="churn", stream="stream")
    ids = np.concatenate([b.ids for b in whole.eval_batches("test", 16)])
    np.testing.assert_array_equal(ids, mem.arrays("test")["ids"])
    train = np.concatenate([b.inputs["num"].numpy() for b in whole.eval_batches("train", 16)])
    np.testing.assert_allclose(train, mem.arrays("train")["num"])
    # max_rows stops inside the third file
    assert streamed_train_ids(streamed).max() < 200
    assert (
        len(streamed_train_ids(streamed))
        + len(np.concatenate([b.ids for b in streamed.eval_batches("test", 16)]))
        == 200
    )


def streamed_train_ids(streamed):
    return np.concatenate([b.ids for b in streamed.eval_batches("train", 64)])


def test_max_rows_and_embedded_adult_head():
    data = load_data(TabularData(max_rows=300))
    assert len(data.arrays("train")["ids"]) == 300 and len(data.arrays("test")["ids"]) == 300
    assert data.schema.target["name"] == "incomes"
    assert data.schema.target["classes"] == ["<=50K", ">50K"]  # the test file's '.' is gone
    assert (data.arrays("test")["y"] >= 0).all()
    assert data.info["n_num"] == 6 and data.info["n_cat"] == 8


# ---------------------------------------------------------------------------------------------
# bad input: one clear DataError


def test_missing_target_column(csv_path):
    with pytest.raises(DataError, match=r"target column 'price' is not in the table.*columns are"):
        load(csv_path, target="price")


def test_numeric_column_with_text_names_column_and_row(tmp_path, table):
    table = table.copy()
    table["age"] = table["age"].astype(object)
    table.loc[37, "age"] = "forty"
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        load(path, target="churn")
    text = str(err.value)
    assert "row 38" in text and "'age'" in text and "'forty'" in text and "bad.csv" in text


def test_all_missing_column_is_left_out_with_a_warning(tmp_path, table):
    table = table.copy()
    table["empty"] = np.nan
    path = tmp_path / "m.csv"
    table.to_csv(path, index=False)
    with pytest.warns(SchemaWarning, match="'empty' left out: all values missing"):
        data = load_data(TabularData(path=str(path), target="churn"))
    assert "empty" not in data.schema.feature_names


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        load(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b,c\n")
    with pytest.raises(DataError, match="no data rows"):
        load(header)
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nope.csv")


def test_schema_state_version_is_checked(csv_path):
    state = load(csv_path).state()
    state["version"] = 99
    with pytest.raises(DataError, match="version"):
        Schema.from_state(state)


def test_regression_target_and_forced_categorical(tmp_path):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"zip": rng.integers(0, 5, 100) * 1000 + 75000, "x": rng.normal(size=100)})
    df["y"] = df["x"] * 2.5 + rng.normal(size=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        data = from_dataframe(df, target="y", categorical=("zip",))
    assert data.task_kind() == "regression"
    assert data.schema.feature_names == ["x", "zip"]
    assert data.arrays("train")["y"].dtype == np.float32
