-- One client's examples of the window's days, for the Parquet export that distributed training
-- reads: the training's {columns}, then
--   qid   the request's query id for ranking objectives: its rank among the window's request
--         ids (0, 1, ...), so a request_id is one group over the window, as in process, and an
--         integer fits XGBoost's 32-bit query ids;
--   day   the day's folder the row goes to;
--   part  the day's part file: the day cut into the fewest parts of at most ~$part_rows rows,
--         all of about the same size (so that workers get even shares), and only between
--         requests in id order (a group is never split across files).
-- Rows come in (day, request_id, pin_id) order, so a part is a run of rows sorted by qid.
-- Parameters: $client (VARCHAR), $days (DATE[]), $part_rows (INTEGER).
WITH window_examples AS (
    SELECT * FROM {table}
    WHERE client = $client AND day IN (SELECT unnest($days))
),
requests AS (
    SELECT
        day,
        request_id,
        dense_rank() OVER (ORDER BY request_id) - 1 AS qid,
        sum(count(*)) OVER (PARTITION BY day ORDER BY request_id) - count(*) AS rows_before,
        sum(count(*)) OVER (PARTITION BY day) AS day_rows
    FROM window_examples
    GROUP BY day, request_id
)
SELECT
    {columns},
    r.qid::BIGINT AS qid,
    e.day,
    (r.rows_before * ((r.day_rows + $part_rows - 1) // $part_rows) // r.day_rows)::INTEGER
        AS part
FROM window_examples AS e
JOIN requests AS r USING (day, request_id)
ORDER BY e.day, e.request_id, e.pin_id
