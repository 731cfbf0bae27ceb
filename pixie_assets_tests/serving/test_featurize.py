"""The feature spec's digest, which the batch shards and the online service key their feature
contexts by, must work on the ``FeatureSpec`` class a model version packaged when it was
registered: that copy of ``featurize.py`` is the one loaded with the model, and an older one has
no method added since (serving a version registered before the digest existed once failed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pixie_assets.serving.featurize import FeatureSpec, spec_digest
from pixie_assets.serving.scoring import repo_feature_spec


@dataclass(frozen=True)
class PackagedBeforeDigests:
    """What an older version's packaged FeatureSpec offers: its fields and ``to_dict``."""

    features_sql: str
    context_sql: dict[str, str]
    feature_names: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def test_an_older_packaged_spec_has_the_digest_of_the_same_spec_today():
    spec = repo_feature_spec()
    older = PackagedBeforeDigests(spec.features_sql, dict(spec.context_sql), spec.feature_names)
    assert not hasattr(older, "digest")
    assert spec_digest(older) == spec_digest(spec)


def test_specs_that_differ_have_different_digests():
    spec = repo_feature_spec()
    renamed = FeatureSpec(spec.features_sql + "\n", dict(spec.context_sql), spec.feature_names)
    assert spec_digest(renamed) != spec_digest(spec)
    assert len(spec_digest(spec)) == 16
