"""Model selection on the validation split, shared by every recsys method.

Every ``eval_every`` optimizer steps (default: about 20 times a run) the method measures
Recall@20 of the validation interactions (the ``fit`` ones masked) with
:func:`sslkit.core.evaluate.recommend.recall_ndcg_at_k` and keeps a copy of the best weights
in buffers (so a checkpoint holds them, and a resumed run selects as the uninterrupted one).
With ``patience`` > 0, ``patience`` measurements in a row without a new best ask the engine to
stop (``Method.stop_requested``); the stop is a buffer too, so a run resumed from the last
checkpoint stays stopped (core asks again before its first step). Whenever training ends,
early or at the last step, the best weights are put back. The test split is never looked at
during training. Each measurement is a :class:`Point` of ``curve`` (with the process's CPU
seconds, for the learning curves of ``benchmarks/recsys.py``).
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import torch

SELECT_K = 20


class Point(NamedTuple):
    """One validation measurement: the step, Recall@20 and NDCG@20 of the validation split,
    the CPU seconds of this process since the method was built (measurements included) and
    those of the measurements alone."""

    step: int
    recall: float
    ndcg: float
    cpu_seconds: float
    eval_cpu_seconds: float


def _buffer_name(name: str) -> str:
    return "best_" + name.replace(".", "_")


class KeepsBest:
    """Mixed into a recsys :class:`~sslkit.core.engine.method.Method`; the method calls
    :meth:`init_selection` in its ``__init__`` and implements ``kept()`` (the trained tensors
    by name) and ``tables()`` (the final user and item embeddings)."""

    def init_selection(self, data: Any) -> None:
        self._fit = data.rows("fit")
        self._valid = data.rows("valid")
        for name, p in self.kept().items():
            self.register_buffer(_buffer_name(name), p.detach().clone())
        self.register_buffer("best", torch.tensor([-1.0, 0.0]))  # (recall@20, step)
        self.register_buffer("stopped_at", torch.tensor(0.0))  # the early stop's step (0: none)
        self.last_val = float("nan")
        self._stop = ""
        self._cpu0, self._eval_cpu = time.process_time(), 0.0
        self.curve: list[Point] = []
        """Every measurement of this process (not saved)."""

    def kept(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def has_valid(self) -> bool:
        return self._valid is not None and len(self._valid[0]) > 0

    def logs(self, **terms: torch.Tensor) -> dict[str, Any]:
        out = {k: v.detach() for k, v in terms.items()}
        if self.has_valid() and not np.isnan(self.last_val):
            out["val_recall@20"] = self.last_val
        return out

    @torch.no_grad()
    def validation_metrics(self) -> tuple[float, float]:
        """Recall@20 and NDCG@20 of the validation split (the fit interactions masked)."""
        from sslkit.core.evaluate.recommend import recall_ndcg_at_k

        was = self.training
        self.eval()
        users, items = self.tables()
        self.train(was)
        out = recall_ndcg_at_k(users.float().cpu(), items.float().cpu(), self._fit,
                               self._valid, ks=(SELECT_K,))  # fmt: skip
        return float(out[f"recall@{SELECT_K}"]), float(out[f"ndcg@{SELECT_K}"])

    def validation_recall(self) -> float:
        return self.validation_metrics()[0]

    def restore_best(self) -> None:
        with torch.no_grad():
            for name, p in self.kept().items():
                p.copy_(getattr(self, _buffer_name(name)))

    def on_train_step_end(self, step: int, total_steps: int) -> None:
        if not self.has_valid():
            return
        done = step + 1
        every = int(self.cfg.eval_every) or max(1, total_steps // 20)
        if done % every and done < total_steps:
            return
        start = time.process_time()
        self.last_val, ndcg = self.validation_metrics()
        self._eval_cpu += time.process_time() - start
        self.curve.append(Point(done, self.last_val, ndcg, time.process_time() - self._cpu0,
                                self._eval_cpu))  # fmt: skip
        if self.last_val > float(self.best[0]):
            for name, p in self.kept().items():
                getattr(self, _buffer_name(name)).copy_(p)
            self.best.copy_(torch.tensor([self.last_val, float(done)]))
        patience = int(getattr(self.cfg, "patience", 0) or 0)
        if patience and done - int(self.best[1]) >= patience * every and done < total_steps:
            self._stop = (
                f"early stop: validation Recall@20 not above {float(self.best[0]):.4f} (step "
                f"{int(self.best[1])}) for {patience} measurements"
            )
            self.stopped_at.fill_(float(done))
        if (done >= total_steps or self._stop) and int(self.best[1]) not in (0, done):
            self.restore_best()

    def stop_requested(self) -> str:
        """Why training should end now (``""``: go on); the best weights are already back."""
        if not self._stop and float(self.stopped_at) > 0:  # resumed from a stopped run
            self._stop = (
                f"early stop at step {int(self.stopped_at)} (before the resume): validation "
                f"Recall@20 not above {float(self.best[0]):.4f} (step {int(self.best[1])})"
            )
        return self._stop

    def selection(self) -> dict[str, float]:
        """The validation Recall@20 of the kept weights and the step they are from."""
        return {"val_recall@20": float(self.best[0]), "selected_step": float(self.best[1])}
