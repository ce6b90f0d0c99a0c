-- Per household-month figures shared by the indicators and the grader.
-- Input: household_months, one row per household and calendar month (China time) being judged
-- and the three months before them, money in yuan as DECIMAL(18,2); eval_from is the first
-- month_idx this batch must report on (earlier rows are there for trends); feeds_start the
-- first month the department feeds cover; open_month the month the stream is in.
-- Each row carries the month's own figures and its trailing windows over the last 3 or 12
-- months (pipelines/src/trailing.rs; sql/trailing_windows.sql states them as SQL):
--   <figure>_3m, <figure>_12m        sums over every month of the span
--   house_damage_12m, workers_reported_12m   the largest value of the span
--   unemployed_months_3m             months someone in the household was unemployed
--   feed_months, fed_<figure>_12m    the months the feeds cover that are over (from
--                                    feeds_start to the month before open_month), and their sums
--   covered_<figure>_12m             sums over the months from feeds_start on, the open one too
--
-- The income measure is the programme's (../shared/domain.md): per-capita net income over the
-- trailing 12 calendar months, ending with this one. Net income is what the feeds show the
-- household earned (wages, farm income as assessed, every civil-affairs transfer) less the
-- rigid costs it bore (out-of-pocket medical costs, schooling net of aid, direct disaster
-- losses). The months of the window before the feeds began are filled with last year's net
-- income spread evenly, and so is the income of the month still open, whose wages and harvests
-- are still arriving: judged on what has arrived, every household would look poorer in the
-- middle of a month. Its rigid costs count as they arrive.
WITH sums AS (
  SELECT
    m.*,
    m.wage_loss_3m + m.farm_expected_3m - m.farm_actual_3m AS income_loss_3m,
    m.wage_loss_12m + m.farm_expected_12m - m.farm_actual_12m AS income_loss_12m,
    m.education_fees_12m - m.education_aid_12m AS education_net_12m,
    m.farm_expected_12m - m.farm_actual_12m AS farm_shortfall_12m,
    m.fed_wages_12m + m.fed_farm_actual_12m + m.fed_transfers_12m AS gross_income_12m,
    m.covered_medical_oop_12m + (m.covered_education_fees_12m - m.covered_education_aid_12m)
      + m.covered_disaster_loss_12m AS rigid_costs_12m,
    -- Last year's income for the months of the 12 the feeds do not cover.
    m.baseline_income * (12 - m.feed_months) / 12 AS filled_income_12m
  FROM household_months m
),
trailing AS (
  SELECT
    s.*,
    CAST(s.gross_income_12m + s.filled_income_12m AS DECIMAL(18, 2)) AS income_12m,
    CAST(s.gross_income_12m - s.rigid_costs_12m + s.filled_income_12m AS DECIMAL(18, 2)) AS net_income_12m,
    -- The older estimate, kept as a feature: last year's net income, less what was lost or
    -- spent on rigid costs since, plus temporary assistance received.
    s.baseline_income
      - (s.income_loss_12m + s.medical_oop_12m + s.education_net_12m + s.disaster_loss_12m
         - s.temp_assistance_12m) AS loss_estimate_12m
  FROM sums s
)
SELECT
  t.*,
  -- The household's monthly income, before rigid costs: what the health rule compares with.
  CAST(t.income_12m / 12 AS DECIMAL(18, 2)) AS monthly_income,
  -- The official measure: per-capita net income over the last 12 months.
  t.net_income_12m / t.members AS per_capita_income,
  t.loss_estimate_12m / t.members AS loss_estimate_pc_income
FROM trailing t
