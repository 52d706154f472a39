-- Completeness counts for year $1 (docs/indicators.md, "Completeness"), as of day $2: one row per
-- (measure, unit, legal entity, region) with `yes` out of `total`. Only completed forms count as done.
--   $1 year, $2 today, $3 true = tree as of today (else as on the event's date),
--   $4 baseline due days outpatient, $5 inpatient, $6 treatment levels with inpatient limits,
--   $7 measurement interval days outpatient, $8 inpatient, $9 measurement missing after days,
--   $10 months from discharge to the close of the follow-up window.
-- Measures:
--   pathways_started      pathways opened in the year (total)
--   baseline              pathways started in the year whose baseline is due (or done): done = yes
--   measurement_late      completed measurements in the year; yes = taken more than the interval
--                         (56 / 42 days) after the last baseline or measurement, by the treatment
--                         level in force at that point (the previous measurement's, else the
--                         pathway's opening level: `forms.previous_treatment_level`)
--   measurement_missing   the same measurements; yes = taken more than 90 days after it (a point
--                         was missed before this one)
--   measurement_late_missing  the same measurements; yes = both (so the four combinations of
--                         late and missing are known, for the protection of small counts)
--   measurement_overdue   pathways active at the end of the year (today, in the current year)
--                         whose last completed baseline or measurement on or before that day is
--                         more than 90 days old: a point is missing and none taken since; at the
--                         unit that owned the pathway that day
--   discharge             discharge forms dated (drafts: created) in the year; completed = yes
--   follow_up             follow-ups due in the year (window closed, or done); completed = yes
--   follow_up_reached, follow_up_not_reached, follow_up_declined: the same, by outcome 5 / 6 / 7
-- The pathways' facts (migration report_facts) give the started pathways and the follow-ups;
-- the measurements come from an index-only scan of the completed ones with their previous
-- point (`forms.previous_date`, `forms.previous_treatment_level`), the discharges from the index of discharge forms. The items are summed per unit and day before the tree
-- placement, which then places a few thousand rows instead of every event.
WITH items (unit_id, event_date, started, baseline_due, baseline_done, measurements, late, missing, late_missing,
            overdue, discharges,
            discharges_completed, follow_ups, follow_ups_done, reached, not_reached, declined) AS (
    -- pathways started in the year; the baseline is expected once due (or done)
    SELECT p.opened_unit_id, p.start_date, 1,
           (p.start_date + CASE WHEN p.treatment_level = ANY ($6) THEN $5 ELSE $4 END < $2
            OR p.baseline_date IS NOT NULL)::int,
           (p.baseline_date IS NOT NULL)::int, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM pathways p
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($1 + 1, 1, 1)
    UNION ALL
    -- completed measurements in the year, by their gap from the previous point
    SELECT f.unit_id, f.event_date, 0, 0, 0, 1, (g.gap > g.interval_days)::int, (g.gap > $9)::int,
           (g.gap > g.interval_days AND g.gap > $9)::int, 0, 0, 0, 0, 0, 0, 0, 0
    FROM forms f
    JOIN pathways p ON p.id = f.pathway_id
    CROSS JOIN LATERAL (
        SELECT f.event_date - coalesce(f.previous_date, p.start_date) AS gap,
               CASE WHEN coalesce(f.previous_treatment_level, p.treatment_level) = ANY ($6) THEN $8 ELSE $7 END
                   AS interval_days) g
    WHERE f.kind = 'measurement' AND f.status = 'completed'
      AND f.event_date >= make_date($1, 1, 1) AND f.event_date < make_date($1 + 1, 1, 1)
    UNION ALL
    -- discharge forms dated (drafts: created) in the year, from the index of discharge forms
    SELECT f.unit_id, coalesce(f.event_date, (f.created_at AT TIME ZONE 'Europe/Oslo')::date), 0, 0, 0, 0, 0, 0, 0, 0, 1,
           (f.status = 'completed')::int,
           0, 0, 0, 0, 0
    FROM forms f
    WHERE f.kind = 'discharge'
      AND ((f.event_date >= make_date($1, 1, 1) AND f.event_date < make_date($1 + 1, 1, 1))
           OR (f.event_date IS NULL AND (f.created_at AT TIME ZONE 'Europe/Oslo')::date >= make_date($1, 1, 1)
               AND (f.created_at AT TIME ZONE 'Europe/Oslo')::date < make_date($1 + 1, 1, 1)))
    UNION ALL
    -- follow-ups due in the year (window closed, or done), by outcome
    SELECT p.discharge_unit_id, w.close, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, p.follow_up_done::int,
           (p.follow_up_outcome IS NOT DISTINCT FROM 5)::int, (p.follow_up_outcome IS NOT DISTINCT FROM 6)::int,
           (p.follow_up_outcome IS NOT DISTINCT FROM 7)::int
    FROM pathways p
    CROSS JOIN LATERAL (SELECT (p.discharge_date + make_interval(months => $10))::date AS close) w
    WHERE p.discharge_ending IN (3, 4) AND p.discharge_contact_consent_1y = 1
      AND p.discharge_date >= make_date($1, 1, 1) - make_interval(months => $10)
      AND p.discharge_date < make_date($1 + 1, 1, 1) - make_interval(months => $10)
      AND (w.close <= $2 OR p.follow_up_done)
    UNION ALL
    -- measurement points overdue at the end of the year: the pathway's first completed point
    -- (baseline or measurement) is more than $9 days before that day and none falls in the $9
    -- days up to it (the baseline from the facts, measurements from the index of completed
    -- ones), at the unit owning the pathway that day (the last transfer by then, else the
    -- opening unit)
    SELECT coalesce(t.to_unit_id, p.opened_unit_id),
           d.day, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0
    FROM pathways p
    CROSS JOIN LATERAL (SELECT least(make_date($1, 12, 31), $2) AS day) d
    LEFT JOIN (SELECT DISTINCT ON (t.pathway_id) t.pathway_id, t.to_unit_id
               FROM pathway_transfers t
               WHERE t.transfer_date <= least(make_date($1, 12, 31), $2)
               ORDER BY t.pathway_id, t.transfer_date DESC, t.id DESC) t ON t.pathway_id = p.id
    WHERE p.start_date <= d.day AND (p.discharge_date IS NULL OR p.discharge_date > d.day)
      AND least(p.baseline_date, p.first_measurement_date) < d.day - $9
      AND (p.baseline_date BETWEEN d.day - $9 AND d.day) IS NOT TRUE
      AND NOT EXISTS (SELECT 1 FROM forms m
                      WHERE m.pathway_id = p.id AND m.kind = 'measurement' AND m.status = 'completed'
                        AND m.event_date BETWEEN d.day - $9 AND d.day)
), by_day AS (
    -- summed per unit and day before the tree placement: a few thousand rows
    SELECT i.unit_id, CASE WHEN $3 THEN $2 ELSE i.event_date END AS tree_date,
           sum(started) AS started, sum(baseline_due) AS baseline_due, sum(baseline_done) AS baseline_done,
           sum(measurements) AS measurements, sum(late) AS late, sum(missing) AS missing,
           sum(late_missing) AS late_missing, sum(overdue) AS overdue,
           sum(discharges) AS discharges, sum(discharges_completed) AS discharges_completed,
           sum(follow_ups) AS follow_ups, sum(follow_ups_done) AS follow_ups_done, sum(reached) AS reached,
           sum(not_reached) AS not_reached, sum(declined) AS declined
    FROM items i
    GROUP BY 1, 2
)
SELECT m.measure, x.unit_id, le.parent_id AS entity_id, lr.parent_id AS region_id,
       sum(m.yes)::bigint AS yes, sum(m.total)::bigint AS total
FROM by_day x
LEFT JOIN org_links le ON le.child_id = x.unit_id
     AND le.valid_from <= x.tree_date AND (le.valid_to IS NULL OR le.valid_to > x.tree_date)
LEFT JOIN org_links lr ON lr.child_id = le.parent_id
     AND lr.valid_from <= x.tree_date AND (lr.valid_to IS NULL OR lr.valid_to > x.tree_date)
CROSS JOIN LATERAL (VALUES
    ('pathways_started', x.started, x.started),
    ('baseline', x.baseline_done, x.baseline_due),
    ('measurement_late', x.late, x.measurements),
    ('measurement_missing', x.missing, x.measurements),
    ('measurement_late_missing', x.late_missing, x.measurements),
    ('measurement_overdue', x.overdue, x.overdue),
    ('discharge', x.discharges_completed, x.discharges),
    ('follow_up', x.follow_ups_done, x.follow_ups),
    ('follow_up_reached', x.reached, x.follow_ups),
    ('follow_up_not_reached', x.not_reached, x.follow_ups),
    ('follow_up_declined', x.declined, x.follow_ups)
) m (measure, yes, total)
GROUP BY 1, 2, 3, 4
HAVING sum(m.total) > 0
