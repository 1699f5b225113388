"""Loading tables: CSV, Parquet (in memory or streamed), pandas DataFrames, the embedded Adult.

``load_data(config, state=None)`` is the plugin's loader. Rows become two arrays, ``num``
(scaled numeric features, float32) and ``cat`` (category indices, int64); a batch is the dict
``{"num": (B, n_num), "cat": (B, n_cat)}`` (a key is left out when the table has no such
feature). The fitted :class:`~sslkit.tabular.schema.Schema` is the ``state`` saved with a run.

Splits: ``"train"`` and ``"test"``. With a ``test_path`` (the Adult train and test files) they
are the two files; with one file, a seeded hash of the row number holds out ``test_fraction``
of the rows (the same rule in memory and streamed). Pretraining uses the train split.

Modules, lowest first (each imports only those above it):

- :mod:`~sslkit.tabular.data.reading`: CSV / Parquet files (whole, or Parquet in record
  batches), the embedded Adult data, the seeded split of row numbers;
- :mod:`~sslkit.tabular.data.memory`: :class:`TabularDomainData`, :func:`from_dataframes`,
  the plugin's ``from_memory`` hook and :func:`from_dataframe`;
- :mod:`~sslkit.tabular.data.stream`: :class:`StreamedTable` (Parquet, larger than memory);
- :mod:`~sslkit.tabular.data.load`: :func:`load_data`, the plugin's loader.
"""

from __future__ import annotations

from sslkit.tabular.data.load import load_data
from sslkit.tabular.data.memory import (
    TabularDomainData,
    from_dataframe,
    from_dataframes,
    from_memory,
)
from sslkit.tabular.data.reading import (
    ADULT,
    ADULT_TARGET,
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    REGISTERED,
    parquet_files,
    parquet_frames,
    read_adult,
    read_table,
    split_mask,
)
from sslkit.tabular.data.stream import StreamedTable

__all__ = [
    "ADULT",
    "ADULT_TARGET",
    "CSV_SUFFIXES",
    "PARQUET_SUFFIXES",
    "REGISTERED",
    "StreamedTable",
    "TabularDomainData",
    "from_dataframe",
    "from_dataframes",
    "from_memory",
    "load_data",
    "parquet_files",
    "parquet_frames",
    "read_adult",
    "read_table",
    "split_mask",
]
