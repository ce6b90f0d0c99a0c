-- 产业受灾: the plan's industry rule. Crop area hit by disaster above 30 mu in a month's
-- agriculture reports, and the assessed farm income at least 40% below the normal-year income.
-- rules weight: 0.55
-- statutory: the plan's industry rule
SELECT
  household_code,
  month_idx,
  '受灾面积 ' || CAST(disaster_mu AS VARCHAR) || ' 亩，农业收入 ' || CAST(farm_actual AS VARCHAR)
    || ' 元，比正常年景 ' || CAST(farm_expected AS VARCHAR) || ' 元下降 '
    || CAST(CAST(ROUND((farm_expected - farm_actual) * 100 / farm_expected) AS BIGINT) AS VARCHAR) || '%' AS detail
FROM household_features
WHERE month_idx >= eval_from
  AND disaster_mu > 30
  AND farm_expected > 0
  AND farm_actual * 10 <= farm_expected * 6
