//! The cadres' pages in a real browser: Debian's headless Chromium driven through ChromeDriver's
//! WebDriver protocol, against `fangpin cases serve` started as a new user would.
//!
//! A township cadre logs in, sees only the township's tasks, opens one, records a confirmed
//! risk; the outcome appears on `verify.outcomes`; the case goes through the village and
//! township steps (by the API), then the county logs in and approves it in the browser.
//! Screenshots are kept in `target/cases-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use fangpin_models::Grade;
use serde_json::{json, Value};

use crate::cases::{alert, free_port, wait_for_lines, write_accounts, write_queues, PASSWORD, TOWNSHIP_A};

/// Kills its process when dropped, passing or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A WebDriver session on ChromeDriver.
struct Browser {
    base: String,
    session: String,
    _driver: Running,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn start() -> Browser {
        for tool in ["chromedriver", "chromium"] {
            let found = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
            assert!(
                found.is_ok_and(|s| s.success()),
                "`{tool}` is not installed: run scripts/test.sh (it installs Debian's chromium and chromium-driver)"
            );
        }
        let port = free_port();
        let mut child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        wait_for_port(port, "chromedriver", &mut child);
        let profile = tempfile::tempdir().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=420,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let mut resp = agent().post(format!("{base}/session")).send_json(caps).expect("a WebDriver session");
        let body: Value = resp.body_mut().read_json().unwrap();
        let session = body["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {body}")).to_owned();
        Browser { base, session, _driver: Running(child), _profile: profile }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut resp = match method {
            "GET" => agent().get(&url).call(),
            _ => agent().post(&url).send_json(body.unwrap_or(json!({}))),
        }
        .unwrap();
        let value: Value = resp.body_mut().read_json().unwrap();
        assert!(value["value"].get("error").is_none(), "WebDriver {method} {path}: {value}");
        value["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let found = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found} on {}", self.source())).to_owned()
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.call("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        found.as_array().unwrap().iter().map(|e| e[ELEMENT].as_str().unwrap().to_owned()).collect()
    }

    fn attribute(&self, element: &str, name: &str) -> String {
        self.call("GET", &format!("/element/{element}/attribute/{name}"), None).as_str().unwrap_or("").to_owned()
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), None).as_str().unwrap_or("").to_owned()
    }

    /// Waits until the element exists with exactly this text (while a page loads, it may not).
    fn wait_for_text(&self, css: &str, expected: &str) {
        let started = Instant::now();
        loop {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let found: Value = agent()
                .post(&url)
                .send_json(json!({"using": "css selector", "value": css}))
                .ok()
                .and_then(|mut r| r.body_mut().read_json().ok())
                .unwrap_or(Value::Null);
            if let Some(e) = found["value"][ELEMENT].as_str() {
                let text: Value = agent()
                    .get(format!("{url}/{e}/text"))
                    .call()
                    .ok()
                    .and_then(|mut r| r.body_mut().read_json().ok())
                    .unwrap_or(Value::Null);
                if text["value"] == expected {
                    return;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{css} never read {expected:?}: {}", self.source());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), None);
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/value"), Some(json!({"text": text})));
    }

    fn source(&self) -> String {
        self.call("GET", "/source", None).as_str().unwrap_or("").to_owned()
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_owned()
    }

    /// Waits for the page to reach a URL containing `part` (a form post redirects after the
    /// click has returned).
    fn wait_for_url(&self, part: &str) -> String {
        let started = Instant::now();
        loop {
            let url = self.url();
            if url.contains(part) {
                return url;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "still on {url}, expected {part}: {}", self.source());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn screenshot(&self, path: &Path) {
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn login(&self, site: &str, user: &str) {
        self.go(&format!("{site}/login"));
        self.type_into("#username", user);
        self.type_into("#password", PASSWORD);
        self.click("#login");
        self.wait_for_url(if user == "county" { "/cases" } else { "/tasks" });
    }

    fn logout(&self) {
        self.click("header form button");
        self.wait_for_url("/login");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = agent().delete(format!("{}/session/{}", self.base, self.session)).call();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cases-screenshots")
}

/// The API, for the steps the browser does not take.
fn api_step(site: &str, user: &str, case_id: &str) -> Value {
    let mut resp = agent().post(format!("{site}/api/login")).send_json(json!({"username": user, "password": PASSWORD})).unwrap();
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let login: Value = resp.body_mut().read_json().unwrap();
    let mut resp = agent()
        .post(format!("{site}/api/cases/{case_id}/step"))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", login["csrf_token"].as_str().unwrap())
        .send_json(json!({"action": "approve", "note": "同意"}))
        .unwrap();
    resp.body_mut().read_json().unwrap()
}

#[test]
fn a_township_cadre_answers_a_task_and_the_county_approves_the_case_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (queues, outcomes) = (dir.path().join("queues"), dir.path().join("outcomes"));
    let ours = ["420922101201-0001", "420922101201-0002", "420922101202-0003"];
    let mut alerts: Vec<_> = ours
        .iter()
        .enumerate()
        .map(|(i, h)| alert(&format!("aaaa000{i}-00000000-0000000{i}"), h, if i == 1 { Grade::High } else { Grade::Medium }, &["health_two_months"], None))
        .collect();
    alerts.push(alert("bbbb0001-00000000-00000001", "420922102201-0001", Grade::High, &["below_line"], None));
    write_queues(&queues, &alerts);
    let db = format!("sqlite://{}", dir.path().join("cases.db").display());
    let config = dir.path().join("fangpin.toml");
    std::fs::write(&config, "[cases]\nnotice_days = 0\npoll_ms = 200\n").unwrap();
    let accounts = dir.path().join("accounts.toml");
    write_accounts(&accounts);
    let fangpin = env!("CARGO_BIN_EXE_fangpin");
    let ok = Command::new(fangpin).args(["cases", "accounts", "--db", &db, "--file"]).arg(&accounts).status().unwrap();
    assert!(ok.success());
    let areas = dir.path().join("areas.csv");
    std::fs::write(&areas, "420922101,城关镇\n420922101201,向阳村\n420922101202,红星村\n").unwrap();
    let ok = Command::new(fangpin).args(["cases", "areas", "--db", &db, "--file"]).arg(&areas).status().unwrap();
    assert!(ok.success());
    let port = free_port();
    let site = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(fangpin)
        .args(["cases", "serve", "--db", &db, "--addr", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&config)
        .arg("--queues")
        .arg(&queues)
        .arg("--outcomes")
        .arg(&outcomes)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "fangpin cases serve", &mut child);
    let _service = Running(child);
    let browser = Browser::start();

    // The township cadre sees the township's tasks, and only those, door visit first.
    browser.login(&site, "cadre-a");
    let started = Instant::now();
    let ids = loop {
        // The service reads the queues every 200 ms: wait for all three.
        browser.go(&format!("{site}/tasks"));
        let ids: Vec<String> = browser.find_all("a.task").iter().map(|e| browser.attribute(e, "data-alert-id")).collect();
        if ids.len() >= 3 || started.elapsed() > Duration::from_secs(20) {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("aaaa")), "another township's task is listed: {ids:?}");
    assert_eq!(ids[0], "aaaa0001-00000000-00000001", "the door visit comes first");
    assert!(browser.text("#me").contains("城关镇"));
    browser.screenshot(&screenshots().join("1-tasks.png"));

    // Township B's task is refused in the browser too.
    browser.go(&format!("{site}/tasks/bbbb0001-00000000-00000001"));
    assert!(browser.text("#error").contains("403"));

    // Open the door visit, read why, record a confirmed risk with a measure.
    browser.go(&format!("{site}/tasks"));
    browser.click("a.task");
    browser.wait_for_url("/tasks/aaaa0001-00000000-00000001");
    assert!(browser.text("#location").contains("大悟县 / 城关镇 / 向阳村"), "{}", browser.text("#location"));
    assert!(browser.text("#reasons").contains("医疗自付 6 月 2000.00 元"));
    browser.click("#outcome-confirmed_risk");
    browser.click("#measure-medical_assistance");
    browser.type_into("#note", "住院自付高，务工收入中断");
    browser.screenshot(&screenshots().join("2-task.png"));
    browser.click("#submit-outcome");
    let case_url = browser.wait_for_url("/cases/C");
    let case_id = case_url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(browser.text("#step"), "村级评议");

    // The outcome is on verify.outcomes, in the contract's format.
    let lines = wait_for_lines(&outcomes.join("verify.outcomes.ndjson"), 1);
    let message: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(message["alert_id"], "aaaa0001-00000000-00000001");
    assert_eq!(message["outcome"], "confirmed_risk");
    assert_eq!(message["assistance"], json!(["medical_assistance"]));
    assert_eq!(message["household_code"], TOWNSHIP_A.to_owned() + "201-0002");
    browser.logout();

    // Village review, notice and township review by their roles, then the county in the browser.
    assert_eq!(api_step(&site, "village-a", &case_id)["step"], "public_notice");
    assert_eq!(api_step(&site, "village-a", &case_id)["step"], "township_review");
    assert_eq!(api_step(&site, "cadre-a", &case_id)["step"], "county_approval");
    browser.login(&site, "county");
    assert!(browser.url().ends_with("/cases"), "a county account lands on its cases");
    browser.click(&format!("a.case[data-case-id=\"{case_id}\"]"));
    browser.wait_for_url(&case_id);
    assert_eq!(browser.text("#step"), "县级审定");
    browser.type_into("#step-note", "经审定纳入监测");
    browser.click("#approve");
    // The page reloads on the same URL: wait for the step's new name.
    browser.wait_for_text("#step", "纳入监测、落实帮扶");
    let steps = browser.text("#steps");
    assert!(steps.contains("经审定纳入监测") && steps.contains("county"), "{steps}");
    browser.screenshot(&screenshots().join("3-case.png"));

    // Everything the pages did is in an intact audit chain.
    let out = Command::new(fangpin).args(["cases", "verify-audit", "--db", &db]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
