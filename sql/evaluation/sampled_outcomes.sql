-- The outcomes of at most $max_requests of the partition's requests: those first by md5 of their
-- id, a sample that is the same for every ranker and on every re-run, and that does not depend on
-- how the day's logs were written. The whole day when it has fewer requests.
-- Parameters: $day (DATE), $client (VARCHAR), $max_requests (BIGINT).
SELECT o.*
FROM (
{outcomes}
) AS o
WHERE o.request_id IN (
    SELECT request_id
    FROM (SELECT DISTINCT request_id FROM serving_log WHERE day = $day AND client = $client)
    ORDER BY md5(request_id)
    LIMIT $max_requests
)
