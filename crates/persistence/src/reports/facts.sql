-- Indicator and activity counts for the years $1..$2 (docs/indicators.md, "The indicators"), as of day $3.
-- Indicators that share a population share its rows: one row per (population, year, unit, legal
-- entity, region, sex, age group, outcomes o1..o3) with the count `n`, so a release can model
-- the shared denominators as one cell. Only completed forms count.
--   $1 first year, $2 last year, $3 today, $4 true = tree as of today (else as on the event's date),
--   $5 baseline due days outpatient, $6 inpatient, $7 treatment levels with inpatient limits,
--   $8 months from discharge to the close of the follow-up window, $9 age-group lower bounds.
-- The unit is the one that registered the event: the form's unit, or for `activity` and
-- `baseline_on_time` the unit that opened the pathway.
-- Everything is read from the pathway facts (migration report_facts: the completed baseline,
-- the first completed measurement, the completed discharge and follow-up, the patient's sex and
-- birth year, kept by triggers): one pass over `pathways` per population, no form is read.
WITH events (population, unit_id, event_date, sex, birth_year, o1, o2, o3) AS (
    -- started (pathways started, the activity table): baseline on time; baseline due (a baseline
    -- not yet due and not done is never missing: outside baseline_on_time's denominator)
    SELECT 'started', p.opened_unit_id, p.start_date, p.patient_sex, p.patient_birth_year,
           coalesce(p.baseline_date <= due.d, false), due.d < $3 OR p.baseline_date IS NOT NULL, true
    FROM pathways p
    CROSS JOIN LATERAL (
        SELECT p.start_date + CASE WHEN p.treatment_level = ANY ($7) THEN $6 ELSE $5 END AS d) due
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($2 + 1, 1, 1)
    UNION ALL
    -- baseline (completed baselines): somatic health assessed
    SELECT 'baseline', p.baseline_unit_id, p.baseline_date, p.patient_sex, p.patient_birth_year,
           coalesce(p.baseline_somatic_health_assessed = 1, false), true, true
    FROM pathways p
    WHERE p.baseline_date >= make_date($1, 1, 1) AND p.baseline_date < make_date($2 + 1, 1, 1)
    UNION ALL
    -- first_measurement (the pathway's first completed measurement, taken while it was active):
    -- treatment plan yes, crisis plan yes, benefit 4-5
    SELECT 'first_measurement', p.first_measurement_unit_id, p.first_measurement_date, p.patient_sex,
           p.patient_birth_year, coalesce(p.first_measurement_treatment_plan = 1, false),
           coalesce(p.first_measurement_crisis_plan = 1, false), coalesce(p.first_measurement_benefit IN (4, 5), false)
    FROM pathways p
    WHERE p.first_measurement_date >= make_date($1, 1, 1) AND p.first_measurement_date < make_date($2 + 1, 1, 1)
      AND (p.discharge_date IS NULL OR p.discharge_date >= p.first_measurement_date)
    UNION ALL
    -- discharge (ending 3 or 4): mutual agreement, any agreed follow-up
    SELECT 'discharge', p.discharge_unit_id, p.discharge_date, p.patient_sex, p.patient_birth_year,
           p.discharge_ending = 4, coalesce(p.discharge_agreed_follow_up && ARRAY[1, 2, 3, 4, 5, 6]::smallint[], false), true
    FROM pathways p
    WHERE p.discharge_ending IN (3, 4)
      AND p.discharge_date >= make_date($1, 1, 1) AND p.discharge_date < make_date($2 + 1, 1, 1)
    UNION ALL
    -- window (follow-up window closing in the year): followed up; a window still open without a
    -- completed follow-up is not yet due: never missing
    SELECT 'window', p.discharge_unit_id, w.close, p.patient_sex, p.patient_birth_year,
           coalesce(p.follow_up_outcome = 5, false), true, true
    FROM pathways p
    CROSS JOIN LATERAL (SELECT (p.discharge_date + make_interval(months => $8))::date AS close) w
    WHERE p.discharge_ending IN (3, 4) AND p.discharge_contact_consent_1y = 1
      AND p.discharge_date >= make_date($1, 1, 1) - make_interval(months => $8)
      AND p.discharge_date < make_date($2 + 1, 1, 1)
      AND w.close >= make_date($1, 1, 1) AND w.close < make_date($2 + 1, 1, 1)
      AND (w.close <= $3 OR p.follow_up_done)
), placed AS (
    SELECT e.population, e.unit_id, e.o1, e.o2, e.o3, e.sex,
           date_part('year', e.event_date)::int AS year,
           CASE WHEN $4 THEN $3 ELSE e.event_date END AS tree_date,
           width_bucket(date_part('year', e.event_date)::int - e.birth_year, $9) AS age_group
    FROM events e
)
SELECT x.population, x.year, x.unit_id, le.parent_id AS entity_id, lr.parent_id AS region_id,
       x.sex, x.age_group::smallint AS age_group, x.o1, x.o2, x.o3, count(*) AS n
FROM placed x
LEFT JOIN org_links le ON le.child_id = x.unit_id
     AND le.valid_from <= x.tree_date AND (le.valid_to IS NULL OR le.valid_to > x.tree_date)
LEFT JOIN org_links lr ON lr.child_id = le.parent_id
     AND lr.valid_from <= x.tree_date AND (lr.valid_to IS NULL OR lr.valid_to > x.tree_date)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
