-- Rows of one contract table from its files, with event time in the requested window (its
-- bounds are bound as parameters, never formatted in; or true). Columns are cast to the contract types in DuckDB: landing
-- files may hold lossless widenings of the contract types (int32 ids, ns timestamps, dictionary
-- strings), which Arrow's safe cast would refuse or mangle.
SELECT {columns}
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
WHERE {window}
