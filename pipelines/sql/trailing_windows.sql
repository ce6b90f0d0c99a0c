-- The trailing windows of household_months stated as SQL window functions over every month of
-- each household's window (input: month_figures, the table's columns without the windows).
-- The pipeline computes the same windows in Rust (pipelines/src/trailing.rs, where each is
-- explained): DataFusion's windows cost ~30 µs per household here, the Rust ones a few. This
-- file is their reference: the golden test `trailing_windows` runs it beside the pipeline's and
-- requires every column and every indicator hit to be equal, and the DuckDB benchmark runs it
-- to do the pipeline's work as one batch job.
WITH gated AS (
  SELECT
    m.*,
    CASE WHEN m.month_idx >= m.feeds_start AND m.month_idx < m.open_month THEN 1 ELSE 0 END AS fed,
    CASE WHEN m.month_idx >= m.feeds_start THEN 1 ELSE 0 END AS covered
  FROM month_figures m
)
SELECT
  g.household_code, g.county_code, g.township_code, g.village_code, g.category, g.month,
  g.members, g.labor_count, g.month_idx, g.eval_from, g.feeds_start, g.open_month,
  g.inpatient_bills, g.unemployed_workers, g.house_damage, g.workers_reported,
  g.baseline_income, g.wages, g.wage_loss, g.farm_expected, g.farm_actual, g.planted_mu,
  g.disaster_mu, g.transfers, g.temp_assistance, g.medical_oop, g.education_fees,
  g.education_aid, g.disaster_loss,
  CAST(SUM(g.wage_loss) OVER w3 AS DECIMAL(18, 2)) AS wage_loss_3m,
  CAST(SUM(g.wage_loss) OVER w12 AS DECIMAL(18, 2)) AS wage_loss_12m,
  CAST(SUM(g.farm_expected) OVER w3 AS DECIMAL(18, 2)) AS farm_expected_3m,
  CAST(SUM(g.farm_expected) OVER w12 AS DECIMAL(18, 2)) AS farm_expected_12m,
  CAST(SUM(g.farm_actual) OVER w3 AS DECIMAL(18, 2)) AS farm_actual_3m,
  CAST(SUM(g.farm_actual) OVER w12 AS DECIMAL(18, 2)) AS farm_actual_12m,
  CAST(SUM(g.education_fees) OVER w12 AS DECIMAL(18, 2)) AS education_fees_12m,
  CAST(SUM(g.education_aid) OVER w12 AS DECIMAL(18, 2)) AS education_aid_12m,
  CAST(SUM(g.medical_oop) OVER w3 AS DECIMAL(18, 2)) AS medical_oop_3m,
  CAST(SUM(g.medical_oop) OVER w12 AS DECIMAL(18, 2)) AS medical_oop_12m,
  CAST(SUM(g.disaster_loss) OVER w12 AS DECIMAL(18, 2)) AS disaster_loss_12m,
  CAST(SUM(g.temp_assistance) OVER w12 AS DECIMAL(18, 2)) AS temp_assistance_12m,
  CAST(SUM(g.inpatient_bills) OVER w3 AS INT) AS inpatient_bills_3m,
  CAST(MAX(g.house_damage) OVER w12 AS INT) AS house_damage_12m,
  CAST(MAX(g.workers_reported) OVER w12 AS INT) AS workers_reported_12m,
  CAST(SUM(CASE WHEN g.unemployed_workers > 0 THEN 1 ELSE 0 END) OVER w3 AS INT) AS unemployed_months_3m,
  CAST(SUM(g.fed) OVER w12 AS INT) AS feed_months,
  CAST(SUM(g.wages * g.fed) OVER w12 AS DECIMAL(18, 2)) AS fed_wages_12m,
  CAST(SUM(g.farm_actual * g.fed) OVER w12 AS DECIMAL(18, 2)) AS fed_farm_actual_12m,
  CAST(SUM(g.transfers * g.fed) OVER w12 AS DECIMAL(18, 2)) AS fed_transfers_12m,
  CAST(SUM(g.medical_oop * g.covered) OVER w12 AS DECIMAL(18, 2)) AS covered_medical_oop_12m,
  CAST(SUM(g.education_fees * g.covered) OVER w12 AS DECIMAL(18, 2)) AS covered_education_fees_12m,
  CAST(SUM(g.education_aid * g.covered) OVER w12 AS DECIMAL(18, 2)) AS covered_education_aid_12m,
  CAST(SUM(g.disaster_loss * g.covered) OVER w12 AS DECIMAL(18, 2)) AS covered_disaster_loss_12m
FROM gated g
WINDOW
  w3 AS (PARTITION BY g.household_code ORDER BY g.month_idx ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
  w12 AS (PARTITION BY g.household_code ORDER BY g.month_idx ROWS BETWEEN 11 PRECEDING AND CURRENT ROW)
ORDER BY g.household_code, g.month_idx
