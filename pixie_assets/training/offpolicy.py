"""Off-policy estimates of a lightweight ranker's actions per request, from the serving logs.

**Setting.** A day's serving log holds N requests. Request i has n_i logged candidates; candidate
j has the logged lightweight rank ℓ_ij (0-based, descending logged score, ties by ascending
visit rank, exactly as serving broke them). With M candidates sent to the full ranker and e
exploration slots, write c = M − e for the cut. The funnel (``serving.funnel``) sent the set S_i:
every candidate with ℓ_ij < c, plus e candidates drawn uniformly without replacement from the
n_i − c others. Each candidate's probability of being sent — its *propensity* — is therefore
known from logged columns alone::

    p_ij = 1                          if ℓ_ij < c
    p_ij = min(1, e / (n_i − c))      otherwise   (0 when e = 0)

For j ∈ S_i we observe y_ij: the number of the client's actions the user took on j (0 when the
full ranker did not show it). For j ∉ S_i nothing is observed.

**Estimand.** A target ranker π ranks the same candidates (r_ij, 0-based, same tie rule) and
would have sent its top M, T_i = {j : r_ij < M}. Let μ_ij = E[y_ij | j ∈ S_i]. We estimate::

    V(π) = (1/N) Σ_i Σ_{j ∈ T_i} μ_ij

the *actions per request attributable to π's top-M set*. It equals the expected actions per
request of serving with π under assumption **A**: a candidate's outcome given that it was sent
does not depend on which other candidates were sent with it. A fails in this funnel: the full
ranker shows only k of the M and the user acts on those, so a candidate's chance of being shown
(and its position) depends on the rest of the set. V(π) credits each member of T_i with the
outcome it had against the *logging* set's competition. Consequences: (1) V is not capped at
what k impressions can yield; (2) V exaggerates every difference from the logging policy. A
stronger target's extra members are credited with the slots they won against the weaker logging
set while the members they would push out keep theirs; a weaker target's members are credited
with the slots they failed to win against the stronger logging set, though in the target's own
set they would be shown. The order of rankers tends to survive, their distances do not (several
times the simulated ones on the demo world). ``pixie_assets.training.metric_validity`` measures
how well each estimate tracks the simulated truth.

**Estimators.** With s_ij = 1 if j ∈ S_i and w_ij = s_ij / p_ij:

* IPS (inverse propensity scoring)::

      V_IPS = (1/N) Σ_i Σ_{j ∈ T_i} w_ij y_ij

  Unbiased for V under A when p_ij > 0 for every j ∈ T_i (each term has expectation μ_ij).
  With e = 0 every candidate below the cut has p_ij = 0: V is not identified and the estimate is
  NaN (no *support*) unless T_i lies inside the logged top c.
* SNIPS (self-normalised IPS)::

      V_SNIPS = V_IPS · (Σ_i |T_i|) / (Σ_i Σ_{j ∈ T_i} w_ij)

  The denominator's expectation is Σ_i |T_i|, so this rescales the weights to the slots they
  stand for. Biased by O(1/N), consistent, and less variable: it cancels the luck of how many of
  π's below-cut candidates exploration happened to send.
* DR (doubly robust)::

      V_DR = (1/N) Σ_i Σ_{j ∈ T_i} [ q(j) + w_ij (y_ij − q(j)) ]

  with a reward model q (the direct method). Unbiased under A for *any* q not fitted on request
  i's own draws, because E[w_ij] = 1; its variance is that of y − q instead of y, so it falls as
  q improves. For p_ij = 1 the term is y_ij whatever q is: only below-cut candidates use q. The
  default q is fitted on exploration rows (sent with p < 1) that fall in a target's top M: the
  mean outcome per cell of (log₂ bucket of r_ij) × (log₂ bucket of ℓ_ij), shrunk toward the mean
  of its target-rank bucket, then toward the mean over all such rows, with a pseudo-count of
  ``SHRINKAGE`` rows. It is cross-fitted: requests are split into two folds by code parity and
  each fold's q comes from the other fold, which keeps the estimate exactly unbiased rather than
  unbiased up to the in-sample fit. Where p_ij = 0 for some j ∈ T_i, q would have to extrapolate
  to candidates whose outcome was never logged; DR is NaN there too.

**Slot-adjusted estimand.** Summing μ over all M members of T_i ignores that the user sees
only the k_i impressions the full ranker picks: a member of T_i that would win a slot against the
logging set takes it from another candidate. Write η_ij = P(j shown | j ∈ S_i) and d for the
expected actions on a *marginal* impression (the last shown position of a request). Then::

    V_slot(π) = (1/N) Σ_i [ Σ_{j ∈ T_i} (μ_ij − d η_ij) + d k_i ]

credits each member of T_i with its outcome but charges it the marginal impression it displaces
whenever it wins a slot, and fills the slots T_i would leave empty with marginal impressions.
It is the additive V with the full ranker's k slots held fixed: for the logging policy's own
set (Σ η = k_i) both agree, and where V exaggerates a difference V_slot keeps the number of
impressions the user sees. It is first-order right around the logging set. Its own biases: a
displaced impression is not exactly worth d (d averages the last impressions of all requests,
not the one displaced in this request, and a newcomer also shifts the positions below it), and
the slots a weak ranker leaves empty would be filled by its members below the logging set's
threshold, worth less than d, so weak rankers are overstated. Estimating it is IPS/DR on the
transformed outcome z_ij = y_ij − d · shown_ij plus the logged d k_i; d is the mean outcome on
last-position impressions of the same log (its estimation noise, O(1/N) of the value, is ignored
in the standard errors). model_evaluation reports these as ``ips_slot/``, ``snips_slot/`` and
``dr_slot/``.

Standard errors are over requests (the per-request sums are independent): sd / √N, for IPS and
DR. Outcomes may be one column or several (one per action), estimated together.

Pure numpy on flat per-candidate arrays; ``group`` names each row's request, as in
``training.metrics``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SHRINKAGE = 20.0  # pseudo-rows pulling a reward-model cell toward its parent's mean
FOLDS = 2


class LoggedPolicyError(ValueError):
    """The arrays contradict the logging policy (e.g. a row was sent with propensity 0)."""


def _codes(group: npt.ArrayLike) -> tuple[np.ndarray, int]:
    g = np.asarray(group)
    if g.ndim != 1:
        raise ValueError(f"group must be 1-D, got shape {g.shape}")
    uniques, codes = np.unique(g, return_inverse=True)
    return codes.astype(np.int64), len(uniques)


def _int(value: int, name: str) -> int:
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def logging_propensities(
    group: npt.ArrayLike, logged_rank: npt.ArrayLike, m: int, explore_slots: int
) -> np.ndarray:
    """P(sent to the full ranker) of each logged candidate under ``serving.funnel``'s policy.

    ``logged_rank`` is the row's 0-based rank within its request by the logged lightweight score
    (ties as serving broke them). The top ``m - explore_slots`` are always sent; each of the other
    n − (m − e) candidates is one of e uniform draws without replacement: e / (n − (m − e)),
    capped at 1 (a request with at most m candidates sends all of them).
    """
    m, e = _int(m, "m"), _int(explore_slots, "explore_slots")
    e = min(e, m)
    rank = np.asarray(logged_rank, dtype=np.int64)
    codes, n_groups = _codes(group)
    if rank.shape != codes.shape:
        raise ValueError(f"logged_rank must have shape {codes.shape}, got {rank.shape}")
    cut = m - e
    rest = (np.bincount(codes, minlength=n_groups) - cut)[codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        explore = np.where(rest > 0, np.minimum(1.0, e / np.maximum(rest, 1)), 1.0)
    return np.where(rank < cut, 1.0, explore)


def logged_policy_match(
    group: npt.ArrayLike, propensity: npt.ArrayLike, sent: npt.ArrayLike
) -> float:
    """Share of requests whose logged sent flags the propensities could have produced: every
    row with propensity 1 sent, none with propensity 0 sent, and as many sent as the
    propensities sum to (the funnel sends exactly min(n, M)). Below 1 the logs came from another
    policy (or another tie rule) and the propensities are not theirs."""
    codes, n_groups = _codes(group)
    p = np.asarray(propensity, dtype=np.float64)
    s = np.asarray(sent).astype(bool)
    if n_groups == 0:
        return float("nan")
    bad = (p >= 1.0) & ~s | (p <= 0.0) & s
    bad_requests = np.bincount(codes, weights=bad, minlength=n_groups) > 0
    expected = np.bincount(codes, weights=p, minlength=n_groups)
    count = np.bincount(codes, weights=s, minlength=n_groups)
    wrong_count = np.abs(expected - count) > 1e-6
    return float(np.mean(~(bad_requests | wrong_count)))


def marginal_slot_value(
    group: npt.ArrayLike, shown: npt.ArrayLike, position: npt.ArrayLike, outcomes: npt.ArrayLike
) -> np.ndarray:
    """d of the slot-adjusted estimand: the mean outcome (per column) on the last impression of
    each request that showed anything — what one impression more or less is worth at the
    margin. NaN for a column when nothing was shown."""
    codes, n_groups = _codes(group)
    h = np.asarray(shown).astype(bool)
    pos = np.asarray(position, dtype=np.int64)
    y = np.asarray(outcomes, dtype=np.float64)
    y = y.reshape(len(codes), -1)
    shown_count = np.bincount(codes, weights=h, minlength=n_groups)
    last = h & (pos == shown_count[codes] - 1)
    if not last.any():
        return np.full(y.shape[1], np.nan)
    return y[last].mean(axis=0)


@dataclass(frozen=True)
class TopMEstimate:
    """Estimates of V (module docstring), one entry per outcome column."""

    ips: np.ndarray
    snips: np.ndarray
    dr: np.ndarray
    ips_se: np.ndarray
    dr_se: np.ndarray
    support: float  # share of the target's top-M slots with a positive propensity
    overlap: float  # share of the target's top-M slots that the log actually sent
    requests: int


def _log2_bucket(rank: np.ndarray) -> np.ndarray:
    """0 for rank 0, 1 for 1, 2 for 2–3, 3 for 4–7, …: fine at the top, coarse further down."""
    return np.floor(np.log2(rank.astype(np.float64) + 1.0)).astype(np.int64)


def _cell_means(
    cells: np.ndarray,
    parents: np.ndarray,
    y: np.ndarray,
    fit: np.ndarray,
    n_cells: int,
    n_parents: int,
) -> np.ndarray:
    """Shrunk mean outcome of every cell from the rows in ``fit`` (cell → parent → overall).

    Returns (n_cells, outcome columns). With no fitting rows at all the model predicts 0, and DR
    then equals IPS.
    """
    columns = y.shape[1]
    if not fit.any():
        return np.zeros((n_cells, columns))
    overall = y[fit].mean(axis=0)
    n_parent = np.bincount(parents[fit], minlength=n_parents).astype(np.float64)
    n_cell = np.bincount(cells[fit], minlength=n_cells).astype(np.float64)
    parent_of_cell = np.zeros(n_cells, dtype=np.int64)
    parent_of_cell[cells] = parents
    out = np.empty((n_cells, columns))
    for a in range(columns):
        parent_sum = np.bincount(parents[fit], weights=y[fit, a], minlength=n_parents)
        parent_mean = (parent_sum + SHRINKAGE * overall[a]) / (n_parent + SHRINKAGE)
        cell_sum = np.bincount(cells[fit], weights=y[fit, a], minlength=n_cells)
        prior = parent_mean[parent_of_cell]
        out[:, a] = (cell_sum + SHRINKAGE * prior) / (n_cell + SHRINKAGE)
    return out


def cross_fitted_reward(
    codes: np.ndarray,
    target_rank: np.ndarray,
    logged_rank: np.ndarray,
    propensity: np.ndarray,
    sent: np.ndarray,
    y: np.ndarray,
    m: int,
) -> np.ndarray:
    """The default reward model q of DR (module docstring), cross-fitted over two folds of
    requests. Returns (rows, outcome columns); only rows in the target's top M matter."""
    target_bucket = _log2_bucket(np.minimum(target_rank, m))
    logged_bucket = _log2_bucket(logged_rank)
    n_logged = int(logged_bucket.max()) + 1 if len(logged_bucket) else 1
    n_target = int(target_bucket.max()) + 1 if len(target_bucket) else 1
    cells = target_bucket * n_logged + logged_bucket
    explored = sent & (propensity < 1.0) & (target_rank < m)
    fold = codes % FOLDS
    q = np.zeros(y.shape)
    for f in range(FOLDS):
        means = _cell_means(
            cells, target_bucket, y, explored & (fold != f), n_target * n_logged, n_target
        )
        rows = fold == f
        q[rows] = means[cells[rows]]
    return q


