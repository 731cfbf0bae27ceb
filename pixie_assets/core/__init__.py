"""What every layer shares and nothing else owns: the data contract, client surfaces, settings,
the DuckDB warehouse, file writing, the SQL loader and data-quality measures. No Dagster."""
