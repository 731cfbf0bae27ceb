-- What each outcome is worth to the client: its actions weighted by the client's label action
-- weights. The one place an action's value is defined: labels.py fills the `outcomes` table
-- every label strategy reads from this, with labels/outcomes.sql as the subquery.
SELECT *, saved * $w_save + clicked * $w_click + closeup * $w_closeup AS action_value
FROM (
{outcomes}
)
