-- 低于监测线: per-capita net income over the last 12 months (the programme's measure, see
-- household_features.sql) below the monitoring line (params.poverty_line, default 8,000 yuan per person per year).
-- rules weight: 0.85 (already under the line: verify at the door whatever else is known)
SELECT
  f.household_code,
  f.month_idx,
  '近 12 个月人均纯收入 ' || CAST(CAST(ROUND(f.per_capita_income) AS BIGINT) AS VARCHAR)
    || ' 元，低于监测线 ' || CAST(p.poverty_line AS VARCHAR) || ' 元' AS detail
FROM household_features f
CROSS JOIN params p
WHERE f.month_idx >= f.eval_from
  AND f.per_capita_income < p.poverty_line
