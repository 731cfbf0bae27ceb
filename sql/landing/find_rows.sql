-- Which files hold rows breaking one rule (its condition from rules/), how many, and the first
-- such row of each file with its value of the rule's column. The folder days are joined as in
-- profile.sql.
WITH folder_days AS (
    SELECT unnest($files) AS filename, CAST(unnest($file_days) AS TIMESTAMP) AS day_start
)
SELECT
    filename AS file,
    count(*) AS rows,
    min(file_row_number) AS first_row,
    arg_min({column}, file_row_number) AS first_value
FROM read_parquet(
    $files, hive_partitioning = false, union_by_name = true, filename = true, file_row_number = true
)
JOIN folder_days USING (filename)
WHERE {condition}
GROUP BY filename
ORDER BY filename
