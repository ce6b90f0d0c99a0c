-- The cadres' store. Portable between SQLite and PostgreSQL: TEXT, BIGINT and DOUBLE PRECISION
-- only, times as RFC 3339 text (and unix seconds where they are compared), no autoincrement
-- (sequences are taken as MAX + 1 inside the writing transaction).

-- Names of counties, townships and villages by GB/T 2260-style code (the civil-affairs area
-- register; the feeds carry codes only).
CREATE TABLE areas (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

-- One row per person. role: village | township | county | city; area_code: the area the role
-- covers (12, 9, 6 or 4 digits). Only the argon2 hash of the password is kept.
CREATE TABLE accounts (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    area_code TEXT NOT NULL,
    staff_number TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Browser sessions: only the SHA-256 of the cookie's token is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES accounts (username),
    csrf_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- One verification task per alert id. status: open | answered | superseded | withdrawn.
CREATE TABLE tasks (
    alert_id TEXT PRIMARY KEY,
    household_code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    township_code TEXT NOT NULL,
    village_code TEXT NOT NULL,
    category TEXT NOT NULL,
    risk_month TEXT NOT NULL,
    method TEXT NOT NULL,
    grade TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    reasons TEXT NOT NULL,
    grader TEXT NOT NULL,
    revision BIGINT NOT NULL,
    status TEXT NOT NULL,
    closed_reason TEXT,
    raised_at TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    due_date TEXT NOT NULL,
    supersedes TEXT,
    outcome TEXT,
    assistance TEXT,
    note TEXT,
    verifier TEXT,
    verified_at TEXT,
    verified_unix BIGINT
);
CREATE INDEX tasks_by_township ON tasks (township_code, status);
CREATE INDEX tasks_by_household ON tasks (household_code);

-- Every content the alert id carried, in order: what changed between revisions.
CREATE TABLE task_revisions (
    alert_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    grade TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    reasons TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (alert_id, revision)
);

-- Identification cases. source: screening | cadre_visit | self_application.
CREATE TABLE cases (
    case_id TEXT PRIMARY KEY,
    household_code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    township_code TEXT NOT NULL,
    village_code TEXT NOT NULL,
    category TEXT NOT NULL,
    source TEXT NOT NULL,
    alert_id TEXT,
    step TEXT NOT NULL,
    step_started TEXT NOT NULL,
    step_due TEXT NOT NULL,
    identification_due TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    measures TEXT NOT NULL
);
CREATE INDEX cases_by_township ON cases (township_code, step);

-- Who did what to a case, when, with which note.
CREATE TABLE case_steps (
    case_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    step TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- Append-only, hash-chained: hash = SHA-256 of the previous hash and this row's fields.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- Outcome messages for verify.outcomes, written in the same transaction as the outcome and
-- published afterwards (at least once).
CREATE TABLE outbox (
    seq BIGINT PRIMARY KEY,
    topic TEXT NOT NULL,
    msg_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    published BIGINT NOT NULL
);

-- How far each queue file has been read (bytes), and the hash of the bytes just before that
-- point, to notice a file rewritten by a new run.
CREATE TABLE queue_positions (
    source TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    tail_hash TEXT NOT NULL
);
