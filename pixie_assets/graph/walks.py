"""Pixie random walks with restart over the pin–board CSR (numba).

Definitions used everywhere (engine, tests, benchmark):
- one *step* is one pin → board → pin hop: a uniformly random board of the current pin, then a
  uniformly random pin of that board; the pin reached gets one visit;
- after every step the walker restarts at its query pin with probability ``alpha`` (so walk
  lengths are geometric with mean 1/alpha steps).

Speed comes from memory-level parallelism, not arithmetic: each step is ~5 dependent loads into
arrays far larger than cache. ``_W`` independent walkers of the same query pin advance in
lock-step, one pass per load (row bounds of all walkers, then their boards, ...), and each pass
*prefetches* what the next pass will read, so a few dozen cache misses are in flight at once
instead of one. Visits are counted in compact per-request slots (a dense per-thread pin→slot
array, reused across requests and reset through the slots' own list, never zeroed whole), which
keeps the boost and top-k work on small, cache-resident arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from pixie_assets.graph.store import PinBoardGraph

_W = 128  # interleaved walkers per query pin (a pass over them outlasts a DRAM miss)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_U30 = np.uint64(30)
_U27 = np.uint64(27)
_U31 = np.uint64(31)
_U32 = np.uint64(32)

RESULT_COLUMNS: tuple[str, ...] = (
    "pin_id",
    "visit_count",
    "visit_rank",
    "query_hits",
    "pin_degree",
)


@dataclass(frozen=True)
class WalkParams:
    """Walk settings. n_steps is the total budget N of one request (split over its query pins).

    Early stopping (per query pin): stop once ``n_p`` distinct pins have ``n_v`` visits each.
    The defaults stop a 100k-step single-pin walk on the demo world at well under half its steps
    while keeping >80% of its top 100 (see the test). locale_bias ∈ [0, 1]: probability that a
    hop which landed on a board/pin of another locale is redrawn once (see ``_walk_pin``).
    """

    n_steps: int = 100_000
    alpha: float = 0.5
    top_k: int = 1_000
    n_p: int = 1_000
    n_v: int = 4
    early_stop: bool = True
    locale_bias: float = 0.0
    seed: int = 0
    # Pixie's refinements, each of which can be turned off (the ablation of a plain walk):
    # ``boost`` ranks by (Σ_q sqrt V_q)² instead of Σ_q V_q; ``degree_scaled_steps`` splits
    # N over query pins by weight × s_q (Pixie §3.2) instead of by weight alone.
    boost: bool = True
    degree_scaled_steps: bool = True

    def __post_init__(self) -> None:
        if self.n_steps < 0 or self.top_k < 0:
            raise ValueError("n_steps and top_k must be >= 0")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        if not 0.0 <= self.locale_bias <= 1.0:
            raise ValueError("locale_bias must be in [0, 1]")
        if self.n_p < 1 or self.n_v < 1:
            raise ValueError("n_p and n_v must be >= 1")


# --- RNG: splitmix64 -------------------------------------------------------------------------
# A counter-based generator: the state chain is one add (no serial dependency worth mentioning
# between interleaved walkers) and every output is fully mixed, so both 32-bit halves are used.


@njit(cache=True, nogil=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> _U30)) * _MIX1
    z = (z ^ (z >> _U27)) * _MIX2
    return z ^ (z >> _U31)


@njit(cache=True, nogil=True)
def derive_seed(seed, a, b):
    """Independent 64-bit stream id for (seed, a, b); used as (params.seed, request, query)."""
    z = _mix64(np.uint64(seed) + _GOLDEN)
    z = _mix64(z ^ (np.uint64(a) + _GOLDEN))
    return _mix64(z ^ (np.uint64(b) + _GOLDEN + _GOLDEN))


@njit(cache=True, nogil=True, inline="always")
def _below(r32, n):
    """Uniform integer in [0, n) from 32 random bits (multiply-shift; bias < n / 2^32)."""
    return np.int64((r32 * np.uint64(n)) >> _U32)


def _threshold(p: float) -> np.uint64:
    """Probability as a threshold on 32 random bits."""
    return np.uint64(min(int(round(p * 4294967296.0)), 4294967296))


# --- step allocation and boost ---------------------------------------------------------------


@njit(cache=True, nogil=True)
def _allocate(degree, weight, n_steps, max_log_degree):
    k = len(degree)
    share = np.zeros(k, dtype=np.float64)
    total = 0.0
    for i in range(k):
        d = degree[i]
        if d > 0 and weight[i] > 0:
            share[i] = weight[i] * d * (max_log_degree - math.log(d))
            total += share[i]
    if total <= 0.0:  # every usable pin has the maximum degree: s_q = 0 for all → by weight
        for i in range(k):
            share[i] = weight[i] if (degree[i] > 0 and weight[i] > 0) else 0.0
            total += share[i]
    out = np.zeros(k, dtype=np.int64)
    if total <= 0.0 or n_steps <= 0:
        return out
    frac = np.zeros(k, dtype=np.float64)
    used = 0
    for i in range(k):
        x = n_steps * (share[i] / total)
        out[i] = np.int64(math.floor(x))
        frac[i] = x - out[i] if share[i] > 0 else -1.0
        used += out[i]
    for _ in range(n_steps - used):  # largest remainder, ties to the earlier query pin
        best = -1
        for i in range(k):
            if frac[i] >= 0.0 and (best < 0 or frac[i] > frac[best]):
                best = i
        if best < 0:
            break
        out[best] += 1
        frac[best] = -1.0
    return out


def allocate_steps(
    degrees: np.ndarray, weights: np.ndarray, n_steps: int, max_log_degree: float
) -> np.ndarray:
    """Pixie's steps per query pin.

    s_q = deg(q) · (C − ln deg(q)) with C = max over all graph pins of ln deg (``max_log_degree``);
    N_q = N · w_q·s_q / Σ_r w_r·s_r, rounded down, with the N − Σ⌊·⌋ leftover steps going one each
    to the largest fractional parts (ties: earlier pin), so Σ N_q = N exactly. Pins with degree 0
    (unknown or pruned) or weight ≤ 0 get 0. Note s_q = 0 for a pin of maximum degree; if every
    usable query pin has that degree, steps are split by weight alone.
    """
    return _allocate(
        np.asarray(degrees, np.float64),
        np.asarray(weights, np.float64),
        np.int64(n_steps),
        float(max_log_degree),
    )


def multi_hit_boost(per_query_visits: np.ndarray) -> np.ndarray:
    """V[p] = (Σ_q sqrt(V_q[p]))² over rows q: pins reached from several query pins win over
    pins that one query pin visits a lot. Reference form of what the engine computes."""
    return np.square(np.sqrt(np.asarray(per_query_visits, np.float64)).sum(axis=0))


# --- kernels ---------------------------------------------------------------------------------


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Emit ``llvm.prefetch`` for &arr[idx]: start a cache miss without waiting for it (a plain
    load would hold a reorder-buffer slot until the data arrives)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty)
        # (address, rw=read, locality=3 keep in all levels, cache type=data)
        builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def _walk_pin(
    pin_indptr,
    pin_boards,
    board_indptr,
    board_pins,
    pin_locale,
    board_locale,
    q,
    n_steps,
    restart_thr,
    bias_thr,
    user_locale,
    early_stop,
    n_p,
    n_v,
    stream,
    slot,
    keys,
    cnt,
    tq,
    n_all,
):
    """Walk ``n_steps`` steps from pin ``q`` with ``_W`` interleaved walkers.

    Visits are counted in compact per-request slots: ``slot[p]`` (dense, -1 = unseen) gives the
    slot of pin p, ``keys[s]`` its pin, ``cnt[s]`` this query pin's visits; ``tq`` lists slots
    this query pin touched. Returns (steps taken, n slots in tq, n slots in the request).

    Each round runs five passes over the walkers; every pass reads what the previous pass
    prefetched and prefetches what the next one needs, so a pass's misses overlap each other.

    Locale bias: a board (resp. pin) whose locale differs from the user's is redrawn once with
    probability ``bias`` — one extra draw only on a mismatch; no effect for unknown locales."""
    cur = np.full(_W, q, dtype=np.int32)
    pos = np.empty(_W, dtype=np.int64)
    start = np.empty(_W, dtype=np.int64)
    deg = np.empty(_W, dtype=np.int64)
    node = np.empty(_W, dtype=np.int32)
    rnd = np.empty(_W, dtype=np.uint64)
    use_bias = bias_thr > np.uint64(0) and user_locale >= 0
    ctr = np.uint64(stream)  # (an int64 here would silently turn the RNG into float math)
    steps = 0
    n_tq = 0
    n_hot = 0
    while steps < n_steps:
        m = min(_W, n_steps - steps)
        # A: a random edge of each walker's pin → prefetch that board id
        for w in range(m):
            c = cur[w]
            s = pin_indptr[c]
            d = pin_indptr[c + 1] - s
            ctr += _GOLDEN
            r = _mix64(ctr)
            rnd[w] = r & _LOW32  # low half decides the restart in pass D
            e = s + _below(r >> _U32, d)
            pos[w] = e
            start[w] = s
            deg[w] = d
            _prefetch(pin_boards, e)
        # B: the board → prefetch its row bounds
        for w in range(m):
            b = pin_boards[pos[w]]
            if use_bias and board_locale[b] != user_locale:
                ctr += _GOLDEN
                r = _mix64(ctr)
                if (r & _LOW32) < bias_thr:
                    b = pin_boards[start[w] + _below(r >> _U32, deg[w])]
            node[w] = b
            _prefetch(board_indptr, b)
        # C: a random edge of the board → prefetch that pin id
        for w in range(m):
            b = node[w]
            s = board_indptr[b]
            d = board_indptr[b + 1] - s
            ctr += _GOLDEN
            r = _mix64(ctr)
            e = s + _below(r >> _U32, d)
            pos[w] = e
            start[w] = s
            deg[w] = d
            _prefetch(board_pins, e)
        # D: the pin; restart or move on → prefetch its slot and the next pin's row bounds
        for w in range(m):
            p = board_pins[pos[w]]
            if use_bias and pin_locale[p] != user_locale:
                ctr += _GOLDEN
                r = _mix64(ctr)
                if (r & _LOW32) < bias_thr:
                    p = board_pins[start[w] + _below(r >> _U32, deg[w])]
            node[w] = p
            # branch-free: the outcome is a coin flip, and a mispredict would flush the loads
            # still in flight for the other walkers
            nxt = p + (q - p) * np.int32(rnd[w] < restart_thr)
            cur[w] = nxt
            _prefetch(slot, p)
            _prefetch(pin_indptr, nxt)
        # E: count the visit (branch-free; keys and tq have one spare entry)
        for w in range(m):
            p = node[w]
            s = np.int64(slot[p])
            new = np.int64(s < 0)
            s += (n_all - s) * new
            slot[p] = s
            keys[n_all] = p
            n_all += new
            c = cnt[s] + 1
            cnt[s] = c
            tq[n_tq] = s
            n_tq += np.int64(c == 1)
            n_hot += np.int64(c == n_v)
        steps += m
        if early_stop and n_hot >= n_p:
            break
    return steps, n_tq, n_all


@njit(cache=True, nogil=True)
def _select_top(keys, acc, hits, n_all, top_k, squared, out_idx, out_score, out_hits):
    """Top-k slots by boosted score, ties to the smaller pin label (higher degree class), by
    partial selection over the request's slots only. Query pins carry acc < 0."""
    cand = np.empty(n_all, dtype=np.int64)
    vals = np.empty(n_all, dtype=np.float64)
    n = 0
    for s in range(n_all):
        if acc[s] > 0.0:
            cand[n] = s
            vals[n] = acc[s]
            n += 1
    k = min(top_k, n)
    if k == 0:
        return 0
    if n > k:
        kth = np.partition(vals[:n], n - k)[n - k]  # k-th largest score
        sel = np.empty(k, dtype=np.int64)
        tie_slot = np.empty(n, dtype=np.int64)
        tie_pin = np.empty(n, dtype=np.int64)
        ns = 0
        nt = 0
        for i in range(n):
            if vals[i] > kth:
                sel[ns] = cand[i]
                ns += 1
            elif vals[i] == kth:
                tie_slot[nt] = cand[i]
                tie_pin[nt] = keys[cand[i]]
                nt += 1
        first = np.argsort(tie_pin[:nt])  # integer visit counts tie often at the cut
        for i in range(k - ns):
            sel[ns + i] = tie_slot[first[i]]
    else:
        sel = cand[:n].copy()
    pin = np.empty(k, dtype=np.int64)
    for i in range(k):
        pin[i] = keys[sel[i]]
    by_pin = np.argsort(pin)
    neg = np.empty(k, dtype=np.float64)
    for i in range(k):
        neg[i] = -acc[sel[by_pin[i]]]
    order = np.argsort(neg, kind="mergesort")  # stable: equal scores keep ascending pin label
    for i in range(k):
        s = sel[by_pin[order[i]]]
        a = acc[s]
        out_idx[i] = keys[s]
        out_score[i] = a * a if squared else a
        out_hits[i] = hits[s]
    return k


