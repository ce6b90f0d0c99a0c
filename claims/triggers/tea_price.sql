-- 茶叶价格指数: the plan's tea price index (Dawu and wherever tea is grown). A county-month
-- fires when the month's average purchase price is at least `params.shortfall` below the
-- month's average cost price. Compared as sums over the same days, so exactly: a day or two
-- below the line does not fire, a month whose average is below it does.
SELECT
  county_code,
  month_idx,
  CAST(ROUND(AVG(purchase_price), 2) AS VARCHAR) AS index_value,
  '茶叶月均收购价 ' || CAST(ROUND(AVG(purchase_price), 2) AS VARCHAR) || ' 元/公斤，低于成本价 '
    || CAST(ROUND(AVG(cost_price), 2) AS VARCHAR) || ' 元/公斤 '
    || CAST(CAST(ROUND((SUM(cost_price) - SUM(purchase_price)) * 100 / SUM(cost_price), 1) AS DOUBLE) AS VARCHAR)
    || '%（' || CAST(COUNT(*) AS VARCHAR) || ' 天）' AS detail
FROM price_days CROSS JOIN params
WHERE commodity = 'tea'
GROUP BY county_code, month_idx, params.shortfall
HAVING SUM(purchase_price) <= SUM(cost_price) * (1 - params.shortfall)
