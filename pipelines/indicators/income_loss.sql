-- 收入骤减: wages lost to unemployment plus farm income below the normal year, over the last
-- three months, of at least 40% of three months' normal income (last year's net income / 4).
-- Reported in the months a loss is recorded.
-- rules weight: 0.45
SELECT
  household_code,
  month_idx,
  '近 3 个月工资和农业收入损失 ' || CAST(income_loss_3m AS VARCHAR) || ' 元，为正常季度收入的 '
    || CAST(CAST(ROUND(income_loss_3m * 400 / baseline_income) AS BIGINT) AS VARCHAR) || '%' AS detail
FROM household_features
WHERE month_idx >= eval_from
  AND baseline_income > 0
  AND (wage_loss > 0 OR farm_actual < farm_expected)
  AND income_loss_3m * 10 >= baseline_income
