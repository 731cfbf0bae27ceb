-- Logged feature values of one client over [$since, $until), sampled for drift checks.
SELECT {columns}
FROM serving_log
WHERE client = $client AND day >= $since AND day < $until
USING SAMPLE reservoir(50000 ROWS) REPEATABLE (7)
