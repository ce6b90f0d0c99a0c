"""The DuckDB reference for fangpin's embedded throughput: the same seven indicators computed
from the same contract NDJSON files as one batch job, the way a data team would do it with
DuckDB instead of running fangpin.

    python3 benches/duckdb_indicators.py WORLD_DIR [--threads N] [--json] [--hits-out FILE]

It loads every `<topic>.ndjson` contract file of WORLD_DIR (other files, such as
`ground_truth.ndjson` and `dirty_manifest.ndjson`, are ignored, as fangpin ignores them), keeps
only the records fangpin's decoders accept, folds duplicates, corrections and reversals as
fangpin's ledger does, builds `household_months` (one dense row per roster household and
calendar month, money DECIMAL(18,2)), then runs `pipelines/sql/household_features.sql` and
every `pipelines/indicators/*.sql`, read from disk, over the whole window in one batch
(`eval_from` = the window's first month). It prints records read, wall seconds from the start
of loading to the last indicator result, records/s, and the hits per indicator; `--json` prints
the same as one JSON object; `--hits-out` writes every hit to Parquet (after the clock stops).

What is measured: parsing and validating every record (JSON types, formats, enums, ID check
characters, the medical amounts identity, roster counts...), the fold into household-months, the
window features and the indicators, results materialised with their detail text.

What is left out, compared with fangpin:
- no streaming: one batch over complete files. fangpin replays the files in micro-batches
  (250,000 records by default) and, per batch, re-evaluates each touched household from the
  earliest month the batch touched to the newest month seen so far; the "indicator hits" of its
  summary add up every batch's hits. The hits here are those of the final state, each
  household-month once. They equal fangpin's when fangpin reads the files as one batch
  (`run --batch-size N` with N at least the number of records): equal counts on the default
  world, and on a 5,000-household world the same hits household-month by household-month, with
  the same detail text for every hit that became an alert. With smaller batches fangpin's
  counts are larger, because a household-month that fires in several batches is counted in
  each, and a hit that a later record (reversal, correction, late record) removes stays
  counted. Its latest evaluation of each household-month still gives the same hits as here,
  except for household-months it never evaluated: months after the newest month seen when a
  household's last record arrived, which `below_line` (the one indicator that fires without a
  record in the month) would have flagged.
- no pseudonymisation: ID numbers are validated and used in memory as the worker and student
  keys (fangpin keys on their HMAC pseudonym: the same grouping, since fangpin rejects the
  lowercase `x` that would be the only second spelling of one number).
- no grading, alerts, alert book, dead-letter records, metrics, checkpoints or feature
  snapshots: rejected records are only counted, not written.
- arrival order across files: fangpin rejects a record more than `history_months` older than
  the newest month seen *so far* (`beyond_window`); here the window is the whole batch's. They
  differ only if a record arrives after records more than 12 months newer than itself.
- a JSON object with a repeated key: DuckDB keeps the first value, serde_json the last.
- DuckDB's `/` on DECIMAL returns DOUBLE. The only money column the features divide,
  `per_capita_income`, is computed exactly instead (see `exact_div`); the indicators' own
  divisions only build the percentages of their detail text, so they are left as written
  (their hit conditions multiply and stay exact).
"""

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
FEATURES_SQL = REPO / "pipelines" / "sql" / "household_features.sql"
WINDOWS_SQL = REPO / "pipelines" / "sql" / "trailing_windows.sql"
INDICATORS_DIR = REPO / "pipelines" / "indicators"

# fangpin's defaults (src/config.rs, pipelines/src/pipeline.rs, connectors DecoderConfig).
POVERTY_LINE = "8000"
HISTORY_MONTHS = 15  # PipelineConfig::default().history_months
COUNTIES = ["420902", "420921", "420922", "420923", "420981", "420982", "420984"]

# Contract topics and their fields (shared/contracts.md). Every field is read as DuckDB JSON,
# not as VARCHAR or a number: DuckDB would cast a JSON number into a VARCHAR column ("1234.5")
# and a JSON string into a BIGINT one, which would accept the wrong-type records fangpin rejects.
TOPICS = {
    "dept.rural.roster": [
        "household_code", "category", "members", "labor_count", "head_age", "disabled_members",
        "chronic_patients", "industries", "baseline_income", "insured", "effective_date",
    ],
    "dept.medical.settlements": [
        "settlement_id", "status", "household_code", "id_card", "settle_time", "visit_type",
        "total_cost", "fund_paid", "critical_illness_paid", "assistance_paid", "out_of_pocket",
    ],
    "dept.hr.employment": ["household_code", "id_card", "ym", "status", "wage_fen"],
    "dept.agri.production": [
        "report_id", "household_code", "month", "product", "planted_mu", "disaster_mu",
        "expected_income", "actual_income",
    ],
    "dept.civil.assistance": ["payment_id", "household_code", "month", "kind", "amount"],
    "dept.emergency.disasters": [
        "event_id", "household_code", "hazard", "occurred_at", "house_damage", "direct_loss",
    ],
    "dept.edu.expenses": ["household_code", "id_card", "term", "stage", "fees", "aid"],
    "market.prices": ["county_code", "commodity", "date", "purchase_price", "cost_price"],
    "weather.observations": ["station_id", "county_code", "date", "rainfall_mm", "water_temp_c"],
    "verify.outcomes": [
        "alert_id", "household_code", "verified_at", "method", "outcome", "assistance", "verifier",
    ],
}