@njit(cache=True, nogil=True)
def _walk_request(
    pin_indptr,
    pin_boards,
    board_indptr,
    board_pins,
    pin_locale,
    board_locale,
    q_idx,
    q_id,
    q_weight,
    n_steps,
    max_log_degree,
    restart_thr,
    bias_thr,
    user_locale,
    early_stop,
    n_p,
    n_v,
    boost,
    scaled,
    seed,
    request_key,
    top_k,
    slot,
    keys,
    cnt,
    acc,
    hits,
    tq,
    out_idx,
    out_score,
    out_hits,
):
    """One request: allocate steps, walk each query pin, boost, select top-k.

    Query pin j walks with the RNG stream (seed, request key, pin id), so a request's result
    does not depend on the order its pins are listed in. Returns (n results, steps taken) and
    leaves the scratch arrays as it found them."""
    k = len(q_idx)
    degree = np.zeros(k, dtype=np.float64)
    for j in range(k):
        if q_idx[j] >= 0:
            degree[j] = pin_indptr[q_idx[j] + 1] - pin_indptr[q_idx[j]]
    if not scaled:  # steps by weight alone: every usable pin gets the same s_q
        for j in range(k):
            degree[j] = min(degree[j], 1.0)
        max_log_degree = 1.0
    steps_q = _allocate(degree, q_weight, n_steps, max_log_degree)
    n_all = 0
    total = 0
    for j in range(k):
        if steps_q[j] == 0:
            continue
        taken, n_tq, n_all = _walk_pin(
            pin_indptr,
            pin_boards,
            board_indptr,
            board_pins,
            pin_locale,
            board_locale,
            q_idx[j],
            steps_q[j],
            restart_thr,
            bias_thr,
            user_locale,
            early_stop,
            n_p,
            n_v,
            derive_seed(seed, request_key, q_id[j]),
            slot,
            keys,
            cnt,
            tq,
            n_all,
        )
        total += taken
        for i in range(n_tq):  # fold this query pin's visits into the boost: Σ_q sqrt(V_q)
            s = tq[i]
            acc[s] += math.sqrt(cnt[s]) if boost else cnt[s]
            hits[s] += 1
            cnt[s] = 0
    for j in range(k):  # query pins are never their own candidates
        q = q_idx[j]
        if q >= 0 and slot[q] >= 0:
            acc[slot[q]] = -1.0
    n_out = _select_top(keys, acc, hits, n_all, top_k, boost, out_idx, out_score, out_hits)
    for s in range(n_all):
        slot[keys[s]] = -1
        acc[s] = 0.0
        hits[s] = 0
    return n_out, total


