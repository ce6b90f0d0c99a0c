-- 水产养殖气象指数: the plan's aquaculture weather index (Anlu and the other pond counties).
-- A county-month fires on heavy rain (at least `params.heavy_rain_days` station-days with 24-hour
-- rainfall of `params.heavy_rain_mm` or more) or on hot water (at least `params.hot_water_days`
-- station-days with pond water at `params.hot_water_c` or more). A county without a station has
-- no rows here and never fires: its households are paid only through the other rules.
SELECT
  county_code,
  month_idx,
  CAST(MAX(rainfall_mm) AS VARCHAR) || ' mm / ' || COALESCE(CAST(MAX(water_temp_c) AS VARCHAR), '-') || ' °C' AS index_value,
  '暴雨 ' || CAST(SUM(CASE WHEN rainfall_mm >= params.heavy_rain_mm THEN 1 ELSE 0 END) AS VARCHAR)
    || ' 站日（日雨量最高 ' || CAST(MAX(rainfall_mm) AS VARCHAR) || ' 毫米），塘水高温 '
    || CAST(SUM(CASE WHEN water_temp_c >= params.hot_water_c THEN 1 ELSE 0 END) AS VARCHAR)
    || ' 站日（最高 ' || COALESCE(CAST(MAX(water_temp_c) AS VARCHAR), '未测') || ' °C）' AS detail
FROM weather_days CROSS JOIN params
GROUP BY county_code, month_idx, params.heavy_rain_mm, params.heavy_rain_days, params.hot_water_c, params.hot_water_days
HAVING SUM(CASE WHEN rainfall_mm >= params.heavy_rain_mm THEN 1 ELSE 0 END) >= params.heavy_rain_days
    OR SUM(CASE WHEN water_temp_c >= params.hot_water_c THEN 1 ELSE 0 END) >= params.hot_water_days
