-- NaN or ±infinity in a floating-point column (a feature or a score): DuckDB orders and sums them
-- without complaint, and one such value silently poisons training and evaluation.
(isnan({column}) OR isinf({column}))
