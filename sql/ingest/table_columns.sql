-- The columns of an existing table, to refuse writing into one that no longer fits the contract.
SELECT column_name, data_type, is_nullable
FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $table
ORDER BY column_index
