-- Rows of one (day, client) partition of a table.
SELECT count(*) FROM {table} WHERE day = $day AND client = $client
