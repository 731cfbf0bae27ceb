-- Append a partition's files, cast to the contract types (validation has shown the casts lossless)
-- and tagged with the partition columns the files do not carry.
INSERT INTO {table} BY NAME
SELECT {columns}, CAST($day AS DATE) AS day{partition_columns}
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
