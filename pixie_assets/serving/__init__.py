"""The online path: queries, featurization, scoring, selection and logging (no Dagster here)."""
