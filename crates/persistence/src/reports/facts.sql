-- Indicator and activity counts for the years $1..$2 (docs/indicators.md, "The indicators"), as of day $3.
-- Indicators that share a population share its rows: one row per (population, year, unit, legal
-- entity, region, sex, age group, outcomes o1..o3) with the count `n`, so a release can model
-- the shared denominators as one cell. Only completed forms count.
--   $1 first year, $2 last year, $3 today, $4 true = tree as of today (else as on the event's date),
--   $5 baseline due days outpatient, $6 inpatient, $7 treatment levels with inpatient limits,
--   $8 months from discharge to the close of the follow-up window, $9 age-group lower bounds,
--   $10 the youngest age counted by residence (docs/residence.md).
-- Pathways started are also split by residence: residence_kind 0 for the other populations (not
-- split), 1 for patients under $10 in the year, 2 for adults, with the health trust whose
-- catchment area held the patient's residence on the start date (NULL: not recorded or not
-- mapped).
-- The unit is the one that registered the event: the form's unit, or for `activity` and
-- `baseline_on_time` the unit that opened the pathway.
-- Everything is read from the pathway facts (migration report_facts: the completed baseline,
-- the first completed measurement, the completed discharge and follow-up, the patient's sex and
-- birth year, kept by triggers): one pass over `pathways` per population, no form is read.
WITH events (population, unit_id, event_date, sex, birth_year, o1, o2, o3, residence_code) AS (
    -- started (pathways started, the activity table): baseline on time; baseline due (a baseline
    -- not yet due and not done is never missing: outside baseline_on_time's denominator)
    SELECT 'started', p.opened_unit_id, p.start_date, p.patient_sex, p.patient_birth_year,
           coalesce(p.baseline_date <= due.d, false), due.d < $3 OR p.baseline_date IS NOT NULL, true,
           p.residence_code
    FROM pathways p
    CROSS JOIN LATERAL (
        SELECT p.start_date + CASE WHEN p.treatment_level = ANY ($7) THEN $6 ELSE $5 END AS d) due
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($2 + 1, 1, 1)
    UNION ALL
    -- baseline (completed baselines): somatic health assessed
    SELECT 'baseline', p.baseline_unit_id, p.baseline_date, p.patient_sex, p.patient_birth_year,
           coalesce(p.baseline_somatic_health_assessed = 1, false), true, true, NULL
    FROM pathways p
    WHERE p.baseline_date >= make_date($1, 1, 1) AND p.baseline_date < make_date($2 + 1, 1, 1)
    UNION ALL
    -- first_measurement (the pathway's first completed measurement, taken while it was active):
    -- treatment plan yes, crisis plan yes, benefit 4-5
    SELECT 'first_measurement', p.first_measurement_unit_id, p.first_measurement_date, p.patient_sex,
           p.patient_birth_year, coalesce(p.first_measurement_treatment_plan = 1, false),
           coalesce(p.first_measurement_crisis_plan = 1, false), coalesce(p.first_measurement_benefit IN (4, 5), false),
           NULL
    FROM pathways p
    WHERE p.first_measurement_date >= make_date($1, 1, 1) AND p.first_measurement_date < make_date($2 + 1, 1, 1)
      AND (p.discharge_date IS NULL OR p.discharge_date >= p.first_measurement_date)
    UNION ALL
    -- discharge (ending 3 or 4): mutual agreement, any agreed follow-up
    SELECT 'discharge', p.discharge_unit_id, p.discharge_date, p.patient_sex, p.patient_birth_year,
           p.discharge_ending = 4, coalesce(p.discharge_agreed_follow_up && ARRAY[1, 2, 3, 4, 5, 6]::smallint[], false), true,
           NULL
    FROM pathways p
    WHERE p.discharge_ending IN (3, 4)
      AND p.discharge_date >= make_date($1, 1, 1) AND p.discharge_date < make_date($2 + 1, 1, 1)
    UNION ALL
    -- window (follow-up window closing in the year): followed up; a window still open without a
    -- completed follow-up is not yet due: never missing
    SELECT 'window', p.discharge_unit_id, w.close, p.patient_sex, p.patient_birth_year,
           coalesce(p.follow_up_outcome = 5, false), true, true, NULL
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
           width_bucket(date_part('year', e.event_date)::int - e.birth_year, $9) AS age_group,
           CASE WHEN e.population <> 'started' THEN 0
                WHEN date_part('year', e.event_date)::int - e.birth_year < $10 THEN 1
                ELSE 2 END AS residence_kind,
           e.residence_code, e.event_date
    FROM events e
)
SELECT x.population, x.year, x.unit_id, le.parent_id AS entity_id, lr.parent_id AS region_id,
       x.sex, x.age_group::smallint AS age_group, x.o1, x.o2, x.o3,
       x.residence_kind::smallint AS residence_kind,
       CASE WHEN x.residence_kind = 2 THEN rc.trust_id END AS residence_trust_id, count(*) AS n
FROM placed x
LEFT JOIN LATERAL (
    SELECT c.trust_id FROM catchment_areas c
    WHERE x.residence_kind = 2 AND c.area_code = x.residence_code
      AND c.valid_from <= x.event_date AND (c.valid_to IS NULL OR c.valid_to > x.event_date)
    ORDER BY c.valid_from DESC LIMIT 1) rc ON true
LEFT JOIN org_links le ON le.child_id = x.unit_id
     AND le.valid_from <= x.tree_date AND (le.valid_to IS NULL OR le.valid_to > x.tree_date)
LEFT JOIN org_links lr ON lr.child_id = le.parent_id
     AND lr.valid_from <= x.tree_date AND (lr.valid_to IS NULL OR lr.valid_to > x.tree_date)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
