-- Impressions whose (request_id, pin_id) the partition's serving_log never logged: a shown pin
-- that was never a candidate cannot be labeled or featurized, and would skew every label that
-- joins the two. Per impressions file: how many, and the first such row.
SELECT
    i.filename AS file,
    count(*) AS rows,
    min(i.file_row_number) AS first_row,
    arg_min(i.request_id || ', ' || CAST(i.pin_id AS VARCHAR), i.file_row_number) AS example
FROM read_parquet(
    $impressions, hive_partitioning = false, union_by_name = true, filename = true,
    file_row_number = true
) AS i
ANTI JOIN read_parquet($serving_log, hive_partitioning = false, union_by_name = true) AS s
    USING (request_id, pin_id)
GROUP BY i.filename
ORDER BY i.filename
