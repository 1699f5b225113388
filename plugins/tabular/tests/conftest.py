from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A small mixed-type table: id, numeric with missing values, categories, a binary flag,
    a datetime, free text and a target that depends on the features."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(float)
    income = rng.lognormal(10, 1, n)
    income[rng.random(n) < 0.1] = np.nan
    city = rng.choice(["paris", "lyon", "nice", "lille"], n)
    city = np.where(rng.random(n) < 0.05, None, city)
    member = rng.choice(["yes", "no"], n)
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 24000, n), unit="h")
    words = ["the", "customer", "wrote", "about", "delivery", "late", "great", "service", "box"]
    notes = [" ".join(rng.choice(words, 8)) + f" #{i}" for i in range(n)]
    score = (age > 45).astype(int) ^ (member == "yes").astype(int)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "age": age,
            "income": income,
            "city": city,
            "member": member,
            "signup": signup.strftime("%Y-%m-%d %H:%M"),
            "notes": notes,
            "churn": np.where(score == 1, "yes", "no"),
        }
    )


@pytest.fixture
def table() -> pd.DataFrame:
    return make_table()


@pytest.fixture
def csv_path(tmp_path, table):
    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    return path
