-- distillation: the student learns the teacher's score. Target = the full ranker's score of the
-- candidates it scored and showed, plus ln($local_weight) where the pin is local (a local label:
-- the same boost a weight of $local_weight gives a classifier's log-odds). Regression.
SELECT
    *,
    full_ranker_score + CASE WHEN locale_match = 1 THEN ln($local_weight) ELSE 0.0 END AS label,
    1.0 AS weight
FROM outcomes
WHERE impressed AND full_ranker_score IS NOT NULL
