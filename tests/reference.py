"""Independent numpy references, written from the papers' formulas."""

import numpy as np


def log_softmax(z, temperature=1.0):
    z = np.asarray(z, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(z, temperature=1.0):
    return np.exp(log_softmax(z, temperature))


def kd_per_sample(teacher_logits, student_logits, temperature):
    """Hinton et al. 2015: T^2 * KL(softmax(t/T) || softmax(s/T))."""
    p = softmax(teacher_logits, temperature)
    log_p = log_softmax(teacher_logits, temperature)
    log_q = log_softmax(student_logits, temperature)
    return temperature**2 * (p * (log_p - log_q)).sum(-1)


def sparse_ce_per_sample(labels, logits):
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def weighted_mean(values, sample_weight=None):
    """Keras's sum_over_batch_size: sum(w * l) / N."""
    values = np.asarray(values, np.float64)
    if sample_weight is None:
        return values.mean()
    return (values * np.asarray(sample_weight, np.float64)).sum() / len(values)


# ------------------------------------------------------------ feature-based


def hint(t, s):
    """FitNets, MSE reading: per-sample mean squared difference."""
    return ((t - s) ** 2).reshape(len(t), -1).mean(-1)


def attention(f, p=2.0):
    q = (np.abs(f) ** p).mean(-1).reshape(len(f), -1)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def at_code(t, s, p=2.0):
    return ((attention(s, p) - attention(t, p)) ** 2).mean(-1)


def at_paper(t, s, p=2.0):
    return np.linalg.norm(attention(s, p) - attention(t, p), axis=-1)


def cosine_distance(t, s):
    t, s = t.reshape(len(t), -1), s.reshape(len(s), -1)
    return 1 - (t * s).sum(-1) / (np.linalg.norm(t, axis=-1) * np.linalg.norm(s, axis=-1))


def nst(t, s, degree=2, constant=0.0):
    """Huang & Wang: MMD^2 between channel maps, polynomial kernel, per sample."""
    out = []
    for ft, fs in zip(t, s):
        a = ft.reshape(-1, ft.shape[-1]).T  # (C_t, HW)
        b = fs.reshape(-1, fs.shape[-1]).T
        a = a / np.linalg.norm(a, axis=-1, keepdims=True)
        b = b / np.linalg.norm(b, axis=-1, keepdims=True)
        k = lambda x, y: (x @ y.T + constant) ** degree  # noqa: E731
        out.append(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())
    return np.array(out)


# ------------------------------------------------------------ relation-based


def _huber(x):
    a = np.abs(x)
    return np.where(a < 1, 0.5 * x**2, a - 0.5)


def rkd(t, s, distance_weight=25.0, angle_weight=50.0):
    """Park et al.: loops over pairs and triplets, straight from the paper."""
    t, s = t.reshape(len(t), -1).astype(np.float64), s.reshape(len(s), -1).astype(np.float64)
    b = len(t)

    def psi_d(x):
        d = np.array([[np.linalg.norm(x[i] - x[j]) for j in range(b)] for i in range(b)])
        mu = d[~np.eye(b, dtype=bool)].mean()
        return d / mu

    def psi_a(x):
        out = np.zeros((b, b, b))
        for i in range(b):
            for j in range(b):
                for k in range(b):
                    if i == j or k == j:
                        continue
                    e_ij = (x[i] - x[j]) / np.linalg.norm(x[i] - x[j])
                    e_kj = (x[k] - x[j]) / np.linalg.norm(x[k] - x[j])
                    out[i, j, k] = e_ij @ e_kj
        return out

    return distance_weight * _huber(psi_d(s) - psi_d(t)).mean() + angle_weight * _huber(psi_a(s) - psi_a(t)).mean()


def sp(t, s):
    """Tung & Mori: ||G~_t - G~_s||_F^2 / b^2."""
    def g(x):
        x = x.reshape(len(x), -1).astype(np.float64)
        gram = x @ x.T
        return gram / np.linalg.norm(gram, axis=1, keepdims=True)

    return ((g(t) - g(s)) ** 2).sum() / len(t) ** 2


def pkt(t, s, eps=1e-7):
    def cond(x):
        x = x.reshape(len(x), -1).astype(np.float64)
        x = x / (np.linalg.norm(x, axis=1, keepdims=True) + eps)
        k = (x @ x.T + 1) / 2
        return k / k.sum(1, keepdims=True)

    p_t, p_s = cond(t), cond(s)
    return (p_t * np.log((p_t + eps) / (p_s + eps))).mean()


def cc(t, s, gamma=0.4, order=2):
    """Peng et al.: Taylor-expanded Gaussian RBF correlation, ||C_t - C_s||^2 / b^2."""
    from math import exp, factorial

    def corr(x):
        x = x.reshape(len(x), -1).astype(np.float64)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        dot = x @ x.T
        return sum(exp(-2 * gamma) * (2 * gamma) ** p / factorial(p) * dot**p for p in range(order + 1))

    return ((corr(t) - corr(s)) ** 2).sum() / len(t) ** 2


def pairwise(t, s, granularity=1, connection_range=None):
    """Liu et al.: squared differences of node cosine affinities, per sample."""
    def nodes(f):
        n, h, w, c = f.shape
        g = granularity
        f = f[:, : h // g * g, : w // g * g].reshape(n, h // g, g, w // g, g, c).mean((2, 4))
        return f.reshape(n, -1, c), f.shape[1], f.shape[2]

    out = []
    nt, h, w = nodes(t.astype(np.float64))
    ns, _, _ = nodes(s.astype(np.float64))
    for a, b in zip(nt, ns):
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        sq = (b @ b.T - a @ a.T) ** 2
        if connection_range is None:
            out.append(sq.mean())
        else:
            pairs = [(i, j) for i in range(h * w) for j in range(h * w)
                     if max(abs(i // w - j // w), abs(i % w - j % w)) <= connection_range]
            out.append(np.mean([sq[i, j] for i, j in pairs]))
    return np.array(out)


# ------------------------------------------------------------ response-based


def dkd(t, s, labels, alpha=1.0, beta=8.0, temperature=4.0):
    """Zhao et al.: alpha * TCKD + beta * NCKD, times T^2, per sample."""
    out = []
    for zt, zs, g in zip(t.astype(np.float64), s.astype(np.float64), labels):
        pt, ps = softmax(zt[None], temperature)[0], softmax(zs[None], temperature)[0]
        bt, bs = np.array([pt[g], 1 - pt[g]]), np.array([ps[g], 1 - ps[g]])
        tckd = (bt * np.log(bt / bs)).sum()
        mask = np.arange(len(zt)) != g
        qt, qs = softmax(zt[mask][None], temperature)[0], softmax(zs[mask][None], temperature)[0]
        nckd = (qt * np.log(qt / qs)).sum()
        out.append((alpha * tckd + beta * nckd) * temperature**2)
    return np.array(out)


def pixelwise_kd(t, s, temperature=1.0):
    n, c = t.shape[0], t.shape[-1]
    per_pixel = kd_per_sample(t.reshape(-1, c), s.reshape(-1, c), temperature)
    return per_pixel.reshape(n, -1).mean(-1)


# ------------------------------------------------------------ Dirichlet (EnD^2)


def lgamma(x):
    import math

    return np.vectorize(math.lgamma)(np.asarray(x, np.float64))


def digamma(x):
    """psi by a central difference of Python's exact lgamma (independent of the series)."""
    x = np.asarray(x, np.float64)
    h = np.minimum(1e-5, x * 1e-3)
    return (lgamma(x + h) - lgamma(x - h)) / (2 * h)


def endd_nll(members, z, temperature=1.0, smoothing=1e-3):
    """Malinin et al.'s code: T^2 * NLL of the members under Dir(exp(z / T)), per sample."""
    k = z.shape[-1]
    pi = softmax(members, temperature)
    pi = (1 - smoothing) * (pi - 1 / k) + 1 / k
    g = np.log(pi + 1e-8).mean(-2)
    alpha = np.exp(np.asarray(z, np.float64) / temperature)
    nll = lgamma(alpha + 1e-8).sum(-1) - lgamma(alpha.sum(-1) + 1e-8) - ((alpha - 1) * g).sum(-1)
    return nll * temperature**2


def dirichlet_uncertainties(z):
    alpha = np.exp(np.asarray(z, np.float64))
    alpha_0 = alpha.sum(-1, keepdims=True)
    p = alpha / alpha_0
    total = -(p * np.log(p)).sum(-1)
    data = -(p * (digamma(alpha + 1) - digamma(alpha_0 + 1))).sum(-1)
    return total, data, total - data


# ------------------------------------------------- online and self-distillation


def kl_per_sample(p_logits, q_logits, temperature=1.0):
    """KL(softmax(p/T) || softmax(q/T)) per sample, without T^2."""
    p = softmax(p_logits, temperature)
    return (p * (log_softmax(p_logits, temperature) - log_softmax(q_logits, temperature))).sum(-1)


def dml(logits, labels, temperature=1.0, weight=1.0, mode="paper"):
    """Zhang et al. 2018: per peer CE + weight * T^2 * mean (or sum) over others of KL(p_l || p_k)."""
    count = len(logits)
    scale = 1.0 / (count - 1) if mode == "paper" else 1.0
    ce = [sparse_ce_per_sample(labels, z).mean() for z in logits]
    kl = [
        scale * sum(temperature**2 * kl_per_sample(logits[l], logits[k], temperature).mean() for l in range(count) if l != k)
        for k in range(count)
    ]
    return ce, kl


def okddip_attention(h, w_query, w_key):
    """Chen et al. 2020: alpha_ab = softmax_b((W_L h_a) . (W_E h_b)); h is (N, P, d)."""
    q, k = h @ w_query, h @ w_key
    scores = np.einsum("npd,nqd->npq", q, k)
    scores = scores - scores.max(-1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(-1, keepdims=True)


def tf_kd_reg(logits, labels, a=0.99, tau=20.0, mode="paper"):
    """Yuan et al. 2020: KL(softmax(p^d / tau) || softmax(z / tau or z)), code mode / K."""
    k = logits.shape[-1]
    designed = np.full((len(labels), k), (1 - a) / (k - 1))
    designed[np.arange(len(labels)), labels] = a
    target = softmax(designed, tau)
    log_q = log_softmax(logits, tau if mode == "paper" else 1.0)
    kl = (target * (np.log(target) - log_q)).sum(-1)
    return kl / k if mode == "code" else kl
