-- Completeness counts for year $1 (DESIGN.md §6), as of day $2: one row per (measure, unit,
-- legal entity, region) with `yes` out of `total`. Only completed forms count as done.
--   $1 year, $2 today, $3 true = tree as of today (else as on the event's date),
--   $4 baseline due days outpatient, $5 inpatient, $6 treatment levels with inpatient limits,
--   $7 measurement interval days outpatient, $8 inpatient, $9 measurement missing after days,
--   $10 months from discharge to the close of the follow-up window.
-- Measures:
--   pathways_started      pathways opened in the year (total)
--   baseline              pathways started in the year whose baseline is due (or done): done = yes
--   measurement_late      completed measurements in the year; yes = taken more than the interval
--                         (56 / 42 days) after the last baseline or measurement
--   measurement_missing   the same measurements; yes = taken more than 90 days after it (a point
--                         was missed before this one)
--   discharge             discharge forms dated (drafts: created) in the year; completed = yes
--   follow_up             follow-ups due in the year (window closed, or done); completed = yes
--   follow_up_reached, follow_up_not_reached, follow_up_declined: the same, by outcome 5 / 6 / 7
WITH started AS (
    SELECT p.id, p.opened_unit_id AS unit_id, p.start_date AS event_date,
           p.start_date + CASE WHEN p.treatment_level = ANY ($6) THEN $5 ELSE $4 END AS due,
           EXISTS (SELECT 1 FROM forms b WHERE b.pathway_id = p.id AND b.kind = 'baseline'
                     AND b.status = 'completed') AS baseline_done
    FROM pathways p
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($1 + 1, 1, 1)
), measurement AS (
    SELECT f.unit_id, f.event_date,
           f.event_date - coalesce((
               SELECT max(a.event_date) FROM forms a
               WHERE a.pathway_id = f.pathway_id AND a.status = 'completed'
                 AND a.kind IN ('baseline', 'measurement') AND a.id <> f.id
                 AND a.event_date <= f.event_date), p.start_date) AS gap,
           CASE WHEN p.treatment_level = ANY ($6) THEN $8 ELSE $7 END AS interval_days
    FROM forms f
    JOIN pathways p ON p.id = f.pathway_id
    WHERE f.kind = 'measurement' AND f.status = 'completed'
      AND f.event_date >= make_date($1, 1, 1) AND f.event_date < make_date($1 + 1, 1, 1)
), follow_up AS (
    SELECT f.unit_id, (f.event_date + make_interval(months => $10))::date AS event_date, u.outcome,
           fu.id IS NOT NULL AS done
    FROM forms f
    JOIN discharge_forms d ON d.form_id = f.id
    LEFT JOIN forms fu ON fu.pathway_id = f.pathway_id AND fu.kind = 'follow-up' AND fu.status = 'completed'
    LEFT JOIN follow_up_forms u ON u.form_id = fu.id
    WHERE f.kind = 'discharge' AND f.status = 'completed' AND d.ending IN (3, 4) AND d.contact_consent_1y = 1
      AND f.event_date >= make_date($1, 1, 1) - make_interval(months => $10)
      AND f.event_date < make_date($1 + 1, 1, 1) - make_interval(months => $10)
      AND ((f.event_date + make_interval(months => $10))::date <= $2 OR fu.id IS NOT NULL)
), events (measure, unit_id, event_date, yes) AS (
    SELECT 'pathways_started', unit_id, event_date, true FROM started
    UNION ALL
    SELECT 'baseline', unit_id, event_date, baseline_done FROM started WHERE due < $2 OR baseline_done
    UNION ALL
    SELECT 'measurement_late', unit_id, event_date, gap > interval_days FROM measurement
    UNION ALL
    SELECT 'measurement_missing', unit_id, event_date, gap > $9 FROM measurement
    UNION ALL
    SELECT 'discharge', f.unit_id, coalesce(f.event_date, f.created_at::date), f.status = 'completed'
    FROM forms f
    WHERE f.kind = 'discharge'
      AND coalesce(f.event_date, f.created_at::date) >= make_date($1, 1, 1)
      AND coalesce(f.event_date, f.created_at::date) < make_date($1 + 1, 1, 1)
    UNION ALL
    SELECT 'follow_up', unit_id, event_date, done FROM follow_up
    UNION ALL
    SELECT 'follow_up_reached', unit_id, event_date, coalesce(outcome = 5, false) FROM follow_up
    UNION ALL
    SELECT 'follow_up_not_reached', unit_id, event_date, coalesce(outcome = 6, false) FROM follow_up
    UNION ALL
    SELECT 'follow_up_declined', unit_id, event_date, coalesce(outcome = 7, false) FROM follow_up
), placed AS (
    SELECT e.measure, e.unit_id, e.yes, CASE WHEN $3 THEN $2 ELSE e.event_date END AS tree_date
    FROM events e
)
SELECT x.measure, x.unit_id, le.parent_id AS entity_id, lr.parent_id AS region_id,
       count(*) FILTER (WHERE x.yes) AS yes, count(*) AS total
FROM placed x
LEFT JOIN org_links le ON le.child_id = x.unit_id
     AND le.valid_from <= x.tree_date AND (le.valid_to IS NULL OR le.valid_to > x.tree_date)
LEFT JOIN org_links lr ON lr.child_id = le.parent_id
     AND lr.valid_from <= x.tree_date AND (lr.valid_to IS NULL OR lr.valid_to > x.tree_date)
GROUP BY 1, 2, 3, 4