@njit(cache=True, nogil=True, parallel=True)
def _walk_batch(
    pin_indptr,
    pin_boards,
    board_indptr,
    board_pins,
    pin_locale,
    board_locale,
    req_indptr,
    q_idx,
    q_id,
    q_weight,
    req_locale,
    req_key,
    n_steps,
    max_log_degree,
    restart_thr,
    bias_thr,
    early_stop,
    n_p,
    n_v,
    boost,
    scaled,
    seed,
    top_k,
    slot,
    keys,
    cnt,
    acc,
    hits,
    tq,
    out_idx,
    out_score,
    out_hits,
    out_n,
    out_steps,
):
    """Requests in parallel; each thread owns one row of the scratch arrays. Results depend only
    on (seed, request key), so they are identical for any thread count."""
    for r in prange(len(req_indptr) - 1):
        t = numba.get_thread_id()
        lo = req_indptr[r]
        hi = req_indptr[r + 1]
        n, steps = _walk_request(
            pin_indptr,
            pin_boards,
            board_indptr,
            board_pins,
            pin_locale,
            board_locale,
            q_idx[lo:hi],
            q_id[lo:hi],
            q_weight[lo:hi],
            n_steps,
            max_log_degree,
            restart_thr,
            bias_thr,
            req_locale[r],
            early_stop,
            n_p,
            n_v,
            boost,
            scaled,
            seed,
            req_key[r],
            top_k,
            slot[t],
            keys[t],
            cnt[t],
            acc[t],
            hits[t],
            tq[t],
            out_idx[r],
            out_score[r],
            out_hits[r],
        )
        out_n[r] = n
        out_steps[r] = steps


