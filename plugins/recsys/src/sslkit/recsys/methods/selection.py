"""Model selection on the validation split, shared by every recsys method.

Every ``eval_every`` optimizer steps (default: about 20 times a run) the method measures
Recall@20 of the validation interactions (the ``fit`` ones masked) with
:func:`sslkit.core.evaluate.recommend.recall_ndcg_at_k` and keeps a copy of the best weights
in buffers (so a checkpoint holds them, and a resumed run selects as the uninterrupted one).
With ``patience`` > 0, ``patience`` measurements in a row without a new best ask the engine to
stop (``Method.stop_requested``). Whenever training ends, early or at the last step, the best
weights are put back. The test split is never looked at during training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

SELECT_K = 20


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
        self.last_val = float("nan")
        self._stop = ""
        self.curve: list[tuple[int, float]] = []
        """(step, validation Recall@20) of every measurement of this process (not saved)."""

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
    def validation_recall(self) -> float:
        from sslkit.core.evaluate.recommend import recall_ndcg_at_k

        was = self.training
        self.eval()
        users, items = self.tables()
        self.train(was)
        out = recall_ndcg_at_k(users.float().cpu(), items.float().cpu(), self._fit,
                               self._valid, ks=(SELECT_K,))  # fmt: skip
        return float(out[f"recall@{SELECT_K}"])

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
        self.last_val = self.validation_recall()
        self.curve.append((done, self.last_val))
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
        if (done >= total_steps or self._stop) and int(self.best[1]) not in (0, done):
            self.restore_best()

    def stop_requested(self) -> str:
        """Why training should end now (``""``: go on); the best weights are already back."""
        return self._stop

    def selection(self) -> dict[str, float]:
        """The validation Recall@20 of the kept weights and the step they are from."""
        return {"val_recall@20": float(self.best[0]), "selected_step": float(self.best[1])}
