-- 房屋受损: a disaster left the house severely damaged (2) or collapsed (3), or its assessed
-- direct loss is at least 20% of last year's net household income.
-- rules weight: 0.5
SELECT
  household_code,
  month_idx,
  CASE house_damage WHEN 3 THEN '房屋倒塌' WHEN 2 THEN '房屋严重受损' ELSE '房屋受损' END
    || '，灾害直接损失 ' || CAST(disaster_loss AS VARCHAR) || ' 元' AS detail
FROM household_features
WHERE month_idx >= eval_from
  AND (house_damage >= 2 OR (disaster_loss > 0 AND disaster_loss * 5 >= baseline_income))
