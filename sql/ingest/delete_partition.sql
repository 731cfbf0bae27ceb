-- Remove one (day, client) partition of a table, so the insert that follows replaces it.
DELETE FROM {table} WHERE day = $day AND client = $client
