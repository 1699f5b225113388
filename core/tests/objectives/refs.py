"""Hand-written float64 references: plain Python loops over rows, written from the papers."""

from __future__ import annotations

import math

import torch


def _n(x):
    return x / x.norm()


def _dot(a, b):
    return (a * b).sum()


def infonce(z, t, labels=None, pmask=None, margin=0.0):
    b, v, _ = z.shape
    x = [[_n(z[i, a]) for a in range(v)] for i in range(b)]
    total, count = 0.0, 0
    for i in range(b):
        for a in range(v):

            def is_pos(j, c, i=i, a=a):
                if (j, c) == (i, a):
                    return False
                if j == i:
                    return True
                if labels is not None and labels[j] == labels[i]:
                    return True
                return pmask is not None and bool(pmask[i, j])

            den = 0.0
            for j in range(b):
                for c in range(v):
                    if (j, c) == (i, a):
                        continue
                    s = _dot(x[i][a], x[j][c])
                    if is_pos(j, c):
                        s = s - margin
                    den = den + torch.exp(s / t)
            terms = [
                -torch.log(torch.exp((_dot(x[i][a], x[j][c]) - margin) / t) / den)
                for j in range(b)
                for c in range(v)
                if is_pos(j, c)
            ]
            if terms:
                total = total + sum(terms) / len(terms)
                count += 1
    return total / count


def dcl(z, t, sigma=None):
    b, v, _ = z.shape
    x = [[_n(z[i, a]) for a in range(v)] for i in range(b)]
    total = 0.0
    weights = {}
    if sigma is not None:
        for a in range(v):
            for c in range(v):
                e = [math.exp(float(_dot(x[i][a], x[i][c]).detach()) / sigma) for i in range(b)]
                for i in range(b):
                    weights[i, a, c] = 2 - b * e[i] / sum(e)
    for i in range(b):
        for a in range(v):
            neg = sum(
                torch.exp(_dot(x[i][a], x[j][c]) / t) for j in range(b) for c in range(v) if j != i
            )
            for c in range(v):
                if c == a:
                    continue
                w = weights.get((i, a, c), 1.0)
                total = total + (-w * _dot(x[i][a], x[i][c]) / t + torch.log(neg)) / (v - 1)
    return total / (b * v)


def debiased(z, t, tau_plus):
    b, v, _ = z.shape
    x = [[_n(z[i, a]) for a in range(v)] for i in range(b)]
    total = 0.0
    n_neg = (b - 1) * v
    for i in range(b):
        for a in range(v):
            negs = [
                torch.exp(_dot(x[i][a], x[j][c]) / t) for j in range(b) for c in range(v) if j != i
            ]
            for c in range(v):
                if c == a:
                    continue
                pos = torch.exp(_dot(x[i][a], x[i][c]) / t)
                ng = (-tau_plus * n_neg * pos + sum(negs)) / (1 - tau_plus)
                ng = torch.clamp(ng, min=n_neg * math.exp(-1 / t))
                total = total - torch.log(pos / (pos + ng)) / (v - 1)
    return total / (b * v)


def moco(q, k, queue, t):
    total = 0.0
    for i in range(q.shape[0]):
        qi, ki = _n(q[i]), _n(k[i].detach())
        pos = torch.exp(_dot(qi, ki) / t)
        den = pos + sum(torch.exp(_dot(qi, _n(n)) / t) for n in queue)
        total = total - torch.log(pos / den)
    return total / q.shape[0]


def barlow(z1, z2, lam, eps=1e-5):
    n, d = z1.shape

    def std(z):
        cols = []
        for j in range(d):
            m = sum(z[i, j] for i in range(n)) / n
            var = sum((z[i, j] - m) ** 2 for i in range(n)) / n
            cols.append([(z[i, j] - m) / torch.sqrt(var + eps) for i in range(n)])
        return cols

    a, b = std(z1), std(z2)
    loss = 0.0
    for p in range(d):
        for q in range(d):
            c = sum(a[p][i] * b[q][i] for i in range(n)) / n
            loss = loss + ((1 - c) ** 2 if p == q else lam * c**2)
    return loss


