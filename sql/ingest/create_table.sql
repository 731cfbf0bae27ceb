-- The DuckDB table of one serving table: contract columns, then the partition columns.
-- NOT NULL mirrors the contract, so a null the profile does not look for still fails the insert.
CREATE TABLE IF NOT EXISTS {table} ({columns})
