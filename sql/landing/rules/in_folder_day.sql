-- An event time outside the day of its file's day=YYYY-MM-DD folder (day_start, joined per file by
-- profile.sql and find_rows.sql): readers select days by folder, so a misfiled row would be seen
-- too early or never.
({column} < day_start OR {column} >= day_start + INTERVAL 1 DAY)
