//! The cadres' service (`cases/`), on SQLite and on PostgreSQL: tasks from the queues (one per
//! alert id, revised in place), area scoping through the API and the pages, outcomes published
//! in the contract's format, the identification procedure by role, CSRF, ID numbers refused in
//! notes, and the audit chain with a tampered row.
//!
//! PostgreSQL comes from Debian's `postgresql` package (`scripts/test.sh` installs it); the test
//! starts its own cluster on a loopback port and stops it. The browser test is in
//! `cases_browser.rs`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fangpin_cases::web::{self, Queues, Wiring};
use fangpin_cases::{audit, ingest, outbox::AppendDir, CasesConfig, Store};
use fangpin_connectors::topic::output;
use fangpin_connectors::{Decoder, DecoderConfig, Event, Pseudonymiser, Topic};
use fangpin_models::{Grade, Reason};
use fangpin_pipelines::alerts::{AlertStatus, GraderStamp};
use fangpin_pipelines::Alert;

pub use crate::support::free_port;
use serde_json::{json, Value};

/// Township A and B of Dawu, one village each.
pub const TOWNSHIP_A: &str = "420922101";
pub const TOWNSHIP_B: &str = "420922102";
pub const PASSWORD: &str = "correct horse battery";

/// An alert as the pipeline writes it.
pub fn alert(id: &str, household: &str, grade: Grade, codes: &[&str], supersedes: Option<&str>) -> Alert {
    Alert {
        alert_id: id.to_owned(),
        revision: 1,
        status: AlertStatus::Raised,
        changes: Vec::new(),
        moved_from: None,
        household_code: household.to_owned(),
        county_code: household[..6].to_owned(),
        township_code: household[..9].to_owned(),
        village_code: household[..12].to_owned(),
        category: "marginal".to_owned(),
        month: "2024-06".to_owned(),
        grade,
        score: match grade {
            Grade::High => 0.97,
            Grade::Medium => 0.7,
            Grade::Low => 0.4,
        },
        reasons: codes.iter().map(|c| Reason { code: (*c).to_owned(), text: format!("{c}：医疗自付 6 月 2000.00 元") }).collect(),
        grader: GraderStamp { name: "rules".to_owned(), version: "test".to_owned() },
        queue: fangpin_pipelines::alerts::queue_for(grade).to_owned(),
        detected_at: "2026-12-01T09:00:00+08:00".to_owned(),
        supersedes: supersedes.map(str::to_owned),
    }
}

/// Writes the two queue files as a pipeline run would (truncating).
pub fn write_queues(dir: &Path, alerts: &[Alert]) {
    std::fs::create_dir_all(dir).unwrap();
    for topic in [output::DOOR_VISIT, output::PHONE] {
        let lines: String = alerts
            .iter()
            .filter(|a| a.queue == topic)
            .map(|a| serde_json::to_string(a).unwrap() + "\n")
            .collect();
        std::fs::write(dir.join(format!("{topic}.ndjson")), lines).unwrap();
    }
}

/// Accounts: a township cadre in A and in B, a village cadre in A's village, Dawu county.
pub fn write_accounts(path: &Path) {
    let mut text = String::new();
    for (user, role, area) in [
        ("cadre-a", "township", TOWNSHIP_A),
        ("cadre-b", "township", TOWNSHIP_B),
        ("village-a", "village", "420922101201"),
        ("county", "county", "420922"),
    ] {
        text += &format!(
            "[[account]]\nusername = \"{user}\"\nname = \"{user}\"\nrole = \"{role}\"\narea = \"{area}\"\n\
             staff_number = \"S-{user}\"\npassword = \"{PASSWORD}\"\n\n"
        );
    }
    std::fs::write(path, text).unwrap();
}

/// The procedure's notice lasts 0 days here, so that one test can walk every step today.
pub fn test_config() -> CasesConfig {
    CasesConfig { notice_days: 0, poll_ms: 100, ..CasesConfig::default() }
}

/// A PostgreSQL cluster of its own on a loopback port, stopped when dropped.
pub struct Postgres {
    child: Child,
    _dir: tempfile::TempDir,
    pub url: String,
}

fn pg_bin(name: &str) -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
        .unwrap_or_else(|_| panic!("PostgreSQL is not installed: run scripts/test.sh, or apt-get install postgresql"))
        .map(|e| e.unwrap().path())
        .collect();
    versions.sort();
    versions.last().expect("a PostgreSQL version").join("bin").join(name)
}

/// Whether the tests run as root (CI does), whom PostgreSQL refuses to run as.
fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"))
}

