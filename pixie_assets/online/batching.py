"""Featurizing and scoring concurrent requests together.

The feature SQL costs about as much for one request's few hundred candidates as for a few
thousand (most of a query is its plan and its joins' set-up), and XGBoost likewise. So each
client has one scoring thread: a request hands over its candidates and waits; the thread takes
every request waiting at that moment (none is held back for others to arrive), featurizes and
scores them in one query and one prediction, and gives each its own rows back. Idle, a request
is scored alone at no extra delay; under load, the requests that queued during one query share
the next. Rows are independent in the feature SQL, so a request's features and scores are the
same whoever it shares a query with (tested against the batch path).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pixie_assets.online.features import Featurizer
from pixie_assets.serving.funnel import rank_within_requests
from pixie_assets.serving.pipeline import ScoredCandidates
from pixie_assets.serving.scoring import Scorer

# At most this many candidate rows in one query: bounds a query's memory and latency.
MAX_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class _Job:
    candidates: pd.DataFrame
    done: Future


class ScoringQueue:
    """One client's scoring thread, with a featurizer of its own (``online.features``) and a
    scorer."""

    def __init__(
        self, connect: Callable[[], Featurizer], scorer: Scorer, name: str = "scoring"
    ) -> None:
        self.featurizer = connect()  # the thread's own connection
        self.scorer = scorer
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def score(self, candidates: pd.DataFrame, timeout: float = 60.0) -> ScoredCandidates:
        """One request's candidates featurized, scored and ranked (waits for its batch)."""
        done: Future = Future()
        self._jobs.put(_Job(candidates, done))
        features, score = done.result(timeout)
        codes = np.zeros(len(candidates), dtype=np.int64)
        rank = rank_within_requests(codes, score, candidates["visit_rank"].to_numpy())
        return ScoredCandidates(candidates, features, score, rank, codes, self.scorer.version)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        featurizer = self.featurizer
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                batch, rows, stop = [job], len(job.candidates), False
                while rows < MAX_BATCH_ROWS:  # everything waiting now, nothing more
                    try:
                        waiting = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if waiting is None:
                        stop = True
                        break
                    batch.append(waiting)
                    rows += len(waiting.candidates)
                self._score(batch, featurizer)
                if stop:
                    return
        finally:
            featurizer.close()

    def _score(self, batch: list[_Job], featurizer: Featurizer) -> None:
        try:
            together = pd.concat([job.candidates for job in batch], ignore_index=True)
            features = featurizer.featurize(together)
            score = self.scorer.score(features)
        except BaseException as error:  # every waiting request learns why
            for job in batch:
                job.done.set_exception(error)
            return
        start = 0
        for job in batch:
            n = len(job.candidates)
            job.done.set_result((features.slice(start, n), score[start : start + n]))
            start += n