# --- scratch ---------------------------------------------------------------------------------


def _scratch_factory(graph: PinBoardGraph, rows: int, n_steps: int):
    def make() -> tuple[np.ndarray, ...]:
        cap = max(n_steps, 1) + 1  # a request touches at most n_steps pins; + one spare entry
        return (
            np.full((rows, graph.n_pins), -1, dtype=np.int32),  # slot of each pin, -1 = unseen
            np.zeros((rows, cap), dtype=np.int32),  # keys: pin of each slot
            np.zeros((rows, cap), dtype=np.int32),  # cnt: visits by the current query pin
            np.zeros((rows, cap), dtype=np.float64),  # acc: Σ_q sqrt(visits)
            np.zeros((rows, cap), dtype=np.int32),  # hits: query pins that reached the pin
            np.zeros((rows, cap), dtype=np.int32),  # tq: slots touched by the current query pin
        )

    return make


class _Scratch:
    """Context manager lending walk buffers from the graph's pool (thread-safe). Buffers are
    returned in their rest state (slot all -1, counters 0): walks reset only what they touched."""

    def __init__(self, graph: PinBoardGraph, rows: int, n_steps: int) -> None:
        self.graph, self.key = graph, (rows, max(n_steps, 1))
        self.factory = _scratch_factory(graph, rows, n_steps)
        self.buffers: tuple[np.ndarray, ...] | None = None

    def __enter__(self) -> tuple[np.ndarray, ...]:
        self.buffers = self.graph.scratch.take(self.key, self.factory)
        return self.buffers

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None and self.buffers is not None:  # on error, drop: may be dirty
            self.graph.scratch.give(self.key, self.buffers)


