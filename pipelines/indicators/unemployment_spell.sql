-- 失业: a member of the household able to work has been unemployed three months running.
-- rules weight: 0.3
SELECT
  household_code,
  month_idx,
  '家庭劳动力已连续 3 个月失业，本月失业 ' || CAST(unemployed_workers AS VARCHAR) || ' 人' AS detail
FROM household_features
WHERE month_idx >= eval_from
  AND unemployed_workers > 0
  AND unemployed_months_3m >= 3
