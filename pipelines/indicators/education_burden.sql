-- 教育负担: schooling costs net of aid over the last 12 months above 30% of last year's net
-- household income. Reported in the months a term is billed, not every month after.
-- rules weight: 0.3
SELECT
  household_code,
  month_idx,
  '近 12 个月教育支出（扣除资助）' || CAST(education_net_12m AS VARCHAR) || ' 元，占上年家庭纯收入 '
    || CAST(CAST(ROUND(education_net_12m * 100 / baseline_income) AS BIGINT) AS VARCHAR) || '%' AS detail
FROM household_features
WHERE month_idx >= eval_from
  AND education_fees > 0
  AND baseline_income > 0
  AND education_net_12m * 10 > baseline_income * 3
