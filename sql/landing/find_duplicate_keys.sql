-- The keys (a table's key columns) that occur more than once across its files, exactly: rows are
-- narrowed to those whose key hash repeats (equal keys hash equal, so none is missed), then grouped
-- on the key itself (so a mere hash collision is not reported). A row with a null key column is
-- the not_null rule's to report, not a duplicate.
WITH keyed AS (
    SELECT {key}, filename, hash({key}) AS key_hash
    FROM read_parquet($files, hive_partitioning = false, union_by_name = true, filename = true)
    WHERE {key_present}
),
repeated_hashes AS (
    SELECT key_hash FROM keyed GROUP BY key_hash HAVING count(*) > 1
),
duplicates AS (
    SELECT {key}, count(*) AS copies, list(DISTINCT filename ORDER BY filename) AS files
    FROM keyed SEMI JOIN repeated_hashes USING (key_hash)
    GROUP BY {key}
    HAVING count(*) > 1
)
SELECT *, count(*) OVER () AS duplicated_keys, sum(copies) OVER () AS duplicate_rows
FROM duplicates
ORDER BY {key}
LIMIT 1