def estimate_top_m(
    group: npt.ArrayLike,
    target_rank: npt.ArrayLike,
    logged_rank: npt.ArrayLike,
    propensity: npt.ArrayLike,
    sent: npt.ArrayLike,
    outcomes: npt.ArrayLike,
    m: int,
    reward: npt.ArrayLike | None = None,
    shown: npt.ArrayLike | None = None,
    slot_value: npt.ArrayLike | None = None,
) -> TopMEstimate:
    """IPS, SNIPS and DR estimates of the target's actions per request from its top ``m``.

    ``group``: request of each row; ``target_rank``/``logged_rank``: 0-based ranks within the
    request under the target and the logging ranker; ``propensity``: P(sent) under the logging
    policy (``logging_propensities``); ``sent``: the logged flag; ``outcomes``: (rows,) or
    (rows, columns) actions per row, read only where sent. ``reward``: DR's q, same shape as
    ``outcomes`` (of the transformed outcome when slot-adjusted); default the cross-fitted cell
    model. With ``shown`` (the logged impression flag) and ``slot_value`` (d per column, see
    ``marginal_slot_value``) the estimates are of the slot-adjusted V_slot. Every estimate is
    NaN where some slot of the target's top M has propensity 0 (no support), or when there are
    no requests.
    """
    m = _int(m, "m")
    codes, n_groups = _codes(group)
    n = codes.shape[0]
    r = np.asarray(target_rank, dtype=np.int64)
    lr = np.asarray(logged_rank, dtype=np.int64)
    p = np.asarray(propensity, dtype=np.float64)
    s = np.asarray(sent).astype(bool)
    raw = np.asarray(outcomes, dtype=np.float64)
    single = raw.ndim == 1
    y = raw.reshape(n, -1) if single else raw
    for name, array in (("target_rank", r), ("logged_rank", lr), ("propensity", p), ("sent", s)):
        if array.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {array.shape}")
    if y.shape[0] != n:
        raise ValueError(f"outcomes must have {n} rows, got {y.shape[0]}")
    if (s & (p <= 0)).any():
        raise LoggedPolicyError("a row was sent although its propensity is 0")
    y = np.where(s[:, None], y, 0.0)  # unsent rows have no outcome; never read them
    # Per-request constant of the slot-adjusted estimand (d k_i), zero for the plain one.
    offset = np.zeros((n_groups, y.shape[1]))
    if (shown is None) != (slot_value is None):
        raise ValueError("shown and slot_value go together (the slot-adjusted estimand)")
    if shown is not None:
        h = np.asarray(shown).astype(bool)
        d = np.asarray(slot_value, dtype=np.float64).reshape(-1)
        if h.shape != (n,) or d.shape != (y.shape[1],):
            raise ValueError("shown must have one flag per row and slot_value one d per column")
        if (h & ~s).any():
            raise LoggedPolicyError("a row was shown although it was not sent")
        y = y - d[None, :] * h[:, None]
        offset = np.bincount(codes, weights=h, minlength=n_groups)[:, None] * d[None, :]

    in_target = r < m
    slots = int(in_target.sum())
    supported = in_target & (p > 0)
    nan = np.full(y.shape[1], np.nan)
    support = float(supported.sum() / slots) if slots else float("nan")
    overlap = float((in_target & s).sum() / slots) if slots else float("nan")
    if n_groups == 0 or slots == 0 or not supported[in_target].all():
        return TopMEstimate(nan, nan, nan, nan, nan, support, overlap, n_groups)

    w = np.where(s & in_target, 1.0 / np.where(p > 0, p, 1.0), 0.0)
    q = (
        cross_fitted_reward(codes, r, lr, p, s, y, m)
        if reward is None
        else np.asarray(reward, dtype=np.float64).reshape(y.shape)
    )
    ips_rows = w[:, None] * y
    dr_rows = np.where(in_target[:, None], q + w[:, None] * (y - q), 0.0)
    ips_per_request = offset + np.column_stack(
        [np.bincount(codes, weights=ips_rows[:, a], minlength=n_groups) for a in range(y.shape[1])]
    )
    dr_per_request = offset + np.column_stack(
        [np.bincount(codes, weights=dr_rows[:, a], minlength=n_groups) for a in range(y.shape[1])]
    )
    ips = ips_per_request.mean(axis=0)
    weight_total = w.sum()
    base = offset.mean(axis=0)  # SNIPS rescales the weighted part only, never the constant
    snips = base + (ips - base) * slots / weight_total if weight_total > 0 else nan
    ddof = 1 if n_groups > 1 else 0
    root_n = np.sqrt(n_groups)
    return TopMEstimate(
        ips=ips,
        snips=snips,
        dr=dr_per_request.mean(axis=0),
        ips_se=ips_per_request.std(axis=0, ddof=ddof) / root_n,
        dr_se=dr_per_request.std(axis=0, ddof=ddof) / root_n,
        support=support,
        overlap=overlap,
        requests=n_groups,
    )
