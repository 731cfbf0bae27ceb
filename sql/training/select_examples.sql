-- One client's examples of the given days, in a fixed order so that training is reproducible.
SELECT * FROM {table}
WHERE client = $client AND day IN (SELECT unnest($days))
ORDER BY day, request_id, pin_id
