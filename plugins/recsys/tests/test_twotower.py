"""The two-tower model (Yao et al. 2021): feature tables by hand (kinds, a missing item
counted), the logQ-corrected in-batch softmax against a hand-written formula, mutual
information and correlated feature masking. Cold-start recall is tested in
tests/test_recsys_cold_start.py (it reads sslkit-events' Online Retail sample)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from sslkit.core.errors import DataError, UsageError
from sslkit.recsys.augment import (
    correlated_groups,
    feature_mutual_information,
    masking_views,
)
from sslkit.recsys.configs import RecsysData
from sslkit.recsys.data import load_data
from sslkit.recsys.data.features import build_table
from sslkit.recsys.methods.twotower import logq_softmax_loss

ITEMS_CSV = """product,colour,price,tags,title
p1,red,1.5,a|b,Red wooden heart
p2,blue,20,b,Blue glass vase
p3,red,3.25,,Red paper lantern
p4,,7,a|c|d,Small tin box
p5,green,0.85,c,Green felt star
"""
"""p6 (bought by dave) has no row: its features are missing, counted; p9 is in no purchase."""


def cfg(**kw) -> RecsysData:
    return dataclasses.replace(RecsysData(), **kw)


def test_feature_table_kinds_tokens_and_a_missing_item(tmp_path, user_csv):
    (tmp_path / "items.csv").write_text(ITEMS_CSV + "p9,red,2,a,Spare part\n")
    data = load_data(cfg(path=str(user_csv), user_column="customer", item_column="product",
                         time_column="when", item_features=str(tmp_path / "items.csv"),
                         val_fraction=0, split="random", test_fraction=0.01))  # fmt: skip
    table = data.features["item"]
    assert table.names == ["colour", "price", "tags", "title"]
    assert table.kinds == ["categorical", "numeric", "multi", "text"]
    assert data.counts["item_features_missing"] == 1  # p6
    assert data.counts["item_features_unused"] == 1  # p9
    row = {item: r for r, item in enumerate(data.items)}
    colour, price, tags, title = table.tokens
    # colour: vocabulary blue 1, green 2, red 3 (sorted); p4's empty cell and p6: 0
    assert colour[row["p1"], 0] == colour[row["p3"], 0] == 3 and colour[row["p4"], 0] == 0
    assert colour[row["p6"]].tolist() == [0]
    # tags: a 1, b 2, c 3, d 4; p4 has three, padded to the widest cell
    assert tags[row["p4"]].tolist() == [1, 3, 4] and tags[row["p1"]].tolist() == [1, 2, 0]
    # title: lower-case words
    assert (title[row["p1"]] > 0).sum() == 3 and (title[row["p6"]] == 0).all()
    # price: quantile buckets, ordered like the prices (p5 0.85 < p1 1.5 < p3 3.25 < p2 20)
    b = [price[row[p], 0] for p in ("p5", "p1", "p3", "p2")]
    assert b == sorted(b) and b[0] < b[-1] and min(b) >= 1
    assert data.features["user"] is None
    # a user table the same way (its id column found by the interactions' column name)
    (tmp_path / "users.tsv").write_text("customer\tcountry\nalice\tUK\nbob\tFR\nzed\tDE\n")
    data = load_data(cfg(path=str(user_csv), user_column="customer", item_column="product",
                         time_column="when", user_features=str(tmp_path / "users.tsv"),
                         item_features="none"))  # fmt: skip
    users = data.features["user"]
    assert data.features["item"] is None and users.kinds == ["categorical"]
    assert data.counts["user_features_missing"] == 2 and data.counts["user_features_unused"] == 1
    country = {u: users.tokens[0][r, 0] for r, u in enumerate(data.users)}
    assert country == {"alice": 2, "bob": 1, "carol": 0, "dave": 0}  # FR 1, UK 2 (zed unused)


def test_feature_types_override_and_bad_feature_tables(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b", "a"], "size": [1, 2, 3], "kind": ["x y", "z", "x"]})
    t = build_table(frame, "id", np.array(["a", "b", "c"]), "item", "f.csv",
                    {"size": "categorical"})  # fmt: skip
    assert t.kinds == ["categorical", "categorical"]  # "x y", "z", "x": 1.33 words -> categorical
    assert t.counts == {"item_features_missing": 1, "item_features_unused": 0,
                        "item_features_repeated": 1}  # fmt: skip
    with pytest.raises(DataError, match="names 'weight', not a column .* columns are id, size"):
        build_table(frame, "id", np.array(["a"]), "item", "f.csv", {"weight": "numeric"})
    from sslkit.recsys.data.features import parse_types

    with pytest.raises(UsageError, match="'size:number' is not column:kind"):
        parse_types("size:number")
    (tmp_path / "log.csv").write_text("user,item\nu1,a\nu1,b\nu2,a\n")
    (tmp_path / "items.csv").write_text("code,colour\na,red\n")
    with pytest.raises(DataError, match=r"no item id column; the columns are code, colour"):
        load_data(cfg(path=str(tmp_path / "log.csv"), item_features=str(tmp_path / "items.csv")))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="item feature file is empty"):
        load_data(cfg(path=str(tmp_path / "log.csv"), item_features=str(tmp_path / "empty.csv")))


def test_online_retail_items_carry_description_and_price():
    data = load_data(cfg(path="online-retail-sample"))
    table = data.features["item"]
    assert table.names == ["Description", "UnitPrice"] and table.kinds == ["text", "numeric"]
    assert (table.tokens[0][:, 0] > 0).mean() > 0.99


def test_logq_softmax_against_the_formula():
    torch.manual_seed(0)
    u, v = torch.randn(5, 4), torch.randn(5, 4)
    items = torch.tensor([3, 1, 3, 0, 2])  # item 3 twice: not a negative of itself
    log_q = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15]))
    t = 0.5
    got = logq_softmax_loss(u, v, items, log_q, t)
    cos = lambda a, b: float(a @ b / a.norm() / b.norm())  # noqa: E731
    total = 0.0
    for i in range(5):
        logit = [cos(u[i], v[j]) / t - float(log_q[items[j]]) for j in range(5)]
        neg = [j for j in range(5) if j == i or items[j] != items[i]]
        total += -logit[i] + math.log(sum(math.exp(logit[j]) for j in neg))
    assert got.item() == pytest.approx(total / 5, rel=1e-5)
    # without the correction (log q = 0) it is the plain in-batch softmax, a different number
    plain = logq_softmax_loss(u, v, items, torch.zeros(5), t)
    assert abs(plain.item() - got.item()) > 1e-3


def test_mutual_information_and_correlated_masking_groups():
    # f0 and f1 carry the same partition (MI = log 2); f2 is independent of both (MI 0)
    f0 = np.array([[1], [1], [2], [2]])
    f1 = np.array([[2], [2], [1], [1]])
    f2 = np.array([[1], [2], [1], [2]])
    f3 = np.array([[1], [1], [1], [2]])
    mi = feature_mutual_information([f0, f1, f2, f3])
    assert mi[0, 1] == pytest.approx(math.log(2)) and mi[0, 0] == pytest.approx(math.log(2))
    assert mi[0, 2] == pytest.approx(0.0, abs=1e-12) and mi[1, 2] == pytest.approx(0.0, abs=1e-12)
    groups = correlated_groups(mi)
    # seed f0 masks itself and its most informative partner f1: half of the 4 features
    assert groups[0].tolist() == [1, 1, 0, 0] and groups[1].tolist() == [1, 1, 0, 0]
    torch.manual_seed(0)
    keep1, keep2 = masking_views(64, 4, groups)
    assert torch.equal(keep1 + keep2, torch.ones(64, 4, dtype=torch.long))
    assert set(map(tuple, keep2.tolist())) <= {tuple(g) for g in groups.tolist()}
    keep1, keep2 = masking_views(64, 4, None)  # random: 2 of 4 masked in each view
    assert (keep2.sum(1) == 2).all() and (keep1.sum(1) == 2).all()


def test_twotower_trains_on_a_users_own_file_with_an_item_table(tmp_path, user_csv, one_thread):
    """The user's purchases (string ids, a duplicate, a one-purchase user, dates) and an item
    table without p6: trains and evaluates; p6 (bought once, last: the item the preset's 10%
    of cold-start items draws here) has neither a trained id nor features, and still gets a
    unit vector like every item (the tower of missing values)."""
    from sslkit.core import api

    (tmp_path / "items.csv").write_text(ITEMS_CSV)
    result = api.pretrain(
        "recsys", "twotower",
        overrides=[f"data.path={user_csv}", "data.user_column=customer",
                   "data.item_column=product", "data.time_column=when",
                   f"data.item_features={tmp_path / 'items.csv'}", "data.val_fraction=0",
                   f"train.out={tmp_path / 'runs'}", "train.quiet=true", "train.device=cpu",
                   "train.max_steps=5", "train.batch_size=4", "method.feature_dim=8",
                   "method.hidden=16", "method.embed_dim=8"],
    )  # fmt: skip
    data = result.data
    assert data.counts["item_features_missing"] == 1 and data.counts["duplicates"] == 1
    assert data.items[data.warm_items :].tolist() == ["p6"]
    assert "recall@20" in result.metrics and "verdict" in result.metrics
    items = result.method.embed(torch.arange(data.n["item"]), space="item").detach()
    assert torch.isfinite(items).all() and torch.allclose(items.norm(dim=1), torch.ones(len(items)))
