-- Null and duplicate (request_id, pin_id) keys of one (day, client) partition of {table}.
SELECT
    count(*) FILTER (WHERE request_id IS NULL OR pin_id IS NULL) AS null_keys,
    count(*) - count(DISTINCT (request_id, pin_id)) AS duplicate_keys
FROM {table}
WHERE day = $day AND client = $client