def _graph_arrays(graph: PinBoardGraph) -> tuple[np.ndarray, ...]:
    return (
        graph.pin_indptr,
        graph.pin_boards,
        graph.board_indptr,
        graph.board_pins,
        graph.pin_locale,
        graph.board_locale,
    )


def _empty_result(with_request: bool = False) -> pd.DataFrame:
    cols: dict[str, Any] = {
        "pin_id": np.zeros(0, np.int64),
        "visit_count": np.zeros(0, np.float64),
        "visit_rank": np.zeros(0, np.int32),
        "query_hits": np.zeros(0, np.int32),
        "pin_degree": np.zeros(0, np.int64),
    }
    if with_request:
        cols = {"request_idx": np.zeros(0, np.int64), **cols}
    return pd.DataFrame(cols)


# --- public API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkRequest:
    """One request of a batch: query pins, their weights (default 1), the user's locale."""

    pin_ids: Sequence[int] | np.ndarray
    weights: Sequence[float] | np.ndarray | None = None
    locale: str | None = None


@dataclass(frozen=True)
class _Flat:
    """Requests as flat arrays: request r's query pins are rows indptr[r]:indptr[r+1]."""

    keys: np.ndarray  # int64 request_idx per request (also the RNG stream key)
    indptr: np.ndarray  # int64
    q_idx: np.ndarray  # int32 graph label, -1 = not in the graph
    q_id: np.ndarray  # int64 pin id
    weight: np.ndarray  # float64
    locale: np.ndarray  # int16 locale code per request, -1 = none


