-- Which files hold rows failing one check, how many, and the first such row of each file.
SELECT
    filename AS file,
    count(*) AS rows,
    min(file_row_number) AS first_row,
    arg_min({column}, file_row_number) AS first_value
FROM read_parquet(
    $files, hive_partitioning = false, union_by_name = true, filename = true, file_row_number = true
)
WHERE {condition}
GROUP BY filename
ORDER BY filename