def table(topic):
    return "raw_" + topic.replace(".", "_")


def quote(path):
    """A path as an SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def sql_list(values):
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


# Field readers as macros, mirroring connectors/src/decode/fields.rs: each gives the value, or
# NULL when fangpin would reject the field (absent or null, wrong JSON type, bad content).
MACROS = f"""
-- A JSON string's text; NULL for absent, null or another JSON type.
CREATE MACRO jstr(j) AS CASE WHEN json_type(j) = 'VARCHAR' THEN j ->> '$' END;
-- A JSON integer (no fraction, no exponent) that fits an i64.
CREATE MACRO jint(j) AS
  CASE WHEN json_type(j) IN ('UBIGINT', 'BIGINT') THEN TRY_CAST(CAST(j AS VARCHAR) AS BIGINT) END;
CREATE MACRO jnum(j) AS
  CASE WHEN json_type(j) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST(CAST(j AS VARCHAR) AS DOUBLE) END;
-- Not blank (Unicode white space, as Rust's str::trim), at most 128 bytes: identifiers.
CREATE MACRO text_ok(s) AS
  s IS NOT NULL AND NOT regexp_full_match(s, '[\\s\\x{{0B}}\\x{{85}}\\p{{Z}}]*') AND strlen(s) <= 128;
-- Exact decimals from their string, never through a float: at most 13 digits, optionally a
-- dot and 1 or 2 decimals (yuan) or 1 to 4 (areas in mu, prices), no sign.
CREATE MACRO yuan(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{{1,13}}(\\.[0-9]{{1,2}})?') THEN CAST(s AS DECIMAL(18,2)) END;
CREATE MACRO dec4(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{{1,13}}(\\.[0-9]{{1,4}})?') THEN CAST(s AS DECIMAL(18,4)) END;
-- Integer fen to yuan, exactly (fen are a JSON integer, 0 to 10^15).
CREATE MACRO fen_to_yuan(i) AS
  CASE WHEN i BETWEEN 0 AND 1000000000000000 THEN CAST(CAST(i AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2)) END;
CREATE MACRO household_ok(s) AS
  regexp_full_match(s, '[0-9]{{12}}-[0-9]{{4}}') AND list_contains({sql_list(COUNTIES)}, substr(s, 1, 6));
CREATE MACRO county_ok(s) AS list_contains({sql_list(COUNTIES)}, s);
-- 17 digits and the ISO 7064 MOD 11-2 check character (uppercase X only).
CREATE MACRO id_card_ok(s) AS
  regexp_full_match(s, '[0-9]{{17}}[0-9X]')
  AND substr(s, 18, 1) = substr('10X98765432', ({
      ' + '.join(f"(ascii(substr(s, {i + 1}, 1)) - 48) * {w}"
                 for i, w in enumerate([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]))
  }) % 11 + 1, 1);
-- Month index (year * 12 + month - 1, as fangpin's Month::index) of YYYY-MM and YYYYMM.
CREATE MACRO month_of(y, m) AS
  CASE WHEN m BETWEEN 1 AND 12 AND y BETWEEN 1900 AND 2999 THEN y * 12 + m - 1 END;
CREATE MACRO dashed_month(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{{4}}-[0-9]{{2}}')
       THEN month_of(CAST(substr(s, 1, 4) AS INTEGER), CAST(substr(s, 6, 2) AS INTEGER)) END;
CREATE MACRO compact_month(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{{6}}')
       THEN month_of(CAST(substr(s, 1, 4) AS INTEGER), CAST(substr(s, 5, 2) AS INTEGER)) END;
-- A strict YYYY-MM-DD calendar date.
CREATE MACRO strict_date(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')
        AND CAST(substr(s, 1, 4) AS INTEGER) BETWEEN 1900 AND 2999
       THEN TRY_CAST(s AS DATE) END;
-- An RFC 3339 timestamp with an offset, as the month it falls in in China time (UTC+8):
-- months are calendar months in China time whatever offset a department wrote. (A fraction of
-- a second cannot move a timestamp into another month, so it is only checked, not added.)
CREATE MACRO offset_minutes(s) AS
  CASE WHEN upper(right(s, 1)) = 'Z' THEN 0
       WHEN CAST(substr(right(s, 5), 1, 2) AS INTEGER) < 24 AND CAST(right(s, 2) AS INTEGER) < 60
       THEN (CASE WHEN substr(right(s, 6), 1, 1) = '-' THEN -1 ELSE 1 END)
            * (CAST(substr(right(s, 5), 1, 2) AS INTEGER) * 60 + CAST(right(s, 2) AS INTEGER)) END;
CREATE MACRO month_idx_of(t) AS year(t) * 12 + month(t) - 1;
CREATE MACRO china_month(s) AS
  CASE WHEN regexp_full_match(s, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(\\.[0-9]+)?([Zz]|[+-][0-9]{{2}}:[0-9]{{2}})')
        AND CAST(substr(s, 1, 4) AS INTEGER) BETWEEN 1900 AND 2999
       THEN month_idx_of(TRY_CAST(substr(s, 1, 10) || ' ' || substr(s, 12, 8) AS TIMESTAMP)
                         - to_minutes(offset_minutes(s)) + INTERVAL 8 HOUR) END;
-- Every element of a JSON array is one of `allowed` (an empty array is fine).
CREATE MACRO codes_ok(j, allowed) AS
  json_type(j) = 'ARRAY'
  AND len(list_filter(CAST(j AS JSON[]), lambda x: json_type(x) IS DISTINCT FROM 'VARCHAR'
                                            OR NOT list_contains(allowed, x ->> '$'))) = 0;
CREATE MACRO strings_ok(j) AS
  json_type(j) = 'ARRAY'
  AND len(list_filter(CAST(j AS JSON[]), lambda x: json_type(x) IS DISTINCT FROM 'VARCHAR'
                                            OR NOT text_ok(x ->> '$'))) = 0;
-- Round half to even to whole fen, as rust_decimal's round_dp(2) does for baseline / 12.
CREATE MACRO monthly_fen(baseline_fen) AS
  baseline_fen // 12 + CASE WHEN baseline_fen % 12 > 6 THEN 1
                            WHEN baseline_fen % 12 = 6 THEN (baseline_fen // 12) % 2
                            ELSE 0 END;
-- x / n for DECIMAL x and a positive integer n, exactly: DuckDB's `/` on DECIMAL gives DOUBLE.
-- The quotient is kept to 13 decimals, truncated toward zero as Arrow's decimal division
-- truncates. Any scale of 2 or more gives the same result for what the indicators do with it:
-- compare it with a 2-decimal amount and ROUND it to whole yuan.
CREATE MACRO exact_div(x, n) AS
  CAST(CAST(CAST(x * 100 AS HUGEINT) * 100000000000 // n AS DECIMAL(38,0)) * 0.0000000000001 AS DECIMAL(38,13));
"""

# One "<topic>_ok" table per household topic: the records fangpin's decoder accepts, typed.
# Each value is first extracted into a "<topic>_typed" table and only then checked: checked in
# one statement, DuckDB inlines the extraction into every use of the value in the checks and
# re-reads the JSON each time (the ID check alone uses its value 18 times), twice as slow.
# `seq` is the line's position in its file (rowid of the raw table, which keeps file order):
# the file is the topic's arrival order, and a later record with the same key replaces an
# earlier one.
DECODE = """
CREATE TABLE roster_typed AS
SELECT rowid AS seq, jstr(household_code) AS household_code, jstr(category) AS category,
       jint(members) AS members, jint(labor_count) AS labor_count, jint(head_age) AS head_age,
       jint(disabled_members) AS disabled_members, jint(chronic_patients) AS chronic_patients,
       jstr(baseline_income) AS baseline_income, jstr(effective_date) AS effective_date,
       codes_ok(industries, ['rice', 'tea', 'hog', 'aquaculture', 'cotton', 'migrant_work']) AS industries_ok,
       json_type(insured) = 'BOOLEAN' AS insured_ok
FROM raw_dept_rural_roster;
CREATE TABLE roster_ok AS
SELECT seq, household_code, category, members, labor_count, yuan(baseline_income) AS baseline_income,
       month_idx_of(strict_date(effective_date)) AS effective_month
FROM roster_typed
WHERE household_ok(household_code)
  AND list_contains(['stable_alleviated', 'unstable_alleviated', 'marginal', 'sudden_difficulty', 'general'], category)
  AND members BETWEEN 1 AND 99 AND labor_count BETWEEN 0 AND 99 AND head_age BETWEEN 0 AND 120
  AND disabled_members BETWEEN 0 AND 99 AND chronic_patients BETWEEN 0 AND 99
  AND industries_ok AND yuan(baseline_income) IS NOT NULL AND insured_ok
  AND strict_date(effective_date) IS NOT NULL
  -- Sub-counts of people cannot exceed the household.
  AND labor_count <= members AND disabled_members <= members AND chronic_patients <= members;

CREATE TABLE medical_typed AS
SELECT rowid AS seq, jstr(settlement_id) AS settlement_id, jstr(status) AS status,
       jstr(household_code) AS household_code, jstr(id_card) AS id_card, jstr(settle_time) AS settle_time,
       jstr(visit_type) AS visit_type, jstr(total_cost) AS total_cost, jstr(fund_paid) AS fund_paid,
       jstr(critical_illness_paid) AS critical_illness_paid, jstr(assistance_paid) AS assistance_paid,
       jstr(out_of_pocket) AS out_of_pocket
FROM raw_dept_medical_settlements;
CREATE TABLE medical_ok AS
SELECT * FROM (
  SELECT seq, settlement_id, status, household_code, id_card, china_month(settle_time) AS month_idx,
         visit_type, yuan(total_cost) AS total_cost, yuan(fund_paid) AS fund_paid,
         yuan(critical_illness_paid) AS critical_illness_paid, yuan(assistance_paid) AS assistance_paid,
         yuan(out_of_pocket) AS out_of_pocket
  FROM medical_typed
  WHERE text_ok(settlement_id) AND list_contains(['settled', 'reversed'], status)
    AND household_ok(household_code) AND id_card_ok(id_card)
    AND list_contains(['inpatient', 'outpatient'], visit_type))
WHERE month_idx IS NOT NULL
  -- The contract's identity, to the fen: payers never above the bill, out-of-pocket the rest.
  AND fund_paid + critical_illness_paid + assistance_paid <= total_cost
  AND out_of_pocket = total_cost - (fund_paid + critical_illness_paid + assistance_paid);

CREATE TABLE employment_typed AS
SELECT rowid AS seq, jstr(household_code) AS household_code, jstr(id_card) AS worker, jstr(ym) AS ym,
       jstr(status) AS status, jint(wage_fen) AS wage_fen
FROM raw_dept_hr_employment;
CREATE TABLE employment_ok AS
SELECT seq, household_code, worker, compact_month(ym) AS month_idx, status, fen_to_yuan(wage_fen) AS wage
FROM employment_typed
WHERE household_ok(household_code) AND id_card_ok(worker) AND compact_month(ym) IS NOT NULL
  AND list_contains(['employed', 'migrant_employed', 'unemployed', 'not_in_labor_force'], status)
  AND fen_to_yuan(wage_fen) IS NOT NULL;

CREATE TABLE farm_typed AS
SELECT rowid AS seq, jstr(report_id) AS report_id, jstr(household_code) AS household_code,
       jstr(month) AS month, jstr(product) AS product, jstr(planted_mu) AS planted_mu,
       jstr(disaster_mu) AS disaster_mu, jstr(expected_income) AS expected_income,
       jstr(actual_income) AS actual_income
FROM raw_dept_agri_production;
CREATE TABLE farm_ok AS
SELECT seq, report_id, household_code, dashed_month(month) AS month_idx, product,
       dec4(planted_mu) AS planted_mu, dec4(disaster_mu) AS disaster_mu,
       yuan(expected_income) AS expected_income, yuan(actual_income) AS actual_income
FROM farm_typed
WHERE text_ok(report_id) AND household_ok(household_code) AND dashed_month(month) IS NOT NULL
  AND list_contains(['rice', 'tea', 'hog', 'aquaculture', 'cotton'], product)
  AND yuan(expected_income) IS NOT NULL AND yuan(actual_income) IS NOT NULL
  -- Disaster can only hit farmed land (a larger area would inflate the 30 mu rule).
  AND dec4(disaster_mu) <= dec4(planted_mu);

CREATE TABLE assistance_typed AS
SELECT rowid AS seq, jstr(payment_id) AS payment_id, jstr(household_code) AS household_code,
       jstr(month) AS month, jstr(kind) AS kind, jstr(amount) AS amount
FROM raw_dept_civil_assistance;
CREATE TABLE assistance_ok AS
SELECT seq, payment_id, household_code, dashed_month(month) AS month_idx, kind, yuan(amount) AS amount
FROM assistance_typed
WHERE text_ok(payment_id) AND household_ok(household_code) AND dashed_month(month) IS NOT NULL
  AND list_contains(['dibao', 'temporary', 'extreme_poverty', 'disability'], kind) AND yuan(amount) IS NOT NULL;

CREATE TABLE disaster_typed AS
SELECT rowid AS seq, jstr(event_id) AS event_id, jstr(household_code) AS household_code,
       jstr(hazard) AS hazard, jstr(occurred_at) AS occurred_at, jstr(house_damage) AS house_damage,
       jstr(direct_loss) AS direct_loss
FROM raw_dept_emergency_disasters;
CREATE TABLE disaster_ok AS
SELECT seq, event_id, household_code, china_month(occurred_at) AS month_idx, house_damage,
       yuan(direct_loss) AS direct_loss
FROM disaster_typed
WHERE text_ok(event_id) AND household_ok(household_code)
  AND list_contains(['flood', 'drought', 'landslide', 'hail', 'fire'], hazard)
  AND china_month(occurred_at) IS NOT NULL
  AND list_contains(['none', 'minor', 'severe', 'collapsed'], house_damage) AND yuan(direct_loss) IS NOT NULL;

CREATE TABLE school_typed AS
SELECT rowid AS seq, jstr(household_code) AS household_code, jstr(id_card) AS student, jstr(term) AS term,
       jstr(stage) AS stage, jstr(fees) AS fees, jstr(aid) AS aid
FROM raw_dept_edu_expenses;
CREATE TABLE school_ok AS
SELECT * FROM (
  SELECT seq, household_code, student, term,
         -- A term is billed in its first month: spring in March, fall in September.
         CASE WHEN regexp_full_match(term, '[0-9]{4}-(spring|fall)')
              THEN month_of(CAST(substr(term, 1, 4) AS INTEGER), CASE WHEN term LIKE '%-spring' THEN 3 ELSE 9 END)
         END AS month_idx,
         stage, yuan(fees) AS fees, yuan(aid) AS aid
  FROM school_typed
  WHERE household_ok(household_code) AND id_card_ok(student)
    AND list_contains(['compulsory', 'high_school', 'vocational', 'college'], stage))
WHERE month_idx IS NOT NULL AND fees IS NOT NULL AND aid IS NOT NULL;

-- Records that change no household figure, decoded for the count of rejected records only.
CREATE TABLE prices_ok AS
SELECT rowid AS seq, month_idx_of(strict_date(jstr(date))) AS month_idx FROM raw_market_prices
WHERE county_ok(jstr(county_code)) AND list_contains(['tea', 'hog', 'fish'], jstr(commodity))
  AND strict_date(jstr(date)) IS NOT NULL AND dec4(jstr(purchase_price)) IS NOT NULL
  AND dec4(jstr(cost_price)) > 0;

CREATE TABLE weather_ok AS
SELECT rowid AS seq, month_idx_of(strict_date(jstr(date))) AS month_idx FROM raw_weather_observations
WHERE text_ok(jstr(station_id)) AND county_ok(jstr(county_code)) AND strict_date(jstr(date)) IS NOT NULL
  AND jnum(rainfall_mm) BETWEEN 0 AND 2000
  AND (water_temp_c IS NULL OR jnum(water_temp_c) BETWEEN -10 AND 50);

CREATE TABLE outcomes_ok AS
SELECT rowid AS seq, jstr(household_code) AS household_code, china_month(jstr(verified_at)) AS month_idx
FROM raw_verify_outcomes
WHERE text_ok(jstr(alert_id)) AND household_ok(jstr(household_code))
  AND china_month(jstr(verified_at)) IS NOT NULL
  AND list_contains(['door_visit', 'phone'], jstr(method))
  AND list_contains(['confirmed_risk', 'no_risk', 'unreachable'], jstr(outcome))
  AND strings_ok(assistance) AND text_ok(jstr(verifier));
"""

# The ledger (pipelines/src/ledger.rs, state.rs) as of the end of the batch.
LEDGER = """
-- The roster is an upsert: the household's latest record is its profile for every month.
CREATE TABLE profiles AS
SELECT * FROM roster_ok
QUALIFY row_number() OVER (PARTITION BY household_code ORDER BY seq DESC) = 1;

-- Every record a household's ledger holds, by household and month (a reversal only marks its
-- settlement, so it is not one). Only roster households count: fangpin parks the others' records
-- and dead-letters them as unknown_household at the end of the replay.
CREATE TEMP VIEW held AS
SELECT household_code, month_idx FROM medical_ok WHERE status = 'settled'
UNION ALL SELECT household_code, month_idx FROM employment_ok
UNION ALL SELECT household_code, month_idx FROM farm_ok
UNION ALL SELECT household_code, month_idx FROM assistance_ok
UNION ALL SELECT household_code, month_idx FROM disaster_ok
UNION ALL SELECT household_code, month_idx FROM school_ok;

-- The window (State::window_start): from `history_months` before the newest month a record is
-- about, or from the oldest such month when the records span less, to the newest. Records
-- older than that are dropped (fangpin: beyond_window, or pruned).
CREATE TABLE win AS
SELECT GREATEST(min(month_idx), max(month_idx) - $history) AS first, max(month_idx) AS last
FROM held SEMI JOIN profiles USING (household_code);

-- Each natural key keeps its latest record in arrival order: an identical repeat changes
-- nothing (duplicate) and a different one replaces it (correction), both as in Household::apply;
-- then records outside the window are dropped, as State::prune does after a batch.
CREATE TABLE settlements AS
SELECT * FROM (
  SELECT m.* FROM medical_ok m SEMI JOIN profiles p USING (household_code)
  WHERE m.status = 'settled'
    -- A reversal cancels its settlement whichever arrives first, within the same household.
    AND NOT EXISTS (SELECT 1 FROM medical_ok r
                    WHERE r.status = 'reversed' AND r.household_code = m.household_code
                      AND r.settlement_id = m.settlement_id)
  QUALIFY row_number() OVER (PARTITION BY m.household_code, m.settlement_id ORDER BY m.seq DESC) = 1)
WHERE month_idx BETWEEN (SELECT first FROM win) AND (SELECT last FROM win);

"""

# The other ledgers: the latest record of each natural key, within the window.
NATURAL_KEYS = {
    "employment": ("employment_ok", "worker, month_idx"),
    "farm": ("farm_ok", "report_id"),
    "payments": ("assistance_ok", "payment_id"),
    "disasters": ("disaster_ok", "event_id"),
    "schooling": ("school_ok", "student, term"),
}
LEDGER += "".join(f"""
CREATE TABLE {name} AS
SELECT * FROM (
  SELECT * FROM {source} SEMI JOIN profiles USING (household_code)
  QUALIFY row_number() OVER (PARTITION BY household_code, {key} ORDER BY seq DESC) = 1)
WHERE month_idx BETWEEN (SELECT first FROM win) AND (SELECT last FROM win);
""" for name, (source, key) in NATURAL_KEYS.items())

# The month figures exactly as pipelines/src/table.rs builds them (`raw_batch`: same columns,
# same order); `sql/trailing_windows.sql` adds the trailing windows to make household_months.
HOUSEHOLD_MONTHS = """
CREATE TABLE month_figures AS
WITH months AS (
  SELECT CAST(range AS INTEGER) AS month_idx
  FROM range((SELECT first FROM win), (SELECT last FROM win) + 1)),
med AS (
  SELECT household_code, month_idx, SUM(out_of_pocket) AS medical_oop,
         COUNT(*) FILTER (WHERE visit_type = 'inpatient') AS inpatient_bills
  FROM settlements GROUP BY ALL),
work AS (
  -- What an unemployed worker normally earned: the wage of his last earlier month in which he
  -- was employed (locally or as a migrant) with a wage above zero, as Household::months.
  SELECT *, last_value(CASE WHEN status IN ('employed', 'migrant_employed') AND wage > 0 THEN wage END IGNORE NULLS)
              OVER (PARTITION BY household_code, worker ORDER BY month_idx
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS normal_wage
  FROM employment),
emp AS (
  SELECT household_code, month_idx, SUM(wage) AS wages,
         SUM(CASE WHEN status = 'unemployed' THEN COALESCE(normal_wage, 0) ELSE 0 END) AS wage_loss,
         COUNT(*) FILTER (WHERE status = 'unemployed') AS unemployed_workers,
         COUNT(*) AS workers_reported
  FROM work GROUP BY ALL),
agri AS (
  SELECT household_code, month_idx, SUM(expected_income) AS farm_expected, SUM(actual_income) AS farm_actual,
         SUM(planted_mu) AS planted_mu, SUM(disaster_mu) AS disaster_mu
  FROM farm GROUP BY ALL),
civil AS (
  SELECT household_code, month_idx, SUM(amount) AS transfers,
         SUM(amount) FILTER (WHERE kind = 'temporary') AS temp_assistance
  FROM payments GROUP BY ALL),
dis AS (
  SELECT household_code, month_idx, SUM(direct_loss) AS disaster_loss,
         MAX(CASE house_damage WHEN 'collapsed' THEN 3 WHEN 'severe' THEN 2 WHEN 'minor' THEN 1 ELSE 0 END) AS house_damage
  FROM disasters GROUP BY ALL),
edu AS (
  SELECT household_code, month_idx, SUM(fees) AS education_fees, SUM(aid) AS education_aid
  FROM schooling GROUP BY ALL)
SELECT
  p.household_code,
  substr(p.household_code, 1, 6) AS county_code,
  substr(p.household_code, 1, 9) AS township_code,
  substr(p.household_code, 1, 12) AS village_code,
  p.category,
  printf('%04d-%02d', m.month_idx // 12, m.month_idx % 12 + 1) AS month,
  CAST(p.members AS INTEGER) AS members,
  CAST(p.labor_count AS INTEGER) AS labor_count,
  m.month_idx,
  -- In a one-batch replay fangpin reports on each household from the earliest month its roster
  -- entries or records touched, clipped to the window: the window's first month whenever the
  -- roster entry took effect by then (every simulated household's does, on 2024-01-01).
  CAST((SELECT first FROM win) AS INTEGER) AS eval_from,
  -- The feeds begin in the oldest month seen (no `[pipeline] feeds_start`), and the newest
  -- month is the one still open.
  CAST((SELECT first FROM win) AS INTEGER) AS feeds_start,
  CAST((SELECT last FROM win) AS INTEGER) AS open_month,
  CAST(COALESCE(med.inpatient_bills, 0) AS INTEGER) AS inpatient_bills,
  CAST(COALESCE(emp.unemployed_workers, 0) AS INTEGER) AS unemployed_workers,
  CAST(COALESCE(dis.house_damage, 0) AS INTEGER) AS house_damage,
  CAST(COALESCE(emp.workers_reported, 0) AS INTEGER) AS workers_reported,
  p.baseline_income,
  CAST(COALESCE(emp.wages, 0) AS DECIMAL(18,2)) AS wages,
  CAST(COALESCE(emp.wage_loss, 0) AS DECIMAL(18,2)) AS wage_loss,
  CAST(COALESCE(agri.farm_expected, 0) AS DECIMAL(18,2)) AS farm_expected,
  CAST(COALESCE(agri.farm_actual, 0) AS DECIMAL(18,2)) AS farm_actual,
  -- Areas may have 4 decimals in the contract but fangpin's table holds 2 (it stops with an
  -- internal error on more; the simulator writes 1).
  CAST(COALESCE(agri.planted_mu, 0) AS DECIMAL(18,2)) AS planted_mu,
  CAST(COALESCE(agri.disaster_mu, 0) AS DECIMAL(18,2)) AS disaster_mu,
  CAST(COALESCE(civil.transfers, 0) AS DECIMAL(18,2)) AS transfers,
  CAST(COALESCE(civil.temp_assistance, 0) AS DECIMAL(18,2)) AS temp_assistance,
  CAST(COALESCE(med.medical_oop, 0) AS DECIMAL(18,2)) AS medical_oop,
  CAST(COALESCE(edu.education_fees, 0) AS DECIMAL(18,2)) AS education_fees,
  CAST(COALESCE(edu.education_aid, 0) AS DECIMAL(18,2)) AS education_aid,
  CAST(COALESCE(dis.disaster_loss, 0) AS DECIMAL(18,2)) AS disaster_loss
-- Every roster household gets a row for every month of the window, zeros where nothing
-- happened: the features' ROWS frames count rows, so the table must be dense.
FROM profiles p
CROSS JOIN months m
LEFT JOIN med USING (household_code, month_idx)
LEFT JOIN emp USING (household_code, month_idx)
LEFT JOIN agri USING (household_code, month_idx)
LEFT JOIN civil USING (household_code, month_idx)
LEFT JOIN dis USING (household_code, month_idx)
LEFT JOIN edu USING (household_code, month_idx);
"""

# Records fangpin would dead-letter: rejected by a decoder, about a household not on the
# roster, or reversing a settlement never received. For the report, and as a check of the
# decoding above against fangpin's summary ("rejected to dead letters").
REJECTED = """
SELECT
  (SELECT count(*) FROM raw_dept_rural_roster) - (SELECT count(*) FROM roster_ok)
  + (SELECT count(*) FROM raw_dept_medical_settlements) - (SELECT count(*) FROM medical_ok)
  + (SELECT count(*) FROM raw_dept_hr_employment) - (SELECT count(*) FROM employment_ok)
  + (SELECT count(*) FROM raw_dept_agri_production) - (SELECT count(*) FROM farm_ok)
  + (SELECT count(*) FROM raw_dept_civil_assistance) - (SELECT count(*) FROM assistance_ok)
  + (SELECT count(*) FROM raw_dept_emergency_disasters) - (SELECT count(*) FROM disaster_ok)
  + (SELECT count(*) FROM raw_dept_edu_expenses) - (SELECT count(*) FROM school_ok)
  + (SELECT count(*) FROM raw_market_prices) - (SELECT count(*) FROM prices_ok)
  + (SELECT count(*) FROM raw_weather_observations) - (SELECT count(*) FROM weather_ok)
  + (SELECT count(*) FROM raw_verify_outcomes) - (SELECT count(*) FROM outcomes_ok)
  AS decode_rejected,
  (SELECT count(*) FROM (
     SELECT household_code FROM medical_ok UNION ALL SELECT household_code FROM employment_ok
     UNION ALL SELECT household_code FROM farm_ok UNION ALL SELECT household_code FROM assistance_ok
     UNION ALL SELECT household_code FROM disaster_ok UNION ALL SELECT household_code FROM school_ok
     UNION ALL SELECT household_code FROM outcomes_ok) r
   ANTI JOIN profiles p USING (household_code)) AS unknown_household,
  -- Counted once per settlement: a repeated reversal is a duplicate, not a second orphan.
  (SELECT count(DISTINCT (r.household_code, r.settlement_id)) FROM medical_ok r SEMI JOIN profiles p USING (household_code)
   WHERE r.status = 'reversed'
     AND NOT EXISTS (SELECT 1 FROM medical_ok s WHERE s.status = 'settled'
                     AND s.household_code = r.household_code AND s.settlement_id = r.settlement_id))
  AS orphan_reversal
"""


def features_sql():
    """trailing_windows.sql, then household_features.sql with its divisions made exact (see
    exact_div): DuckDB's `/` on DECIMAL gives DOUBLE."""
    sql = FEATURES_SQL.read_text()
    exact = [
        ("m.baseline_income * (12 - m.feed_months) / 12 AS filled_income_12m",
         "exact_div(m.baseline_income * (12 - m.feed_months), 12) AS filled_income_12m"),
        ("CAST(t.income_12m / 12 AS DECIMAL(18, 2)) AS monthly_income",
         "CAST(exact_div(t.income_12m, 12) AS DECIMAL(18, 2)) AS monthly_income"),
        ("t.net_income_12m / t.members AS per_capita_income",
         "exact_div(t.net_income_12m, t.members) AS per_capita_income"),
        # A keyword in DuckDB (TRIM's TRAILING).
        ("trailing AS (", "measure AS ("),
        ("FROM trailing t", "FROM measure t"),
    ]
    for old, new in exact:
        if sql.count(old) != 1:
            sys.exit(f"{FEATURES_SQL} changed: adapt the exact divisions in {__file__}")
        sql = sql.replace(old, new)
    return WINDOWS_SQL.read_text().strip(), sql


def indicators():
    """Every indicator file, sorted by name, as fangpin's `--indicators` loads a directory."""
    found = sorted(INDICATORS_DIR.glob("*.sql"))
    if not found:
        sys.exit(f"no indicator in {INDICATORS_DIR}")
    return [(p.stem, p.read_text()) for p in found]


def run(world, threads, hits_out=None):
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # Raw tables must keep file order: rowid is the line's position, i.e. arrival order.
    con.execute("SET preserve_insertion_order = true")
    con.execute(MACROS)
    (windows, features), indicator_sql = features_sql(), indicators()
    present = {t: world / f"{t}.ndjson" for t in TOPICS if (world / f"{t}.ndjson").is_file()}
    if not present:
        sys.exit(f"{world} holds no contract topic file")

    stages = {}
    clock = started = time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        stages[stage] = round(now - clock, 3)
        clock = now

    for topic, fields in TOPICS.items():
        columns = "{" + ", ".join(f"'{f}': 'JSON'" for f in fields) + "}"
        if topic in present:
            # A line that is not a JSON object becomes a row of NULLs (ignore_errors), so
            # count(*) is the records read, and every check below rejects that row.
            source = (f"read_json({quote(present[topic])}, format = 'newline_delimited', columns = {columns}, "
                      "ignore_errors = true)")
        else:
            source = "(SELECT " + ", ".join(f"NULL::JSON AS {f}" for f in fields) + " WHERE false)"
        con.execute(f"CREATE TABLE {table(topic)} AS SELECT * FROM {source}")
    lap("load")
    con.execute(DECODE)
    # A record about a month after next month (China time) is rejected as lying in the future,
    # whatever its topic, as fangpin's pipeline does after decoding.
    china_now = datetime.now(timezone.utc) + timedelta(hours=8)
    next_month = china_now.year * 12 + china_now.month  # index of the month after this one
    con.execute(f"DELETE FROM roster_ok WHERE effective_month > {next_month}")
    for t in ["medical_ok", "employment_ok", "farm_ok", "assistance_ok", "disaster_ok", "school_ok",
              "prices_ok", "weather_ok", "outcomes_ok"]:
        con.execute(f"DELETE FROM {t} WHERE month_idx > {next_month}")
    lap("decode")
    con.execute(LEDGER.replace("$history", str(HISTORY_MONTHS)))
    lap("ledger")
    con.execute(HOUSEHOLD_MONTHS)
    lap("household_months")
    con.execute(f"CREATE TABLE params AS SELECT CAST('{POVERTY_LINE}' AS DECIMAL(18,2)) AS poverty_line")
    # Materialised once and shared by every indicator, as fangpin's engine does.
    con.execute(f"CREATE TABLE household_months AS {windows}")
    con.execute(f"CREATE TABLE household_features AS {features}")
    lap("features")
    hits = {}
    for code, sql in indicator_sql:
        # Materialised with the detail text, as fangpin collects its hits.
        con.execute(f'CREATE TABLE "hits_{code}" AS {sql.strip().rstrip(";")}')
        hits[code] = con.execute(f'SELECT count(*) FROM "hits_{code}"').fetchone()[0]
    lap("indicators")
    finished = clock

    records = sum(con.execute(f"SELECT count(*) FROM {table(t)}").fetchone()[0] for t in TOPICS)
    first, last = con.execute("SELECT first, last FROM win").fetchone()
    decode_rejected, unknown, orphans = con.execute(REJECTED).fetchone()
    households, rows = con.execute("SELECT count(DISTINCT household_code), count(*) FROM household_months").fetchone()
    if hits_out:
        every = " UNION ALL ".join(
            f"SELECT household_code, printf('%04d-%02d', month_idx // 12, month_idx % 12 + 1) AS month, "
            f"'{code}' AS indicator, detail FROM \"hits_{code}\"" for code, _ in indicator_sql)
        con.execute(f"COPY ({every} ORDER BY ALL) TO {quote(hits_out)} (FORMAT parquet)")
    seconds = finished - started
    month = lambda i: None if i is None else f"{i // 12:04d}-{i % 12 + 1:02d}"
    return {
        "duckdb": duckdb.__version__,
        "threads": int(con.execute("SELECT current_setting('threads')").fetchone()[0]),
        "world": str(world),
        "records": records,
        "rejected": decode_rejected + unknown + orphans,
        "rejected_detail": {"decode": decode_rejected, "unknown_household": unknown, "orphan_reversal": orphans},
        "households": households,
        "household_months": rows,
        "window": [month(first), month(last)],
        "stage_seconds": stages,
        "seconds": round(seconds, 3),
        "records_per_second": round(records / seconds, 1),
        "indicator_hits": hits,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", type=Path, help="directory of <topic>.ndjson contract files (e.g. demo-out/world)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, one per core)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--hits-out", metavar="FILE", help="also write every hit (household_code, month, "
                        "indicator, detail) to this Parquet file, after the clock stops")
    args = parser.parse_args()
    r = run(args.world, args.threads, args.hits_out)
    if args.json:
        print(json.dumps(r))
        return
    print(f"DuckDB {r['duckdb']} reference, {r['threads']} threads, {r['world']}")
    print(f"records read: {r['records']} in {r['seconds']:.1f} s ({r['records_per_second']:.0f} records/s)")
    print("time by stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["stage_seconds"].items()))
    d = r["rejected_detail"]
    print(f"rejected (fangpin would dead-letter): {r['rejected']} "
          f"(decode {d['decode']}, unknown household {d['unknown_household']}, orphan reversal {d['orphan_reversal']})")
    print(f"household_months: {r['household_months']} rows, {r['households']} households, "
          f"{r['window'][0]} to {r['window'][1]}, one batch")
    print("indicator hits:")
    for code, n in sorted(r["indicator_hits"].items()):
        print(f"  {code:<28} {n:>10}")


if __name__ == "__main__":
    main()