/// Runs a PostgreSQL program as the `postgres` user when we are root.
fn as_postgres(program: PathBuf) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::Builder::new().prefix("fangpin-pg").tempdir().unwrap();
        let data = dir.path().join("data");
        if is_root() {
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(ok.success());
        }
        let out = as_postgres(pg_bin("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "fangpin", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let child = as_postgres(pg_bin("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Accepting connections is not yet ready for queries.
        std::thread::sleep(Duration::from_millis(500));
        Postgres { child, _dir: dir, url: format!("postgres://fangpin@127.0.0.1:{port}/postgres") }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGTERM: a smart shutdown, so the data directory is left clean.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// A running service: in process, on a loopback port, with its own runtime.
struct Service {
    runtime: tokio::runtime::Runtime,
    store: Store,
    base: String,
    outcomes: PathBuf,
    queues: PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Service {
    fn start(url: &str, dir: &Path) -> Service {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let store = runtime.block_on(Store::open(url)).unwrap();
        let accounts = dir.join("accounts.toml");
        write_accounts(&accounts);
        runtime.block_on(fangpin_cases::accounts::import(&store, &accounts)).unwrap();
        let (queues, outcomes) = (dir.join("queues"), dir.join("outcomes"));
        std::fs::create_dir_all(&queues).unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // The test reads the queues itself (`ingest`), so that it knows what each read did; the
        // background loop publishes the outcomes.
        let wiring = Wiring { queues: Queues::None, outcomes: Box::new(AppendDir::new(&outcomes).unwrap()) };
        let served = store.clone();
        runtime.spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            web::serve(listener, served, test_config(), wiring, shutdown).await.unwrap();
        });
        Service { runtime, store, base, outcomes, queues, _stop: stop }
    }

    /// Reads the queues now, as the background loop would.
    fn ingest(&self) -> ingest::Ingested {
        self.runtime.block_on(ingest::read_queues(&self.store, &self.queues, &test_config())).unwrap()
    }

    fn scalar(&self, sql: &str) -> i64 {
        self.runtime.block_on(fangpin_cases::sqlx::query_scalar::<_, i64>(sql).fetch_one(self.store.pool())).unwrap()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// An API session: the cookie and the CSRF token.
pub struct Session {
    cookie: String,
    csrf: String,
}

fn cookie_of(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
}

pub fn login(base: &str, user: &str) -> Session {
    let mut resp = agent().post(format!("{base}/api/login")).send_json(json!({"username": user, "password": PASSWORD})).unwrap();
    assert_eq!(resp.status().as_u16(), 200, "login as {user}");
    let cookie = cookie_of(&resp, "fangpin_session").expect("a session cookie");
    let body: Value = resp.body_mut().read_json().unwrap();
    Session { cookie, csrf: body["csrf_token"].as_str().unwrap().to_owned() }
}

pub fn get(base: &str, s: &Session, path: &str) -> (u16, String) {
    let mut resp = agent().get(format!("{base}{path}")).header("Cookie", &s.cookie).call().unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

pub fn post(base: &str, s: &Session, path: &str, body: Value) -> (u16, Value) {
    let mut resp = agent()
        .post(format!("{base}{path}"))
        .header("Cookie", &s.cookie)
        .header("X-CSRF-Token", &s.csrf)
        .send_json(body)
        .unwrap();
    (resp.status().as_u16(), resp.body_mut().read_json().unwrap_or(Value::Null))
}

/// Everything but the browser, against one database.
fn suite(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(url, dir.path());
    let base = svc.base.clone();
    let (ha, ha2, hb) = ("420922101201-0001", "420922101201-0002", "420922102201-0001");
    let mut alerts = vec![
        alert("aaaa0001-00000000-00000001", ha, Grade::High, &["health_two_months"], None),
        alert("aaaa0002-00000000-00000002", ha2, Grade::Medium, &["income_loss"], None),
        alert("bbbb0001-00000000-00000001", hb, Grade::High, &["below_line"], None),
    ];

    // Replaying the same queue (a new run rewrites the files) leaves one task per alert id.
    write_queues(&svc.queues, &alerts);
    let first = svc.ingest();
    assert_eq!((first.created, first.revised), (3, 0));
    write_queues(&svc.queues, &alerts);
    std::fs::write(svc.queues.join("verify.phone.ndjson"), "").unwrap();
    let shorter = svc.ingest(); // shorter files: read again from the start
    write_queues(&svc.queues, &alerts);
    let again = svc.ingest();
    assert_eq!(shorter.created + again.created, 0, "a replay created tasks again");
    assert_eq!(svc.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks"), 3);

    // A revised alert (same id, higher grade, a new reason) updates its task in place; a
    // superseding alert closes the task it replaces.
    alerts[1] = alert("aaaa0002-00000000-00000002", ha2, Grade::High, &["income_loss", "below_line"], None);
    alerts.push(alert("aaaa0003-00000000-00000003", ha, Grade::High, &["health_two_months", "below_line"], Some("aaaa0001-00000000-00000001")));
    write_queues(&svc.queues, &alerts);
    let revised = svc.ingest();
    assert_eq!((revised.created, revised.revised), (1, 1), "{revised:?}");
    assert_eq!(svc.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks"), 4);
    assert_eq!(svc.scalar("SELECT revision FROM tasks WHERE alert_id = 'aaaa0002-00000000-00000002'"), 2);
    assert_eq!(svc.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM task_revisions WHERE alert_id = 'aaaa0002-00000000-00000002'"), 2);
    // The older content arriving again (a replay from the start, or the other queue read late)
    // does not turn the task back.
    let older = [alert("aaaa0002-00000000-00000002", ha2, Grade::Medium, &["income_loss"], None)];
    std::fs::write(svc.queues.join("verify.door_visit.ndjson"), "").unwrap();
    write_queues(&svc.queues, &older);
    assert_eq!(svc.ingest().revised, 0);
    assert_eq!(svc.scalar("SELECT revision FROM tasks WHERE alert_id = 'aaaa0002-00000000-00000002'"), 2);
    write_queues(&svc.queues, &alerts);
    svc.ingest();

    // A withdrawal (the risk went away) closes the task as withdrawn; the raising revision read
    // again changes nothing; a later revision opens it again, and a second withdrawal closes it.
    let id = "bbbb0002-00000000-00000002";
    let status = || svc.scalar(&format!("SELECT CASE status WHEN 'open' THEN 1 WHEN 'withdrawn' THEN 2 ELSE 0 END FROM tasks WHERE alert_id = '{id}'"));
    let revision = |n: u32, status: AlertStatus| Alert {
        revision: n,
        status,
        reasons: if status == AlertStatus::Withdrawn { Vec::new() } else { alert(id, "420922102201-0002", Grade::Medium, &["income_loss"], None).reasons },
        changes: if status == AlertStatus::Withdrawn { vec!["withdrawn: no risk found any more".to_owned()] } else { Vec::new() },
        ..alert(id, "420922102201-0002", Grade::Medium, &["income_loss"], None)
    };
    let mut sent = vec![revision(1, AlertStatus::Raised)];
    for (next, expected) in [
        (revision(2, AlertStatus::Withdrawn), 2),
        (revision(1, AlertStatus::Raised), 2),
        (revision(3, AlertStatus::Revised), 1),
        (revision(4, AlertStatus::Withdrawn), 2),
    ] {
        sent.push(next);
        write_queues(&svc.queues, &[alerts.clone(), sent.clone()].concat());
        svc.ingest();
        assert_eq!(status(), expected, "after revision {} ({:?})", sent.last().unwrap().revision, sent.last().unwrap().status);
    }
    assert_eq!(svc.scalar(&format!("SELECT alert_revision FROM tasks WHERE alert_id = '{id}'")), 4);

    // Township A sees its own open tasks only: door visits first, the superseded one gone.
    let a = login(&base, "cadre-a");
    let (status, body) = get(&base, &a, "/api/tasks");
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = list["tasks"].as_array().unwrap().iter().map(|t| t["alert_id"].as_str().unwrap()).collect();
    assert_eq!((ids.len(), list["total"].as_i64()), (2, Some(2)), "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("aaaa")) && !ids.contains(&"aaaa0001-00000000-00000001"), "{ids:?}");
    let revised_task = list["tasks"].as_array().unwrap().iter().find(|t| t["alert_id"] == "aaaa0002-00000000-00000002").unwrap();
    assert_eq!((revised_task["grade"].as_str(), revised_task["method"].as_str()), (Some("high"), Some("door_visit")));

    // ... and gets 403 for township B's task through the API and through the page, logged.
    let denied_before = svc.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'access.denied'");
    assert_eq!(get(&base, &a, "/api/tasks/bbbb0001-00000000-00000001").0, 403);
    assert_eq!(get(&base, &a, "/tasks/bbbb0001-00000000-00000001").0, 403);
    let (status, _) = post(&base, &a, "/api/tasks/bbbb0001-00000000-00000001/outcome", json!({"outcome": "no_risk"}));
    assert_eq!(status, 403);
    let denied = svc.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'access.denied'");
    assert_eq!(denied - denied_before, 3, "each refused access is in the audit log");
    assert_eq!(get(&base, &a, "/tasks/aaaa0002-00000000-00000002").0, 200);

    // A session ends when it expires, and at logout.
    let account = svc.runtime.block_on(fangpin_cases::accounts::authenticate(&svc.store, "cadre-a", PASSWORD)).unwrap().unwrap();
    let (expired, _) = svc.runtime.block_on(fangpin_cases::accounts::start_session(&svc.store, &account, 0)).unwrap();
    let stale = Session { cookie: format!("fangpin_session={expired}"), csrf: String::new() };
    assert_eq!(get(&base, &stale, "/api/tasks").0, 401, "an expired session still works");
    assert_eq!(get(&base, &stale, "/tasks").0, 303, "a page without a session sends to the login");
    let short = login(&base, "cadre-a");
    assert_eq!(post(&base, &short, "/api/logout", json!({})).0, 200);
    assert_eq!(get(&base, &short, "/api/tasks").0, 401, "a session outlives its logout");
    assert!(svc.runtime.block_on(fangpin_cases::accounts::authenticate(&svc.store, "cadre-a", "wrong password")).unwrap().is_none());

    // A write without the session's CSRF token is refused; so is a note with an ID number.
    let mut forged = agent()
        .post(format!("{base}/api/tasks/aaaa0002-00000000-00000002/outcome"))
        .header("Cookie", &a.cookie)
        .send_json(json!({"outcome": "no_risk"}))
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403, "{}", forged.body_mut().read_to_string().unwrap());
    let id_note = json!({"outcome": "no_risk", "note": "户主身份证 ４２０９２２ １９８００１０１ １０２Ｘ"});
    assert_eq!(post(&base, &a, "/api/tasks/aaaa0002-00000000-00000002/outcome", id_note).0, 400);
    assert_eq!(svc.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE status = 'answered'"), 0);

    // The outcome: the task closes, a case opens, and the contract message is published.
    let (status, body) = post(
        &base,
        &a,
        "/api/tasks/aaaa0002-00000000-00000002/outcome",
        json!({"outcome": "confirmed_risk", "assistance": ["medical_assistance"], "note": "住院费用高，收入下降"}),
    );
    assert_eq!(status, 200, "{body}");
    let case_id = body["case_id"].as_str().expect("a confirmed risk opens a case").to_owned();
    let again = post(&base, &a, "/api/tasks/aaaa0002-00000000-00000002/outcome", json!({"outcome": "no_risk"}));
    assert_eq!(again.0, 400, "an answered task cannot be answered twice");
    let published = wait_for_lines(&svc.outcomes.join("verify.outcomes.ndjson"), 1);
    let message: Value = serde_json::from_str(&published[0]).unwrap();
    assert_eq!(message["alert_id"], "aaaa0002-00000000-00000002");
    assert_eq!(message["household_code"], ha2);
    assert_eq!(message["method"], "door_visit");
    assert_eq!(message["outcome"], "confirmed_risk");
    assert_eq!(message["verifier"], "S-cadre-a");
    // The pipeline's own decoder accepts it: it is a contract-valid verify.outcomes record.
    let decoder = Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"test key, sixteen bytes or more").unwrap());
    match decoder.decode(Topic::Outcomes, published[0].as_bytes()) {
        Ok(Event::Outcome(o)) => assert_eq!(o.alert_id, "aaaa0002-00000000-00000002"),
        other => panic!("the published outcome does not decode as verify.outcomes: {other:?}"),
    }

    // The procedure, each step by its role only.
    let village = login(&base, "village-a");
    let county = login(&base, "county");
    let b = login(&base, "cadre-b");
    let step = |s: &Session, action: &str| post(&base, s, &format!("/api/cases/{case_id}/step"), json!({"action": action, "note": "同意"}));
    assert_eq!(step(&county, "approve").0, 403, "the county cannot take the village review");
    assert_eq!(step(&b, "approve").0, 403, "another township cannot touch the case");
    assert_eq!(step(&village, "approve"), (200, json!({"step": "public_notice"})));
    assert_eq!(step(&village, "approve"), (200, json!({"step": "township_review"})));
    assert_eq!(step(&a, "approve"), (200, json!({"step": "county_approval"})));
    assert_eq!(step(&a, "approve").0, 403, "the township cannot approve for the county");
    assert_eq!(step(&county, "approve"), (200, json!({"step": "monitored"})));
    let (_, body) = get(&base, &county, &format!("/api/cases/{case_id}"));
    let detail: Value = serde_json::from_str(&body).unwrap();
    let actors: Vec<&str> = detail["steps"].as_array().unwrap().iter().map(|s| s["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, ["cadre-a", "village-a", "village-a", "cadre-a", "county"]);

    // A household that applied itself gets a case by hand; a malformed code is refused.
    let opened = post(&base, &a, "/api/cases", json!({"household_code": "420922101201-0042", "source": "self_application", "note": "12317 热线申报"}));
    assert_eq!(opened.0, 200, "{:?}", opened.1);
    assert_eq!(post(&base, &a, "/api/cases", json!({"household_code": "420922102201-0042", "source": "cadre_visit"})).0, 403);
    assert_eq!(post(&base, &a, "/api/cases", json!({"household_code": "4209221012010042", "source": "cadre_visit"})).0, 400);

    // A second answer of a high-grade alert, no risk: half of the high grade's answers confirm it.
    let (status, body) = post(&base, &a, "/api/tasks/aaaa0003-00000000-00000003/outcome", json!({"outcome": "no_risk"}));
    assert_eq!(status, 200, "{body}");

    // Metrics: open tasks by queue and township, cases by step, each grade's precision as the
    // answers verify it; no household codes.
    let mut resp = agent().get(format!("{base}/metrics")).call().unwrap();
    let metrics = resp.body_mut().read_to_string().unwrap();
    assert!(metrics.contains(r#"fangpin_cases_in_step{county="420922",step="monitored"} 1"#), "{metrics}");
    assert!(metrics.contains("fangpin_cases_open_tasks{age=\"0-1d\",county=\"420922\",queue=\"verify.door_visit\",township=\"420922102\"} 1"), "{metrics}");
    assert!(metrics.contains("fangpin_cases_time_to_verification_seconds_count{queue=\"verify.door_visit\"} 2"), "{metrics}");
    assert!(metrics.contains(r#"fangpin_cases_verified_answers{grade="high"} 2"#), "{metrics}");
    assert!(metrics.contains(r#"fangpin_cases_verified_precision{grade="high"} 0.5"#), "{metrics}");
    assert!(metrics.contains(r#"fangpin_cases_verified_answers{grade="medium"} 0"#), "{metrics}");
    assert!(!metrics.contains(r#"fangpin_cases_verified_precision{grade="medium"}"#), "a precision without answers: {metrics}");
    assert!(!metrics.contains("420922101201-"), "a household code in the metrics");

    // The audit chain holds; changing one row breaks it at that row, and the CLI says which.
    let report = svc.runtime.block_on(audit::verify(&svc.store)).unwrap();
    assert_eq!(report.broken, None);
    assert!(report.rows >= 15, "{report:?}");
    let target = svc.scalar("SELECT seq FROM audit_log WHERE action = 'task.answered' ORDER BY seq LIMIT 1");
    let tamper = format!("UPDATE audit_log SET detail = '{{\"outcome\":\"no_risk\"}}' WHERE seq = {target}");
    svc.runtime.block_on(fangpin_cases::sqlx::query(&tamper).execute(svc.store.pool())).unwrap();
    let report = svc.runtime.block_on(audit::verify(&svc.store)).unwrap();
    assert_eq!(report.broken.as_ref().map(|b| b.0), Some(target), "{report:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_fangpin")).args(["cases", "verify-audit", "--db", url]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains(&format!("broken at row {target}")), "{stderr}");
}

/// The file's lines once it has at least `n` (the publisher runs every 100 ms).
pub fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let lines: Vec<String> =
            std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{} has {} lines, expected {n}", path.display(), lines.len());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn cases_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&format!("sqlite://{}", dir.path().join("cases.db").display()));
}

#[test]
fn cases_on_postgres() {
    let pg = Postgres::start();
    suite(&pg.url);
}

#[test]
fn a_bad_accounts_file_is_refused_with_the_line_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.toml");
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let cases = [
        ("role = \"township\"\narea = \"4209221\"", "9-digit"),
        ("role = \"township\"\narea = \"420922101\"\nshoe = 1", "unknown field"),
        ("role = \"mayor\"\narea = \"420922101\"", "unknown variant"),
    ];
    for (fields, expected) in cases {
        let text = format!("[[account]]\nusername = \"x\"\nname = \"x\"\nstaff_number = \"1\"\npassword = \"{PASSWORD}\"\n{fields}\n");
        std::fs::write(&file, text).unwrap();
        let stderr = crate::errors::fails(&["cases", "accounts", "--db", &db, "--file", file.to_str().unwrap()]);
        assert!(stderr.contains(expected), "{fields}: {stderr}");
    }
}
