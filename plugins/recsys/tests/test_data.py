"""Reading and splitting interactions, worked by hand on small logs; bad input as one line."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sslkit.core.errors import DataError, UsageError
from sslkit.recsys.configs import RecsysData
from sslkit.recsys.data import from_memory, load_data
from sslkit.recsys.data.splits import filter_rare, held_out


def cfg(**kw) -> RecsysData:
    return dataclasses.replace(RecsysData(), **kw)


def pairs(data, split):
    u, i = data.interactions(split)
    return sorted(zip(u.tolist(), i.tolist()))


def test_temporal_leave_last_out_on_a_hand_made_log(user_csv):
    data = load_data(cfg(path=str(user_csv), user_column="customer", item_column="product",
                         time_column="when", split="leave_k_out", leave_k=1, val_fraction=0))  # fmt: skip
    # duplicates: alice's second p1; test = each user's last purchase by time, users with one
    # purchase keep it in training; p6 (dave's last) never appears in training: unknown
    assert data.counts["duplicates"] == 1
    assert data.counts["split"] == "leave_k_out"
    assert pairs(data, "test") == [("alice", "p4"), ("bob", "p3")]
    assert data.counts["test_unknown"] == 1  # (dave, p6)
    assert ("carol", "p1") in pairs(data, "train")
    assert ("bob", "p5") in pairs(data, "train")  # bob's rows were out of time order
    assert set(data.users) == {"alice", "bob", "carol", "dave"}
    assert "p6" not in set(data.items)


def test_temporal_fraction_and_validation_cut_from_training(user_csv):
    data = load_data(cfg(path=str(user_csv), user_column="customer", item_column="product",
                         time_column="when", test_fraction=0.5, val_fraction=0.5))  # fmt: skip
    assert data.counts["split"] == "temporal"
    # alice: p1 p2 p3 p4 (deduplicated) -> test p3 p4, valid p2, fit p1; bob: p2 p5 p3 by
    # time -> test p5 p3; dave: p4 p2 p5 p6 -> test p5 p6. p3, p5 and p6 are then bought only
    # in test: those 5 test interactions name items training never saw (counted, dropped)
    assert data.counts["test_unknown"] == 5
    assert pairs(data, "test") == [("alice", "p4")]
    assert [p for p in pairs(data, "valid") if p[0] == "alice"] == [("alice", "p2")]
    assert [p for p in pairs(data, "fit") if p[0] == "alice"] == [("alice", "p1")]
    # "train" (what evaluation masks) is fit + valid
    assert set(pairs(data, "train")) == set(pairs(data, "fit")) | set(pairs(data, "valid"))


def test_weights_filter_and_rare_users_items_are_counted(user_csv):
    data = load_data(cfg(path=str(user_csv), user_column="customer", item_column="product",
                         time_column="when", weight_column="stars", min_weight=2,
                         min_user_interactions=2, val_fraction=0))  # fmt: skip
    assert data.counts["weight <= 2"] == 2  # bob p2 (2), dave p2 (1)
    assert data.counts["users_filtered"] == 1  # carol
    frame = pd.DataFrame({"user": list("aabbbc"), "item": list("xyxyzx"), "row": range(6)})
    kept, counts = filter_rare(frame, min_user=2, min_item=2)
    # round 1: c (1) out; z (1) out -> b keeps x y, a keeps x y
    assert counts == {"users_filtered": 1, "items_filtered": 1, "interactions_filtered": 2}
    assert sorted(zip(kept["user"], kept["item"])) == [
        ("a", "x"),
        ("a", "y"),
        ("b", "x"),
        ("b", "y"),
    ]


def test_held_out_random_never_takes_a_users_only_interaction():
    frame = pd.DataFrame({"user": ["a"] * 5 + ["b"], "item": list("pqrstp"),
                          "time": np.nan, "row": range(6)})  # fmt: skip
    held = held_out(frame, "random", 0.4, 1, seed=3, by_time=False)
    assert held[:5].sum() == 2 and not held[5]


def test_lightgcn_text_format_and_given_test_file(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2\n1 2 3\n2 0\n")
    (tmp_path / "test.txt").write_text("0 3\n1 0 9\n7 1\n")
    data = load_data(cfg(path=str(tmp_path / "train.txt"), test_path=str(tmp_path / "test.txt"),
                         val_fraction=0))  # fmt: skip
    assert data.counts["split"] == "given"
    assert data.users.tolist() == ["0", "1", "2"] and data.items.tolist() == ["0", "1", "2", "3"]
    assert pairs(data, "test") == [("0", "3"), ("1", "0")]
    assert data.counts["test_unknown"] == 2  # item 9, user 7
    with pytest.raises(DataError, match=r"test.txt, row 2: .*never seen in training.*item '9'"):
        load_data(cfg(path=str(tmp_path / "train.txt"), test_path=str(tmp_path / "test.txt"),
                      unknown="error"))  # fmt: skip


def test_parquet_and_dataframe_read_the_same(tmp_path, user_csv):
    frame = pd.read_csv(user_csv)
    frame.to_parquet(tmp_path / "p.parquet")
    kw = dict(user_column="customer", item_column="product", time_column="when")
    a = load_data(cfg(path=str(tmp_path / "p.parquet"), **kw))
    b = from_memory(frame, cfg(**kw))
    for split in ("fit", "valid", "test"):
        assert pairs(a, split) == pairs(b, split)
    with pytest.raises(DataError, match="DataFrame"):
        from_memory([1, 2], cfg())


def test_bad_input_is_one_clear_error(tmp_path, user_csv):
    with pytest.raises(DataError, match=r"no user column; the columns are customer, product"):
        load_data(cfg(path=str(user_csv)))
    with pytest.raises(DataError, match=r"no item column 'sku'; the columns are customer"):
        load_data(cfg(path=str(user_csv), user_column="customer", item_column="sku"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_data(cfg(path=str(tmp_path / "empty.csv")))
    (tmp_path / "header.csv").write_text("user,item\n")
    with pytest.raises(DataError, match=r"header.csv: no interactions \(the table is empty\)"):
        load_data(cfg(path=str(tmp_path / "header.csv")))
    (tmp_path / "bad.csv").write_text("user,item,time\na,x,2024-01-01\nb,y,yesterday-ish\n")
    with pytest.raises(DataError, match=r"bad.csv, row 3, column 'time': cannot read"):
        load_data(cfg(path=str(tmp_path / "bad.csv")))
    with pytest.raises(UsageError, match="data.test_path"):
        load_data(cfg(path=str(user_csv), user_column="customer", item_column="product",
                      split="given"))  # fmt: skip


def test_state_keeps_the_rows_of_users_and_items(user_csv):
    kw = dict(path=str(user_csv), user_column="customer", item_column="product")
    first = load_data(cfg(**kw))
    state = first.state()
    state["users"] = state["users"][::-1]
    again = load_data(cfg(**kw), state=state)
    assert again.users.tolist() == first.users.tolist()[::-1]
    assert pairs(again, "fit") == pairs(first, "fit")


def test_embedded_sample_is_customer_by_product_split_by_time():
    data = load_data(cfg(path="online-retail-sample"))
    assert data.counts["split"] == "temporal"
    assert data.counts["returns"] > 0 and data.counts["duplicates"] > 0
    assert 700 < data.info["users"] <= 800 and data.info["items"] > 1000
    assert len(data.rows("test")[0]) > 500


def test_online_retail_falls_back_to_the_shipped_sample_without_sslkit_events(monkeypatch):
    from sslkit.recsys.data import reading

    real = reading.resources.files

    def files(package):
        if package == "sslkit.events.datasets":
            raise ModuleNotFoundError("No module named 'sslkit.events'")
        return real(package)

    monkeypatch.setattr(reading.resources, "files", files)
    data, source = reading.embedded_bytes("online-retail")
    assert source == "<embedded online-retail-sample>" and len(data) > 100_000


def test_online_retail_with_date_strings_is_split_by_time(tmp_path):
    """The UCI file exported to CSV has InvoiceDate as text: still a temporal split."""
    rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    items = ["A", "B", "C", "D", "E"]
    for c in range(5):  # customer c buys the items in turn from item c: its last is item c - 1
        for d in range(4):
            item = items[(c + d) % 5]
            rows.append(f"5{c}{d},{item},x,1,2010-12-0{d + 1} 08:26:00,1.0,1{c},UK")
    (tmp_path / "retail.csv").write_text("\n".join(rows) + "\n")
    data = load_data(cfg(path=str(tmp_path / "retail.csv"), split="temporal", test_fraction=0.25))
    assert data.counts["split"] == "temporal"
    assert set(pairs(data, "test")) == {(f"1{c}", items[(c + 3) % 5]) for c in range(5)}


def test_temporal_split_without_times_is_a_usage_error(tmp_path):
    (tmp_path / "log.csv").write_text(
        "user,item\n" + "".join(f"u{k % 3},i{k}\n" for k in range(12))
    )
    with pytest.raises(UsageError, match="data.split = temporal needs a time"):
        load_data(cfg(path=str(tmp_path / "log.csv"), split="temporal"))


def test_popularity_ties_go_to_the_smaller_item_row_in_float32():
    """Three items tied at 5,000 interactions in the last rows of 40,000: an offset of
    1e-5 added to the counts vanishes in float32; the popularity ranking still orders them."""
    from types import SimpleNamespace

    from sslkit.core.evaluate.recommend import top_k
    from sslkit.recsys.baselines import popularity_embeddings

    items = np.concatenate([np.repeat([39_997, 39_998, 39_999], 5000), [5, 5, 7]])
    data = SimpleNamespace(n={"user": 2, "item": 40_000},
                           rows=lambda split: (np.zeros(len(items), np.int64), items))  # fmt: skip
    users, item_emb = popularity_embeddings(data)
    assert users.dtype == item_emb.dtype == np.float32
    top = top_k(users, item_emb, 6)
    assert top[0].tolist() == [39_997, 39_998, 39_999, 5, 7, 0]
