-- Per household-month figures shared by the indicators and the grader.
-- Input: household_months, one row per household and calendar month (China time) of the
-- retained window, money in yuan as DECIMAL(18,2); eval_from is the first month_idx this batch
-- must report on (earlier rows are history for the trailing sums); feeds_start the first month
-- the department feeds cover; open_month the month the stream is in.
-- The table is dense (every month of the window has a row, zeros where nothing happened), so the
-- trailing windows count rows: ROWS frames are far cheaper in DataFusion than RANGE frames.
--
-- The income measure is the programme's (../shared/domain.md): per-capita net income over the
-- trailing 12 calendar months, ending with this one. Net income is what the feeds show the
-- household earned (wages, farm income as assessed, every civil-affairs transfer) less the
-- rigid costs it bore (out-of-pocket medical costs, schooling net of aid, direct disaster
-- losses). The months of the window before the feeds began are filled with last year's net
-- income spread evenly, and so is the income of the month still open (open_month: the newest
-- month the stream has reached), whose wages and harvests are still arriving: judged on what
-- has arrived, every household would look poorer in the middle of a month. Its rigid costs
-- count as they arrive.
WITH covered AS (
  SELECT
    m.*,
    CASE WHEN m.month_idx >= m.feeds_start AND m.month_idx < m.open_month THEN 1 ELSE 0 END AS fed,
    CASE WHEN m.month_idx >= m.feeds_start AND m.month_idx < m.open_month
      THEN m.wages + m.farm_actual + m.transfers ELSE 0 END AS gross_income,
    CASE WHEN m.month_idx >= m.feeds_start AND m.month_idx < m.open_month
      THEN m.wages + m.farm_actual + m.transfers ELSE 0 END
      - CASE WHEN m.month_idx >= m.feeds_start
          THEN m.medical_oop + (m.education_fees - m.education_aid) + m.disaster_loss ELSE 0 END AS net_income
  FROM household_months m
),
trailing AS (
  SELECT
    c.*,
    SUM(c.wage_loss + c.farm_expected - c.farm_actual) OVER w3 AS income_loss_3m,
    SUM(c.wage_loss + c.farm_expected - c.farm_actual) OVER w12 AS income_loss_12m,
    SUM(c.education_fees - c.education_aid) OVER w12 AS education_net_12m,
    SUM(CASE WHEN c.unemployed_workers > 0 THEN 1 ELSE 0 END) OVER w3 AS unemployed_months_3m,
    SUM(c.wage_loss) OVER w3 AS wage_loss_3m,
    SUM(c.farm_expected - c.farm_actual) OVER w12 AS farm_shortfall_12m,
    SUM(c.medical_oop) OVER w3 AS medical_oop_3m,
    SUM(c.medical_oop) OVER w12 AS medical_oop_12m,
    SUM(c.inpatient_bills) OVER w3 AS inpatient_bills_3m,
    SUM(c.disaster_loss) OVER w12 AS disaster_loss_12m,
    MAX(c.house_damage) OVER w12 AS house_damage_12m,
    SUM(c.temp_assistance) OVER w12 AS temp_assistance_12m,
    -- Most members the employment feed reported on in a month: fewer than the roster's
    -- workers means wages no feed shows.
    MAX(c.workers_reported) OVER w12 AS workers_reported_12m,
    -- Months of the trailing 12 the feeds cover (a window cut short by the retained history
    -- counts only the months it holds; the rest are filled like the months before the feeds).
    SUM(c.fed) OVER w12 AS feed_months,
    CAST(SUM(c.gross_income) OVER w12 + c.baseline_income * (12 - SUM(c.fed) OVER w12) / 12 AS DECIMAL(18, 2)) AS income_12m,
    CAST(SUM(c.net_income) OVER w12 + c.baseline_income * (12 - SUM(c.fed) OVER w12) / 12 AS DECIMAL(18, 2)) AS net_income_12m,
    -- The older estimate, kept as a feature: last year's net income, less what was lost or
    -- spent on rigid costs since, plus temporary assistance received.
    c.baseline_income
      - SUM(c.wage_loss + c.farm_expected - c.farm_actual + c.medical_oop
            + c.education_fees - c.education_aid + c.disaster_loss - c.temp_assistance) OVER w12 AS loss_estimate_12m
  FROM covered c
  WINDOW
    w3 AS (PARTITION BY c.household_code ORDER BY c.month_idx ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
    w12 AS (PARTITION BY c.household_code ORDER BY c.month_idx ROWS BETWEEN 11 PRECEDING AND CURRENT ROW)
)
SELECT
  t.*,
  -- The household's monthly income, before rigid costs: what the health rule compares with.
  CAST(t.income_12m / 12 AS DECIMAL(18, 2)) AS monthly_income,
  -- The official measure: per-capita net income over the last 12 months.
  t.net_income_12m / t.members AS per_capita_income,
  t.loss_estimate_12m / t.members AS loss_estimate_pc_income
FROM trailing t
