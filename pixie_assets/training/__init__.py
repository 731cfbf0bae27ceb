"""Training: example loading, XGBoost fit, MLflow logging and registry, metrics, promotion."""
