-- A null in a column the contract declares NOT NULL.
{column} IS NULL
