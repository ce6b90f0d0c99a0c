-- Per household-month figures shared by the indicators and the grader.
-- Input: household_months, one row per household and calendar month (China time) of the
-- retained window, money in yuan as DECIMAL(18,2); eval_from is the first month_idx this batch
-- must report on (earlier rows are history for the trailing sums).
-- The table is dense (every month of the window has a row, zeros where nothing happened), so the
-- trailing windows count rows: ROWS frames are far cheaper in DataFusion than RANGE frames.
SELECT
  m.*,
  SUM(m.wage_loss + m.farm_expected - m.farm_actual) OVER w3 AS income_loss_3m,
  SUM(m.wage_loss + m.farm_expected - m.farm_actual) OVER w12 AS income_loss_12m,
  SUM(m.education_fees - m.education_aid) OVER w12 AS education_net_12m,
  SUM(CASE WHEN m.unemployed_workers > 0 THEN 1 ELSE 0 END) OVER w3 AS unemployed_months_3m,
  SUM(m.wage_loss) OVER w3 AS wage_loss_3m,
  SUM(m.farm_expected - m.farm_actual) OVER w12 AS farm_shortfall_12m,
  SUM(m.medical_oop) OVER w3 AS medical_oop_3m,
  SUM(m.medical_oop) OVER w12 AS medical_oop_12m,
  SUM(m.inpatient_bills) OVER w3 AS inpatient_bills_3m,
  SUM(m.disaster_loss) OVER w12 AS disaster_loss_12m,
  MAX(m.house_damage) OVER w12 AS house_damage_12m,
  SUM(m.temp_assistance) OVER w12 AS temp_assistance_12m,
  -- Estimated disposable income per person over the last 12 months: last year's net income,
  -- less what was lost or spent on rigid costs since, plus temporary assistance received.
  (m.baseline_income
     - SUM(m.wage_loss + m.farm_expected - m.farm_actual + m.medical_oop
           + m.education_fees - m.education_aid + m.disaster_loss - m.temp_assistance) OVER w12
  ) / m.members AS per_capita_income
FROM household_months m
WINDOW
  w3 AS (PARTITION BY m.household_code ORDER BY m.month_idx ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
  w12 AS (PARTITION BY m.household_code ORDER BY m.month_idx ROWS BETWEEN 11 PRECEDING AND CURRENT ROW)
