"""MLflow "models from code" entry point of a lightweight model version.

MLflow stores this file and ``featurize.py`` (as ``code_paths``) inside each model version, with
the booster and the feature spec as artifacts. Loading ``models:/pixie-lightweight-<client>@alias``
therefore runs the featurization code and SQL the model was trained with, not the working tree's.
"""

import json

import mlflow
import pandas as pd
import pyarrow as pa
import xgboost as xgb

try:  # the copy packaged with the model version (code_paths are first on sys.path)
    import featurize
except ImportError:  # while logging from the project itself
    from pixie_assets.serving import featurize


class PixieLightweightModel(mlflow.pyfunc.PythonModel):
    """predict(features DataFrame) -> margin scores; ``scorer(version)`` for the serving path."""

    def load_context(self, context) -> None:
        self.booster = xgb.Booster()
        self.booster.load_model(context.artifacts["booster"])
        with open(context.artifacts["feature_spec"]) as handle:
            self.feature_spec = featurize.FeatureSpec.from_dict(json.load(handle))

    def scorer(self, version: str):
        return featurize.BoosterScorer(self.booster, self.feature_spec, version)

    def predict(self, context, model_input: pd.DataFrame, params=None):
        features = pa.Table.from_pandas(
            model_input[list(self.feature_spec.feature_names)], preserve_index=False
        )
        return self.scorer("pyfunc").score(features)


mlflow.models.set_model(PixieLightweightModel())
