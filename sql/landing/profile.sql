-- One read of a table's files: the row count and, per rule, how many rows break it (plus, for a
-- table with a key, how many rows repeat a key hash). Counts only, so that passing is
-- cheap; find_rows.sql and find_duplicate_keys.sql explain a failure afterwards.
-- Each row is joined to the day of its file's folder ($file_days, parallel to $files; NULL for the
-- flat tables). hive_partitioning is off so the day=/client= folders never masquerade as columns.
WITH folder_days AS (
    SELECT unnest($files) AS filename, CAST(unnest($file_days) AS TIMESTAMP) AS day_start
)
SELECT count(*) AS row_count{counts}
FROM read_parquet($files, hive_partitioning = false, union_by_name = true, filename = true)
JOIN folder_days USING (filename)
