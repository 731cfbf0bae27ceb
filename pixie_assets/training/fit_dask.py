"""The lightweight model fit on a Dask cluster with ``xgboost.dask``: the same ``FitPlan`` and
procedure as in process (``fit.fit_early_stopped``), on the Parquet export of the window's
examples (``examples.export_examples``), which every worker reads from ``$PIXIE_HOME``.

Not the same bytes as in process, by XGBoost's own account (its Dask tutorial, *Reproducible
Result*): each worker sketches the histogram bins of its own rows, so the bins are an
approximation that depends on the partitioning; gradient sums are added in another order; and
``subsample`` draws rows per worker. The trees differ a little; ``pixie_assets_tests/training/
test_fit_dask.py`` states how little. Three choices keep the rest equal:

- the validation set lives on one worker. XGBoost's distributed AUC is a pair-weighted average of
  each worker's own AUC (its parameter docs call it an approximation); computed on one worker it
  is exact, so early stopping judges rounds by the AUC it uses in process;
- a request is never split between workers: part files are cut between requests and each is
  read whole by one worker, and XGBoost sorts each worker's rows by query id for ranking;
- which worker reads which part file is fixed (round robin in file order), so a cluster of the
  same size trains on the same split of the rows on every run.

The driver gathers per-row targets and margins for the metrics (a few floats per example): the
rows themselves stay on the workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import xgboost as xgb
from xgboost import dask as dxgb

from pixie_assets.training.examples import ExamplesExport, ExportedDay
from pixie_assets.training.fit import (
    NO_EXAMPLES,
    FitPlan,
    TrainedModel,
    TrainingDataError,
    fit_early_stopped,
    validation_mask,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client


def _in_holdout(request_ids: pd.Series, fraction: float) -> pd.Series:
    """``validation_mask`` of one partition: a request's side depends on its id alone, so the
    holdout is the in-process one whatever the partitioning."""
    return pd.Series(validation_mask(request_ids.to_numpy(), fraction), index=request_ids.index)


def _rows(part: pd.DataFrame) -> int:
    return len(part)


def _read_part(path: str) -> pd.DataFrame:
    """One exported part file, on the worker that holds it for the fit."""
    return pq.read_table(path).to_pandas()


class DaskEngine:
    """Dask frames and ``xgboost.dask.train`` on the cluster of ``client``. Each part file is
    read once, into the memory of the worker that trains on it; every later step (matrices,
    predictions, the columns the metrics gather) works from there."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def read_window(self, export: ExamplesExport) -> tuple[dd.DataFrame, dd.DataFrame | None]:
        """(older days, newest day) of the export, as ``fit.hold_back_newest_day`` splits a
        frame: a window with examples on one day only has nothing to hold back."""
        days = export.days_with_rows()
        if not days:
            raise TrainingDataError(NO_EXAMPLES)
        placement = self._placement([path for day in days for path in day.files])
        if len(days) == 1:
            return self._read(days, placement), None
        return self._read(days[:-1], placement), self._read(days[-1:], placement)

    def _placement(self, files: list[Path]) -> dict[Path, str]:
        """The worker that reads each part file: round robin over the window's files in order,
        so each worker holds an even share of every day and the same files on every run.
        XGBoost trains on the rows where they lie and its result depends on that split (its
        Dask tutorial: the partitioning must be reproducible), while Dask's scheduler would
        place the reads by load (two reads can land on one of two idle workers)."""
        workers = sorted(self.client.scheduler_info()["workers"])
        return {path: workers[i % len(workers)] for i, path in enumerate(files)}

    def _read(self, days: Sequence[ExportedDay], placement: dict[Path, str]) -> dd.DataFrame:
        """The part files of ``days``, one partition each (cut between requests), read on
        their workers. Not ``dd.read_parquet``: it leaves placement to the scheduler and may
        fuse files into fewer partitions (and, persisted after a column projection, loses
        them: dask/dask#12488 in dask 2026.8)."""
        import dask.dataframe as dd

        files = [path for day in days for path in day.files]
        parts = [
            self.client.submit(_read_part, str(path), workers=[placement[path]], pure=False)
            for path in files
        ]
        meta = pq.read_schema(files[0]).empty_table().to_pandas()
        return dd.from_delayed(parts, meta=meta, verify_meta=False)

    def count(self, rows: dd.DataFrame) -> int:
        return int(self.client.compute(rows.map_partitions(_rows)).result().sum())

    def columns(self, rows: dd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
        return self.client.compute(rows[list(names)]).result()

    def random_holdout(
        self, rows: dd.DataFrame, fraction: float
    ) -> tuple[dd.DataFrame, dd.DataFrame]:
        valid = rows["request_id"].map_partitions(_in_holdout, fraction, meta=("valid", bool))
        return self.client.persist(rows[~valid]), self.client.persist(rows[valid])

    def threads(self, train_rows: int) -> int | None:
        return None  # each worker trains with its own threads (one per LocalCluster worker)

    def train(
        self,
        plan: FitPlan,
        params: dict[str, Any],
        rows: dd.DataFrame,
        rounds: int,
        valid: dd.DataFrame | None = None,
    ) -> xgb.Booster:
        dtrain = self._matrix(plan, rows)
        if valid is None:
            output = dxgb.train(
                self.client, params, dtrain, num_boost_round=rounds, verbose_eval=False
            )
        else:
            dvalid = self._matrix(plan, valid.repartition(npartitions=1), ref=dtrain)
            output = dxgb.train(
                self.client,
                params,
                dtrain,
                num_boost_round=rounds,
                evals=[(dvalid, "valid")],
                early_stopping_rounds=plan.early_stopping_rounds,
                verbose_eval=False,
            )
        return output["booster"]

    def _matrix(
        self, plan: FitPlan, rows: dd.DataFrame, ref: dxgb.DaskQuantileDMatrix | None = None
    ) -> dxgb.DaskQuantileDMatrix:
        """Features, label and, as in process, query ids for ranking or weights otherwise
        (``xgboost.dask`` has no per-group weights either)."""
        info = {"qid": rows["qid"]} if plan.ranking else {"weight": rows["weight"]}
        return dxgb.DaskQuantileDMatrix(
            self.client,
            rows[list(plan.feature_names)],
            label=rows["label"],
            feature_names=list(plan.feature_names),
            ref=ref,
            **info,
        )

    def margins(self, plan: FitPlan, booster: xgb.Booster, rows: dd.DataFrame) -> np.ndarray:
        scores = dxgb.inplace_predict(
            self.client, booster, rows[list(plan.feature_names)], predict_type="margin"
        )
        return np.asarray(self.client.compute(scores).result())

    def union(self, first: dd.DataFrame, second: dd.DataFrame) -> dd.DataFrame:
        import dask.dataframe as dd

        return dd.concat([first, second])


def train_on_dask(client: Client, export: ExamplesExport, plan: FitPlan) -> TrainedModel:
    """``fit.train_client_model`` on the cluster of ``client``: the same procedure, on the
    window exported with ``plan.columns``, its newest day held back for early stopping. The
    booster is a plain ``xgb.Booster``, published like any other."""
    engine = DaskEngine(client)
    older, newest = engine.read_window(export)
    return fit_early_stopped(engine, plan, older, newest)
