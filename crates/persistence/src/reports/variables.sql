-- Variable completeness for year $1: for every variable an indicator uses, the completed forms
-- of its kind dated in the year (`total`), those without a value (`missing`) and those answered
-- `unknown` (code 3 of yes/no/unknown). One row per (form, variable, unit, legal entity, region).
--   $1 year, $2 today, $3 true = tree as of today, $4 form kind or NULL for all.
WITH f AS (
    SELECT f.id, f.kind, f.unit_id, CASE WHEN $3 THEN $2 ELSE f.event_date END AS tree_date
    FROM forms f
    WHERE f.status = 'completed' AND ($4::text IS NULL OR f.kind = $4)
      AND f.event_date >= make_date($1, 1, 1) AND f.event_date < make_date($1 + 1, 1, 1)
), v AS (
    SELECT f.unit_id, f.tree_date, x.variable, x.missing, x.unknown, f.kind
    FROM f
    LEFT JOIN baseline_forms b ON f.kind = 'baseline' AND b.form_id = f.id
    LEFT JOIN measurement_forms m ON f.kind = 'measurement' AND m.form_id = f.id
    LEFT JOIN discharge_forms d ON f.kind = 'discharge' AND d.form_id = f.id
    LEFT JOIN follow_up_forms u ON f.kind = 'follow-up' AND u.form_id = f.id
    CROSS JOIN LATERAL (VALUES
        ('baseline', 'somatic_health_assessed', b.somatic_health_assessed IS NULL, b.somatic_health_assessed = 3),
        ('measurement', 'treatment_plan', m.treatment_plan IS NULL, m.treatment_plan = 3),
        ('measurement', 'crisis_plan', m.crisis_plan IS NULL, m.crisis_plan = 3),
        ('measurement', 'benefit', m.benefit IS NULL, false),
        ('discharge', 'ending', d.ending IS NULL, false),
        ('discharge', 'agreed_follow_up', coalesce(cardinality(d.agreed_follow_up), 0) = 0, false),
        ('discharge', 'contact_consent_1y', d.contact_consent_1y IS NULL, false),
        ('follow-up', 'outcome', u.outcome IS NULL, false)
    ) AS x (kind, variable, missing, unknown)
    WHERE x.kind = f.kind
)
SELECT v.kind AS form, v.variable, v.unit_id, le.parent_id AS entity_id, lr.parent_id AS region_id,
       count(*) AS total, count(*) FILTER (WHERE v.missing) AS missing,
       count(*) FILTER (WHERE coalesce(v.unknown, false)) AS unknown
FROM v
LEFT JOIN org_links le ON le.child_id = v.unit_id
     AND le.valid_from <= v.tree_date AND (le.valid_to IS NULL OR le.valid_to > v.tree_date)
LEFT JOIN org_links lr ON lr.child_id = le.parent_id
     AND lr.valid_from <= v.tree_date AND (lr.valid_to IS NULL OR lr.valid_to > v.tree_date)
GROUP BY 1, 2, 3, 4, 5
