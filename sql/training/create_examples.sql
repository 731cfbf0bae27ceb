-- The labeled_examples table, created empty with the columns of the first examples stored.
CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM {staged} LIMIT 0
