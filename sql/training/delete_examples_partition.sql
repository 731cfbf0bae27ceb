-- Remove one (day, client) partition of the examples, so the insert that follows replaces it.
DELETE FROM {table} WHERE day = $day AND client = $client
