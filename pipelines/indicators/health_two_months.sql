-- 医疗负担: the plan's health rule. Out-of-pocket medical costs above half the household's
-- monthly income in a month AND in the calendar month just before it. The months must be
-- consecutive (month_idx differs by one): a gap month breaks the pair, December→January keeps it.
-- rules weight: 0.6
-- statutory: the plan's health rule
SELECT
  cur.household_code,
  cur.month_idx,
  '医疗自付 ' || CAST(prev.month_idx % 12 + 1 AS VARCHAR) || ' 月 ' || CAST(prev.medical_oop AS VARCHAR) || ' 元（'
    || CASE WHEN prev.monthly_income > 0 THEN CAST(CAST(ROUND(prev.medical_oop * 100 / prev.monthly_income) AS BIGINT) AS VARCHAR) || '%' ELSE '收入为零' END
    || '）、' || CAST(cur.month_idx % 12 + 1 AS VARCHAR) || ' 月 ' || CAST(cur.medical_oop AS VARCHAR) || ' 元（'
    || CASE WHEN cur.monthly_income > 0 THEN CAST(CAST(ROUND(cur.medical_oop * 100 / cur.monthly_income) AS BIGINT) AS VARCHAR) || '%' ELSE '收入为零' END
    || '），连续两月超过家庭月收入 ' || CAST(cur.monthly_income AS VARCHAR) || ' 元的一半' AS detail
FROM household_features cur
JOIN household_features prev
  ON prev.household_code = cur.household_code AND prev.month_idx = cur.month_idx - 1
WHERE cur.month_idx >= cur.eval_from
  AND cur.medical_oop > 0 AND prev.medical_oop > 0
  AND cur.medical_oop * 2 > cur.monthly_income
  AND prev.medical_oop * 2 > prev.monthly_income
