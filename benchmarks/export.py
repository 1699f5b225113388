"""Streaming export: peak memory against the number of rows, and rows per second.

    uv run python benchmarks/export.py [--cases 'parquet:100000,1000000;npy:100000']
                                       [--method scarf] [--threads 2] [--work DIR]

1. Writes Parquet files of 100k, 300k, 1M and 2M rows (rows drawn with replacement from the UCI
   Adult census data embedded in sslkit-tabular, plus a ``row_id`` column), chunk by chunk.
2. Pretrains a tabular run briefly on the 1M-row file, streamed (``data.stream=stream``).
3. For every (rows, format), a fresh subprocess loads the run with ``--data`` the file of that
   size and exports it; it reports its peak RSS (``VmHWM``), its RSS right after the run and
   the data were loaded (before any embedding), the rows and the seconds. A ``read`` case per
   size only iterates the plugin's batches: the memory the reader itself takes (pyarrow's
   dataset scanner reads ahead up to a fixed number of record batches).

Export streams (record batches in, part files out), so the peak must not grow with the rows.
Writes ``benchmarks/results/export.json`` and the table in ``docs/export.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, write_result, write_table

CHUNK = 100_000


def make_parquet(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` Adult rows drawn with replacement, written in chunks (never all in memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sslkit.tabular.data import read_adult

    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    train, test = read_adult()
    import pandas as pd

    adult = pd.concat([train, test], ignore_index=True)
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        chunk = adult.iloc[rng.integers(0, len(adult), n)].reset_index(drop=True)
        chunk.insert(0, "row_id", np.arange(start, start + n, dtype=np.int64))
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=65536)
    writer.close()
    tmp.rename(path)


def pretrain(work: Path, data: Path, method: str, threads: int) -> Path:
    from sslkit.core import api

    run = work / f"export-bench-{method}"
    if (run / "checkpoints" / "last.safetensors").is_file():
        return run
    result = api.pretrain(
        "tabular",
        method,
        overrides=[
            f"data.path={data}",
            "data.stream=stream",
            "data.target=incomes",
            "data.id_column=row_id",
            "data.fit_rows=50000",
            "train.max_steps=40",
            "train.batch_size=256",
            "train.quiet=true",
            f"train.out={work}",
            f"train.name={run.name}",
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    return result.run_dir


def proc_status_mb(key: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process from /proc (Linux). Unlike
    ``ru_maxrss``, which a child inherits across fork + exec from its parent, ``VmHWM`` starts
    afresh with the new program."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def bounded_reader() -> None:
    """The ``--reader iter_batches`` variant: the tabular plugin's reader
    (:func:`sslkit.tabular.data.parquet_frames`, ``ParquetFile.iter_batches``, one record batch
    at a time) with pyarrow's default ``pre_buffer=True``, as this variant measured it before
    the plugin adopted it (commit 7136ca6, with ``pre_buffer`` off); before then the plugin read
    with a ``pyarrow.dataset`` scanner, which reads ahead and holds more Arrow memory the larger
    the file. Same rows, same order, same offsets."""
    from sslkit.tabular.data import StreamedTable, parquet_files, parquet_frames

    def frames(self):
        files = parquet_files(self.path)
        yield from parquet_frames(files, self.read_batch, self.config.max_rows, pre_buffer=True)

    StreamedTable._frames = frames


def child(
    run_dir: str, data: str, fmt: str, out: str, batch_size: int, threads: int, reader: str
) -> None:
    """One export in this process (``fmt`` = ``read``: only iterate the plugin's batches, the
    reading baseline); prints a JSON line with its numbers."""
    import torch

    torch.set_num_threads(threads)
    from sslkit.core import api
    from sslkit.core.export.run import export_run

    if reader == "iter_batches":
        bounded_reader()
    loaded = api.load_run(run_dir, data=data)
    loaded_mb = proc_status_mb("VmRSS")
    if fmt == "read":
        start, rows = time.perf_counter(), 0
        for batch in loaded.data.export_batches(batch_size):
            rows += len(batch.ids)
        seconds = time.perf_counter() - start
        peak = proc_status_mb("VmHWM")
        print(
            json.dumps(
                {
                    "rows": rows,
                    "seconds": round(seconds, 2),
                    "peak_rss_mb": round(peak, 1),
                    "rss_after_load_mb": round(loaded_mb, 1),
                    "read_peak_over_load_mb": round(peak - loaded_mb, 1),
                }
            )
        )
        return
    start = time.perf_counter()
    target = export_run(loaded, to=fmt, out=out, batch_size=batch_size, overwrite=True)
    seconds = time.perf_counter() - start
    manifest = json.loads((Path(target) / "manifest.json").read_text())
    size = sum(p.stat().st_size for p in Path(target).iterdir())
    print(
        json.dumps(
            {
                "rows": manifest["rows"],
                "seconds": round(seconds, 2),
                "rows_per_second": round(manifest["rows"] / seconds, 1),
                "peak_rss_mb": round(proc_status_mb("VmHWM"), 1),
                "rss_after_load_mb": round(loaded_mb, 1),
                "export_peak_over_load_mb": round(proc_status_mb("VmHWM") - loaded_mb, 1),
                "embedding_dim": manifest["embedding_dim"],
                "output_mb": round(size / 2**20, 1),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--cases",
        default="parquet:100000,300000,1000000,2000000;npy:100000,1000000",
        help="format:rows,rows;format:rows (each case also gets a reading-only baseline)",
    )
    ap.add_argument("--method", default="scarf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--work", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "sslkit-bench"))
    ap.add_argument(
        "--reader",
        choices=("plugin", "iter_batches"),
        default="plugin",
        help="the tabular plugin's own Parquet reader, or the same with pyarrow's pre_buffer on",
    )
    ap.add_argument("--child", nargs=4, metavar=("RUN", "DATA", "FORMAT", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child, batch_size=args.batch_size, threads=args.threads, reader=args.reader)
        return

    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    plan = {
        fmt: [int(r) for r in rows.split(",")]
        for fmt, rows in (part.split(":") for part in args.cases.split(";"))
    }
    sizes = sorted({n for rows in plan.values() for n in rows})
    files = {}
    for n in sizes:
        files[n] = work / f"adult-{n}.parquet"
        t = time.perf_counter()
        make_parquet(files[n], n)
        print(f"data: {files[n]} ({time.perf_counter() - t:.1f}s)", flush=True)
    run_dir = pretrain(work, files[max(sizes)], args.method, args.threads)
    print(f"run: {run_dir}", flush=True)

    cases = []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    for fmt, rows in [("read", sizes), *plan.items()]:
        for n in rows:
            out = work / f"out-{fmt}-{n}"
            cmd = [sys.executable, __file__, "--threads", str(args.threads)]
            cmd += ["--batch-size", str(args.batch_size), "--reader", args.reader]
            cmd += ["--child", str(run_dir), str(files[n]), fmt, str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
            if proc.returncode != 0:
                raise SystemExit(f"export {fmt} {n} failed:\n{proc.stderr[-3000:]}")
            case = {"format": fmt, **json.loads(proc.stdout.strip().splitlines()[-1])}
            cases.append(case)
            print(json.dumps(case), flush=True)

    reading = {c["rows"]: c for c in cases if c["format"] == "read"}
    for c in cases:
        if c["format"] != "read":
            c["export_peak_over_reading_mb"] = round(
                c["peak_rss_mb"] - reading[c["rows"]]["peak_rss_mb"], 1
            )
    growth = {}
    for fmt in ["read", *plan]:
        by = {c["rows"]: c for c in cases if c["format"] == fmt}
        lo, hi = by[min(by)], by[max(by)]
        growth[fmt] = {
            "rows_ratio": round(hi["rows"] / lo["rows"], 1),
            "peak_rss_ratio": round(hi["peak_rss_mb"] / lo["peak_rss_mb"], 3),
            "peak_over_load_mb": {
                str(r): c.get("export_peak_over_load_mb", c.get("read_peak_over_load_mb"))
                for r, c in sorted(by.items())
            },
        }
    payload = {
        "benchmark": "export",
        "machine": machine(("torch", "numpy", "pyarrow", "faiss-cpu", "sslkit-core")),
        "threads": args.threads,
        "batch_size": args.batch_size,
        "plugin": "tabular",
        "reader": args.reader,
        "method": args.method,
        "data": "UCI Adult rows drawn with replacement into Parquet files (+ row_id)",
        "run": str(run_dir),
        "cases": cases,
        "memory_growth": growth,
        "protocol": "one fresh subprocess per case; peak RSS = VmHWM of that process "
        "(/proc/self/status), RSS after load = VmRSS after load_run, before any embedding",
    }
    suffix = "" if args.reader == "plugin" else f"-{args.reader}"
    path = write_result(f"export{suffix}", payload)
    table = [
        [
            c["format"],
            f"{c['rows']:,}",
            f"{c['peak_rss_mb']:.0f}",
            f"{c['rss_after_load_mb']:.0f}",
            f"{c.get('export_peak_over_load_mb', c.get('read_peak_over_load_mb')):.0f}",
            f"{c['export_peak_over_reading_mb']:.0f}" if "export_peak_over_reading_mb" in c else "",
            f"{c['rows_per_second']:,.0f}" if "rows_per_second" in c else "",
            f"{c['output_mb']:.0f}" if "output_mb" in c else "",
        ]
        for c in cases
    ]
    write_table(
        "export.md",
        f"export-benchmark{suffix}",
        table,
        [
            "format",
            "rows",
            "peak RSS (MB)",
            "RSS after load (MB)",
            "peak over load (MB)",
            "peak over reading only (MB)",
            "rows/s",
            "output (MB)",
        ],
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