def _normalize(
    graph: PinBoardGraph,
    keys: np.ndarray,
    req_pos: np.ndarray,
    pin_ids: np.ndarray,
    weights: np.ndarray,
    locale: np.ndarray,
) -> _Flat:
    """Group query rows by request, sort each request's pins by id and merge repeated pins
    (weights add up: a pin engaged twice counts twice). Sorting is over query rows only."""
    order = np.lexsort((pin_ids, req_pos))
    req_pos, pin_ids, weights = req_pos[order], pin_ids[order], weights[order]
    first = np.ones(len(pin_ids), dtype=bool)
    first[1:] = (req_pos[1:] != req_pos[:-1]) | (pin_ids[1:] != pin_ids[:-1])
    starts = np.flatnonzero(first)
    if len(starts) < len(pin_ids):
        weights = np.add.reduceat(weights, starts) if len(starts) else weights[:0]
        req_pos, pin_ids = req_pos[starts], pin_ids[starts]
    indptr = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(np.bincount(req_pos, minlength=len(keys)), out=indptr[1:])
    q_idx = graph.pin_index(pin_ids) if graph.n_pins else np.full(len(pin_ids), -1, np.int32)
    return _Flat(
        keys=np.ascontiguousarray(keys, np.int64),
        indptr=indptr,
        q_idx=np.ascontiguousarray(q_idx, np.int32),
        q_id=np.ascontiguousarray(pin_ids, np.int64),
        weight=np.ascontiguousarray(weights, np.float64),
        locale=np.ascontiguousarray(locale, np.int16),
    )


def _flatten_requests(graph: PinBoardGraph, requests: Any) -> _Flat:
    """From a sequence of WalkRequest / (pin_ids, weights[, locale]) tuples (request_idx =
    position) or a long DataFrame request_idx, pin_id[, weight][, locale] (request_idx kept;
    a request's locale is that of its first row)."""
    if isinstance(requests, pd.DataFrame):
        req = requests["request_idx"].to_numpy(np.int64)
        keys, first_row, req_pos = np.unique(req, return_index=True, return_inverse=True)
        pins = requests["pin_id"].to_numpy(np.int64)
        weights = (
            requests["weight"].to_numpy(np.float64) if "weight" in requests else np.ones(len(pins))
        )
        if "locale" in requests:
            first = requests["locale"].to_numpy(object)[first_row]
            loc = np.array([graph.locale_code(x) for x in first], dtype=np.int16)
        else:
            loc = np.full(len(keys), -1, dtype=np.int16)
        return _normalize(graph, keys, req_pos.reshape(-1), pins, weights, loc)
    items = [r if isinstance(r, WalkRequest) else WalkRequest(*r) for r in requests]
    pins_list = [np.atleast_1d(np.asarray(r.pin_ids, dtype=np.int64)) for r in items]
    ws = [
        np.ones(len(p)) if r.weights is None else np.atleast_1d(np.asarray(r.weights, np.float64))
        for r, p in zip(items, pins_list, strict=True)
    ]
    if any(len(w) != len(p) for w, p in zip(ws, pins_list, strict=True)):
        raise ValueError("a request's pin_ids and weights differ in length")
    lens = np.array([len(p) for p in pins_list], dtype=np.int64)
    return _normalize(
        graph,
        np.arange(len(items), dtype=np.int64),
        np.repeat(np.arange(len(items), dtype=np.int64), lens),
        np.concatenate(pins_list) if items else np.zeros(0, np.int64),
        np.concatenate(ws) if items else np.zeros(0),
        np.array([graph.locale_code(r.locale) for r in items], dtype=np.int16),
    )


