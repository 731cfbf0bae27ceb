"""All Dagster wiring: assets, jobs, schedules, sensors, resources, partitions and checks.

Only this package (and ``pixie_assets.demo``) imports Dagster; it connects the Dagster-free
domain packages to partitions, resources and metadata. ``pixie_assets.definitions`` assembles it.
"""