def vicreg(z1, z2, lam, mu, nu, eps=1e-4):
    n, d = z1.shape
    inv = sum((z1[i, j] - z2[i, j]) ** 2 for i in range(n) for j in range(d)) / (n * d)

    def cov(z):
        m = [sum(z[i, j] for i in range(n)) / n for j in range(d)]
        return [
            [sum((z[i, p] - m[p]) * (z[i, q] - m[q]) for i in range(n)) / (n - 1) for q in range(d)]
            for p in range(d)
        ]

    var, cv = 0.0, 0.0
    for z in (z1, z2):
        c = cov(z)
        var = var + 0.5 * sum(torch.relu(1 - torch.sqrt(c[j][j] + eps)) for j in range(d)) / d
        cv = cv + sum(c[p][q] ** 2 for p in range(d) for q in range(d) if p != q) / d
    return lam * inv + mu * var + nu * cv


def wmse(z1, z2, eps=0.0):
    n, d = z1.shape

    def whiten(z):
        m = z.mean(0)
        xc = z - m
        c = sum(torch.outer(xc[i], xc[i]) for i in range(n)) / (n - 1)
        c = (1 - eps) * c + eps * torch.eye(d, dtype=z.dtype)
        # Cholesky by the textbook loops
        low = [[None] * d for _ in range(d)]
        for i in range(d):
            for j in range(i + 1):
                s = sum(low[i][k] * low[j][k] for k in range(j))
                low[i][j] = torch.sqrt(c[i, i] - s) if i == j else (c[i, j] - s) / low[j][j]
        # solve L w = x for each row (forward substitution)
        out = []
        for r in range(n):
            w = []
            for i in range(d):
                w.append((xc[r, i] - sum(low[i][k] * w[k] for k in range(i))) / low[i][i])
            out.append(torch.stack(w))
        return out

    a, b = whiten(z1), whiten(z2)
    return sum(2 - 2 * _dot(_n(a[i]), _n(b[i])) for i in range(n)) / n


def dino(student, teacher, center, ts, tt):
    b, vs, _ = student.shape
    vt = teacher.shape[1]
    total, terms = 0.0, 0
    for t in range(vt):
        for s in range(vs):
            if s == t:
                continue
            terms += 1
            for i in range(b):
                pt = torch.softmax((teacher[i, t].detach() - center) / tt, 0)
                ls = torch.log_softmax(student[i, s] / ts, 0)
                total = total - sum(pt[k] * ls[k] for k in range(pt.shape[0]))
    return total / (terms * b)


def sinkhorn(scores, eps, iters):
    b, k = scores.shape
    q = [[math.exp(float(scores[i, j]) / eps) for j in range(k)] for i in range(b)]
    tot = sum(sum(r) for r in q)
    q = [[x / tot for x in r] for r in q]
    for _ in range(iters):
        for j in range(k):
            cs = sum(q[i][j] for i in range(b))
            for i in range(b):
                q[i][j] = q[i][j] / cs / k
        for i in range(b):
            rs = sum(q[i])
            q[i] = [x / rs / b for x in q[i]]
    return torch.tensor([[x * b for x in r] for r in q], dtype=torch.float64)


def swav(scores, t, eps, iters, n_assign):
    b, v, _ = scores.shape
    total, terms = 0.0, 0
    for a in range(n_assign):
        q = sinkhorn(scores[:, a].detach(), eps, iters)
        for w in range(v):
            if w == a:
                continue
            terms += 1
            for i in range(b):
                ls = torch.log_softmax(scores[i, w] / t, 0)
                total = total - sum(q[i, k] * ls[k] for k in range(q.shape[1])) / b
    return total / terms


def mae(pred, target, mask, norm):
    total, n = 0.0, 0
    b, t, p = pred.shape
    for i in range(b):
        for j in range(t):
            if not mask[i, j]:
                continue
            tg = target[i, j]
            if norm:
                m = sum(tg) / p
                var = sum((x - m) ** 2 for x in tg) / (p - 1)
                tg = torch.stack([(x - m) / math.sqrt(float(var.detach()) + 1e-6) for x in tg])
            total = total + sum((pred[i, j, k] - tg[k]) ** 2 for k in range(p)) / p
            n += 1
    return total / n


def hubert(logits, targets, mask):
    total, n = 0.0, 0
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            if mask[i, j]:
                row = logits[i, j]
                lse = torch.log(sum(torch.exp(x) for x in row))
                total = total + lse - row[targets[i, j]]
                n += 1
    return total / n
