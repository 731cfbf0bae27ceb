"""End-to-end tests through the project's real interfaces: `dagster dev` (GraphQL and the web UI
in headless Chromium) and `mlflow server` (REST), each started on a free loopback port."""
