"""Generic evaluations on frozen embeddings: linear probe, representation monitors."""

from __future__ import annotations

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings


def linear_probe(
    train: Embeddings, test: Embeddings, kind: str = "classification", seed: int = 0
) -> dict[str, float]:
    """Logistic (classification) or ridge (regression) regression on standardised embeddings,
    with the regularisation chosen by 5-fold cross-validation on the training split."""
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "regression":
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        model.fit(train.X, train.y)
        pred = model.predict(test.X)
        return {
            "rmse": float(np.sqrt(mean_squared_error(test.y, pred))),
            "r2": float(r2_score(test.y, pred)),
        }
    model = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(Cs=np.logspace(-3, 2, 6), cv=5, max_iter=1000, random_state=seed),
    )
    model.fit(train.X, train.y)
    out = {"accuracy": float(accuracy_score(test.y, model.predict(test.X)))}
    if len(np.unique(train.y)) == 2:
        out["roc_auc"] = float(roc_auc_score(test.y, model.predict_proba(test.X)[:, 1]))
    return out


def representation_stats(emb: Embeddings) -> dict[str, float]:
    """RankMe (Garrido et al. 2023), uniformity (Wang & Isola 2020) and embedding std."""
    import torch

    from sslkit.core.objectives import embedding_std, rankme, uniformity

    z = torch.from_numpy(emb.X[:4096]).double()
    return {
        "rankme": float(rankme(z)),
        "uniformity": float(uniformity(torch.nn.functional.normalize(z, dim=1))),
        "embedding_std": float(embedding_std(z)),
        "dim": float(z.shape[1]),
    }