def pixie_query(
    graph: PinBoardGraph,
    query_pin_ids: np.ndarray,
    weights: np.ndarray | None,
    params: WalkParams,
    user_locale: str | None = None,
) -> pd.DataFrame:
    """Top-k pins for one request, on the calling thread (numba releases the GIL, so threads
    may call this concurrently on one graph).

    Columns: pin_id, visit_count (boosted visits, float), visit_rank (1 = best), query_hits (how
    many query pins' walks reached the pin), pin_degree. Query pins are excluded. Unknown or
    pruned query pins get no steps; if none is usable the frame is empty. Repeated query pins
    are merged (weights summed). ``attrs["steps"]`` holds the steps actually taken. The result
    equals that of request 0 of ``pixie_batch``.
    """
    ids = np.atleast_1d(np.asarray(query_pin_ids, dtype=np.int64))
    w = np.ones(len(ids)) if weights is None else np.atleast_1d(np.asarray(weights, np.float64))
    if len(w) != len(ids):
        raise ValueError("query_pin_ids and weights differ in length")
    flat = _normalize(
        graph,
        np.zeros(1, np.int64),
        np.zeros(len(ids), np.int64),
        ids,
        w,
        np.array([graph.locale_code(user_locale)], np.int16),
    )
    if params.n_steps == 0 or params.top_k == 0 or not np.any(flat.q_idx >= 0):
        out = _empty_result()
        out.attrs["steps"] = 0
        return out
    out_idx = np.empty(params.top_k, dtype=np.int32)
    out_score = np.empty(params.top_k, dtype=np.float64)
    out_hits = np.empty(params.top_k, dtype=np.int32)
    with _Scratch(graph, 1, params.n_steps) as scratch:
        n, steps = _walk_request(
            *_graph_arrays(graph),
            flat.q_idx,
            flat.q_id,
            flat.weight,
            np.int64(params.n_steps),
            graph.max_log_degree,
            _threshold(params.alpha),
            _threshold(params.locale_bias),
            flat.locale[0],
            params.early_stop,
            np.int64(params.n_p),
            np.int64(params.n_v),
            params.boost,
            params.degree_scaled_steps,
            np.uint64(params.seed % 2**64),
            np.int64(0),
            np.int64(params.top_k),
            *(a[0] for a in scratch),
            out_idx,
            out_score,
            out_hits,
        )
    idx = out_idx[:n]
    out = pd.DataFrame(
        {
            "pin_id": np.asarray(graph.pin_ids[idx], dtype=np.int64),
            "visit_count": out_score[:n],
            "visit_rank": np.arange(1, n + 1, dtype=np.int32),
            "query_hits": out_hits[:n],
            "pin_degree": (graph.pin_indptr[idx + 1] - graph.pin_indptr[idx]).astype(np.int64),
        }
    )
    out.attrs["steps"] = int(steps)
    return out


