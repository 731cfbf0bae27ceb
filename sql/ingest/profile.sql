-- One read of a partition's files of one table: the row count and, per check, how many rows fail
-- it. Counts only, so that passing is cheap; find_rows.sql explains a failure afterwards.
-- hive_partitioning is off so the day=/client= folders never masquerade as columns.
SELECT count(*) AS row_count, {counts}
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
