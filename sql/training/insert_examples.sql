-- Append the staged examples, matched to the table's columns by name.
INSERT INTO {table} BY NAME SELECT * FROM {staged}
