"""The data sets shipped with the plugin and the defaults they fill in a data config."""

from __future__ import annotations

from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from sslkit.events.configs import EventsData

EMBEDDED: dict[str, dict[str, Any]] = {
    "online-retail": {
        "file": "online_retail_40k.csv.gz",
        "id_col": "CustomerID",
        "time_col": "InvoiceDate",
        "time_format": "excel",
        "cat_cols": ("StockCode", "Country"),
        "num_cols": ("Quantity", "UnitPrice"),
        "drop_cols": ("InvoiceNo", "Description"),
        "cutoff": "2011-09-01",
        "labels": "after_cutoff",
    },
    "age-group": {
        "file": "age_group_transactions.csv.gz",
        "id_col": "client_id",
        "time_col": "trans_date",
        "time_format": "number",
        "cat_cols": ("small_group",),
        "num_cols": ("amount_rur",),
        "labels": "@age_group_bins.csv.gz",
        "label_col": "bins",
    },
}
DEFAULT_DATASET = "online-retail"


def embedded_path(name: str) -> Path:
    return Path(str(resources.files("sslkit.events.datasets").joinpath(name)))


def resolve_config(config: EventsData) -> tuple[EventsData, str | None]:
    """Fill a data config from an embedded data set's defaults (fields the user left at their
    default); returns the config and the data set name (None for a user's file)."""
    name = config.path or DEFAULT_DATASET
    if name not in EMBEDDED:
        return config, None
    spec = EMBEDDED[name]
    defaults = EventsData()
    values: dict[str, Any] = {}
    for f in fields(EventsData):
        if f.name in spec and getattr(config, f.name) == getattr(defaults, f.name):
            values[f.name] = spec[f.name]
    values["path"] = str(embedded_path(spec["file"]))
    labels = values.get("labels", config.labels)
    if isinstance(labels, str) and labels.startswith("@"):
        values["labels"] = str(embedded_path(labels[1:]))
    return replace(config, **values), name