def pixie_batch(
    graph: PinBoardGraph,
    requests: Any,
    params: WalkParams,
    n_threads: int | None = None,
    chunk_size: int = 2048,
) -> pd.DataFrame:
    """Top-k pins for many requests, in parallel over requests (numba prange).

    ``requests``: a sequence of ``WalkRequest`` (or ``(pin_ids, weights[, locale])`` tuples),
    whose ``request_idx`` in the output is the position; or a long DataFrame with columns
    request_idx, pin_id, weight (optional) and locale (optional, first row of a request wins),
    whose request_idx values are kept. Each request's RNG streams derive from (params.seed,
    request_idx, pin id) only, so results do not depend on ``n_threads``, chunking or row
    order. Requests are processed ``chunk_size`` at a time to bound the output buffers.
    Columns: request_idx + those of ``pixie_query``; ``attrs["total_steps"]`` = steps taken.
    """
    flat = _flatten_requests(graph, requests)
    n_req = len(flat.keys)
    if n_req == 0 or params.n_steps == 0 or params.top_k == 0 or not np.any(flat.q_idx >= 0):
        out = _empty_result(with_request=True)
        out.attrs["total_steps"] = 0
        return out
    previous = numba.get_num_threads()
    threads = previous if n_threads is None else int(n_threads)
    threads = max(1, min(threads, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    frames: list[pd.DataFrame] = []
    total_steps = 0
    try:
        with _Scratch(graph, threads, params.n_steps) as scratch:
            for lo in range(0, n_req, chunk_size):
                hi = min(lo + chunk_size, n_req)
                m = hi - lo
                rows = slice(flat.indptr[lo], flat.indptr[hi])
                out_idx = np.empty((m, params.top_k), dtype=np.int32)
                out_score = np.empty((m, params.top_k), dtype=np.float64)
                out_hits = np.empty((m, params.top_k), dtype=np.int32)
                out_n = np.zeros(m, dtype=np.int64)
                out_steps = np.zeros(m, dtype=np.int64)
                _walk_batch(
                    *_graph_arrays(graph),
                    flat.indptr[lo : hi + 1] - flat.indptr[lo],
                    flat.q_idx[rows],
                    flat.q_id[rows],
                    flat.weight[rows],
                    flat.locale[lo:hi],
                    flat.keys[lo:hi],
                    np.int64(params.n_steps),
                    graph.max_log_degree,
                    _threshold(params.alpha),
                    _threshold(params.locale_bias),
                    params.early_stop,
                    np.int64(params.n_p),
                    np.int64(params.n_v),
                    params.boost,
                    params.degree_scaled_steps,
                    np.uint64(params.seed % 2**64),
                    np.int64(params.top_k),
                    *scratch,
                    out_idx,
                    out_score,
                    out_hits,
                    out_n,
                    out_steps,
                )
                total_steps += int(out_steps.sum())
                frames.append(
                    _batch_frame(graph, flat.keys[lo:hi], out_n, out_idx, out_score, out_hits)
                )
    finally:
        numba.set_num_threads(previous)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["total_steps"] = total_steps
    return out


def _batch_frame(
    graph: PinBoardGraph,
    keys: np.ndarray,
    out_n: np.ndarray,
    out_idx: np.ndarray,
    out_score: np.ndarray,
    out_hits: np.ndarray,
) -> pd.DataFrame:
    """Compact the padded per-request outputs into one long frame."""
    valid = np.arange(out_idx.shape[1])[None, :] < out_n[:, None]
    idx = out_idx[valid]
    rank = np.broadcast_to(np.arange(1, out_idx.shape[1] + 1, dtype=np.int32), out_idx.shape)
    return pd.DataFrame(
        {
            "request_idx": np.repeat(keys, out_n),
            "pin_id": np.asarray(graph.pin_ids[idx], dtype=np.int64),
            "visit_count": out_score[valid],
            "visit_rank": rank[valid],
            "query_hits": out_hits[valid],
            "pin_degree": (graph.pin_indptr[idx + 1] - graph.pin_indptr[idx]).astype(np.int64),
        }
    )
