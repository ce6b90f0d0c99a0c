//! Metrics, dashboards and alert rules against the real Prometheus: every panel query of every
//! dashboard is evaluated by a Prometheus server scraping a running fangpin, the alert rules
//! pass `promtool`, and the dashboards name only metrics fangpin registers.
//!
//! Prometheus and promtool come from Debian's `prometheus` package (`scripts/test.sh` installs
//! it); without them these tests fail rather than skip.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fangpin_cases::metrics::{names as cases_names, CasesMetrics};
use fangpin_claims::metrics::{names as claims_names, ClaimsMetrics};
use fangpin_pipelines::metrics::names;
use fangpin_pipelines::Metrics;

use crate::support::free_port;
use regex::Regex;
use serde_json::Value;

/// How the test evaluates Grafana's variables: every county, windows that cover the run.
const VARIABLES: [(&str, &str); 4] =
    [("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "1h"), ("$county", ".*")];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every dashboard JSON file, parsed, with its file name.
fn dashboards() -> Vec<(String, Value)> {
    let dir = repo().join("dashboards");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("dashboards/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            found.push((path.file_name().unwrap().to_string_lossy().into_owned(), json));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.len() >= 5, "expected the overview, pipeline, model, cases and claims dashboards, found {}", found.len());
    found
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// (dashboard file, panel title, expression) of every query target.
fn panel_queries() -> Vec<(String, String, String)> {
    let mut queries = Vec::new();
    for (file, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{file}: a target without expr in {}", p["title"]));
                queries.push((file.clone(), p["title"].as_str().unwrap_or("").to_owned(), expr.to_owned()));
            }
        }
    }
    queries
}

/// The expression with Grafana's variables replaced as [`VARIABLES`] says.
fn substitute(expr: &str) -> String {
    let mut out = expr.to_owned();
    for (var, value) in VARIABLES {
        out = out.replace(var, value);
    }
    assert!(!out.contains('$'), "a variable the test does not know in {expr:?}");
    out
}

/// Metric names an expression or rule file uses, histogram series mapped to their family.
fn metric_names(text: &str) -> BTreeSet<String> {
    let name = Regex::new(r"fangpin_[a-z_]+").unwrap();
    let known = known_metrics();
    name.find_iter(text)
        .map(|m| {
            let n = m.as_str();
            let family = ["_bucket", "_count", "_sum"].iter().find_map(|s| n.strip_suffix(s)).filter(|f| known.contains(*f));
            family.unwrap_or(n).to_owned()
        })
        .collect()
}

/// Every metric fangpin serves: the pipeline's (with the insurance side's) and the cadres' service's.
fn known_metrics() -> BTreeSet<String> {
    names::ALL.iter().chain(cases_names::ALL.iter()).chain(claims_names::ALL.iter()).map(|s| s.to_string()).collect()
}

#[test]
fn the_insurance_side_names_its_metrics_in_one_place_with_public_labels() {
    let metrics = ClaimsMetrics::register(&Metrics::new().registry);
    let registered: BTreeSet<String> = metrics.descriptors().iter().map(|d| d.fq_name.clone()).collect();
    assert_eq!(registered, claims_names::ALL.iter().map(|s| s.to_string()).collect(), "claims metrics::names::ALL and the registry differ");
    let allowed: BTreeSet<&str> = claims_names::LABELS.iter().copied().collect();
    for d in metrics.descriptors() {
        assert!(!d.help.is_empty(), "{} has no help text", d.fq_name);
        assert!(d.fq_name.starts_with("fangpin_claims_"), "{}", d.fq_name);
        let unit = ["_total", "_seconds", "_ratio", "_months", "_yuan"].iter().any(|s| d.fq_name.ends_with(s));
        assert!(unit, "{}: a counter ends in _total, anything else in its unit", d.fq_name);
        for label in &d.variable_labels {
            assert!(allowed.contains(label.as_str()), "{} has label {label}, not in claims metrics::names::LABELS", d.fq_name);
        }
    }
    for forbidden in ["household", "household_code", "id_card", "person", "insured_unit", "claim_id"] {
        assert!(!allowed.contains(forbidden), "{forbidden} must never be a label");
    }
}

#[test]
fn the_cadres_service_names_its_metrics_in_one_place_with_public_labels() {
    let metrics = CasesMetrics::new();
    let registered: BTreeSet<String> = metrics.descriptors().iter().map(|d| d.fq_name.clone()).collect();
    assert_eq!(registered, cases_names::ALL.iter().map(|s| s.to_string()).collect(), "cases metrics::names::ALL and the registry differ");
    let allowed: BTreeSet<&str> = cases_names::LABELS.iter().copied().collect();
    for d in metrics.descriptors() {
        assert!(!d.help.is_empty(), "{} has no help text", d.fq_name);
        assert!(d.fq_name.starts_with("fangpin_cases_"), "{}", d.fq_name);
        for label in &d.variable_labels {
            assert!(allowed.contains(label.as_str()), "{} has label {label}, not in cases metrics::names::LABELS", d.fq_name);
        }
    }
    for forbidden in ["household", "household_code", "id_card", "person", "village", "username", "alert_id"] {
        assert!(!allowed.contains(forbidden), "{forbidden} must never be a label");
    }
}

#[test]
fn every_metric_is_named_in_one_place_and_labels_are_public_codes() {
    let metrics = Metrics::new();
    let registered: Vec<&str> = metrics.descriptors().iter().map(|d| d.fq_name.as_str()).collect();
    let unique: BTreeSet<&str> = registered.iter().copied().collect();
    assert_eq!(unique.len(), registered.len(), "a family registered twice: {registered:?}");
    assert_eq!(unique, names::ALL.iter().copied().collect(), "metrics::names::ALL and the registry differ");
    let allowed: BTreeSet<&str> = names::LABELS.iter().copied().collect();
    for d in metrics.descriptors() {
        assert!(!d.help.is_empty() && d.help != "fangpin metric.", "{} has no help text", d.fq_name);
        for label in &d.variable_labels {
            assert!(allowed.contains(label.as_str()), "{} has label {label}, not in metrics::names::LABELS", d.fq_name);
        }
        let counter = d.fq_name.ends_with("_total");
        let unit = ["_seconds", "_bytes", "_records", "_households", "_info", "_alerts", "_score"]
            .iter()
            .any(|s| d.fq_name.ends_with(s));
        assert!(counter || unit, "{}: a counter ends in _total, anything else in its unit or kind", d.fq_name);
    }
    for forbidden in ["household", "household_code", "id_card", "person", "village"] {
        assert!(!allowed.contains(forbidden), "{forbidden} must never be a label");
    }
}

#[test]
fn dashboards_use_registered_metrics_and_the_datasource_variable() {
    let known = known_metrics();
    let datasource = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    let mut titles = Vec::new();
    for (file, d) in dashboards() {
        titles.push(d["title"].as_str().unwrap_or("").to_owned());
        assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()), "{file}: no uid");
        assert!(d["schemaVersion"].as_i64().is_some_and(|v| v >= 36), "{file}: schemaVersion");
        let vars = d["templating"]["list"].as_array().unwrap_or_else(|| panic!("{file}: no templating"));
        let ds = vars.iter().find(|v| v["name"] == "datasource").unwrap_or_else(|| panic!("{file}: no datasource variable"));
        assert_eq!((ds["type"].as_str(), ds["query"].as_str()), (Some("datasource"), Some("prometheus")), "{file}");
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("");
            assert!(!title.is_empty(), "{file}: a panel without a title");
            assert!(ids.insert(p["id"].as_i64().expect("panel id")), "{file}: panel id {} twice", p["id"]);
            assert!(p["gridPos"]["w"].as_i64().is_some(), "{file}: {title} has no gridPos");
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(p["datasource"], datasource, "{file}: {title} must use the datasource variable");
            let targets = p["targets"].as_array().filter(|t| !t.is_empty());
            for t in targets.unwrap_or_else(|| panic!("{file}: {title} has no query")) {
                assert_eq!(t["datasource"], datasource, "{file}: {title}");
                let expr = t["expr"].as_str().unwrap();
                let used = metric_names(expr);
                assert!(!used.is_empty(), "{file}: {title} queries no fangpin metric: {expr}");
                let unknown: Vec<_> = used.difference(&known).collect();
                assert!(unknown.is_empty(), "{file}: {title} uses unregistered metrics {unknown:?}");
            }
        }
    }
    assert!(titles.iter().any(|t| t == "监测中心总览"), "the monitoring-centre overview is missing: {titles:?}");
    // The alert rules are held to the same standard.
    let rules = std::fs::read_to_string(repo().join("dashboards/alerts.rules.yml")).unwrap();
    let unknown: Vec<_> = metric_names(&rules).difference(&known).cloned().collect();
    assert!(unknown.is_empty(), "alert rules use unregistered metrics {unknown:?}");
}

/// Runs a Prometheus tool, failing with the way to install it when it is missing.
fn tool(name: &str) -> Command {
    let found = Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "`{name}` is not installed: run scripts/test.sh (it installs Debian's `prometheus` package), \
         or `apt-get install prometheus`"
    );
    Command::new(name)
}

fn run_ok(mut command: Command) -> String {
    let out = command.output().expect("the command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{command:?} failed:\n{text}");
    text
}

#[test]
fn alert_rules_pass_promtool_and_fire_in_its_unit_tests() {
    let dir = repo().join("dashboards");
    let mut check = tool("promtool");
    check.current_dir(&dir).args(["check", "rules", "alerts.rules.yml"]);
    let checked = run_ok(check);
    assert!(checked.contains("SUCCESS: 4 rules found"), "{checked}");
    let mut test = tool("promtool");
    test.current_dir(&dir).args(["test", "rules", "alerts.test.yml"]);
    assert!(run_ok(test).contains("SUCCESS"));
    let mut config = tool("promtool");
    config.current_dir(&dir).args(["check", "config", "prometheus.example.yml"]);
    run_ok(config);
}

/// Kills the processes it holds when the test ends, passing or not.
struct Processes(Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Processes {
    /// Fails the test if a process has exited (its log tells why).
    fn assert_running(&mut self, logs: &Path) {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default();
                panic!("{name} exited early ({status}):\n{log}");
            }
        }
    }
}

/// `GET path` over HTTP/1.0 (so no chunked encoding): status code and body.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query through Prometheus' HTTP API: the response's `data`, or why it failed.
fn query(prometheus: SocketAddr, expr: &str) -> Result<Value, String> {
    let (status, body) = http_get(prometheus, &format!("/api/v1/query?query={}", encode(expr))).ok_or("no response")?;
    let json: Value = serde_json::from_str(&body).map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
    if json["status"] != "success" {
        return Err(format!("HTTP {status}: {} {}", json["errorType"], json["error"]));
    }
    Ok(json["data"].clone())
}

/// Whether a query's result holds at least one finite number.
fn has_finite_value(data: &Value) -> bool {
    let value = |v: &Value| v[1].as_str().and_then(|s| s.parse::<f64>().ok()).is_some_and(f64::is_finite);
    match data["resultType"].as_str() {
        Some("vector") => data["result"].as_array().is_some_and(|r| r.iter().any(|s| value(&s["value"]))),
        Some("scalar") => value(&data["result"]),
        _ => false,
    }
}

/// Polls `ready` every 250 ms until it holds or `limit` passes.
fn wait_for(what: &str, limit: Duration, processes: &mut Processes, logs: &Path, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        processes.assert_running(logs);
        assert!(start.elapsed() < limit, "gave up after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn spawn(name: &'static str, mut command: Command, logs: &Path) -> (&'static str, Child) {
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    (name, child)
}

#[test]
fn prometheus_scrapes_a_replay_and_every_panel_query_returns_data() {
    let started = Instant::now();
    let prometheus_cmd = tool("prometheus");
    let tmp = tempfile::tempdir().unwrap();
    let (world, out, logs) = (tmp.path().join("world"), tmp.path().join("out"), tmp.path().to_owned());
    let status = Command::new(env!("CARGO_BIN_EXE_fangpin"))
        .args(["simulate", "--households", "2000", "--seed", "11", "--out"])
        .arg(&world)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "fangpin simulate failed");

    // Prometheus first, so that it scrapes the replay while it runs (rates need two samples).
    let fangpin_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cases_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let prometheus_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let rules: PathBuf = repo().join("dashboards/alerts.rules.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
         scrape_configs:\n  - job_name: fangpin\n    static_configs:\n      - targets: ['{fangpin_addr}']\n  \
         - job_name: fangpin-cases\n    static_configs:\n      - targets: ['{cases_addr}']\n",
        rules.display()
    );
    std::fs::write(tmp.path().join("prometheus.yml"), config).unwrap();
    let mut command = prometheus_cmd;
    command.arg(format!("--config.file={}", tmp.path().join("prometheus.yml").display()));
    command.arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()));
    command.arg(format!("--web.listen-address={prometheus_addr}"));
    let mut processes = Processes(vec![spawn("prometheus", command, &logs)]);
    wait_for("Prometheus to be ready", Duration::from_secs(60), &mut processes, &logs, || {
        http_get(prometheus_addr, "/-/ready").is_some_and(|(s, _)| s == 200)
    });

    // Small batches, paced: the replay spans many scrapes (unpaced, it ended within one).
    let mut command = Command::new(env!("CARGO_BIN_EXE_fangpin"));
    command.args(["run", "--batch-size", "500", "--rate", "10000", "--linger", "600", "--metrics-addr", &fangpin_addr.to_string()]);
    command.arg("--from-dir").arg(&world).arg("--out").arg(&out);
    command.env("FANGPIN_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff");
    processes.0.push(spawn("fangpin", command, &logs));
    wait_for("fangpin_records_in_total in Prometheus", Duration::from_secs(60), &mut processes, &logs, || {
        query(prometheus_addr, "fangpin_records_in_total").is_ok_and(|d| has_finite_value(&d))
    });
    let finished = || std::fs::read_to_string(logs.join("fangpin.log")).unwrap_or_default().contains("run finished");
    wait_for("the replay to finish", Duration::from_secs(300), &mut processes, &logs, finished);
    // The final values (no lag left) scraped.
    wait_for("a scrape after the replay", Duration::from_secs(30), &mut processes, &logs, || {
        query(prometheus_addr, "sum(fangpin_consumer_lag_bytes) == 0").is_ok_and(|d| has_finite_value(&d))
    });
    let replayed = started.elapsed();

    // The cadres' service on the replay's queues; once Prometheus has scraped it, a cadre
    // answers a task, so that the outcome and time-to-verification panels have a change to show.
    let db = format!("sqlite://{}", tmp.path().join("cases.db").display());
    let accounts = tmp.path().join("accounts.toml");
    let door_visits = std::fs::read_to_string(out.join("verify.door_visit.ndjson")).unwrap();
    let first: Value = serde_json::from_str(door_visits.lines().next().expect("the replay raised door visits")).unwrap();
    let township = first["township_code"].as_str().unwrap();
    std::fs::write(
        &accounts,
        format!("[[account]]\nusername = \"t\"\nname = \"t\"\nrole = \"township\"\narea = \"{township}\"\nstaff_number = \"T1\"\npassword = \"{}\"\n", crate::cases::PASSWORD),
    )
    .unwrap();
    let fangpin = env!("CARGO_BIN_EXE_fangpin");
    run_ok({
        let mut c = Command::new(fangpin);
        c.args(["cases", "accounts", "--db", &db, "--file"]).arg(&accounts);
        c
    });
    let mut command = Command::new(fangpin);
    command.args(["cases", "serve", "--db", &db, "--addr", &cases_addr.to_string(), "--queues"]).arg(&out);
    command.arg("--outcomes").arg(tmp.path().join("outcomes"));
    processes.0.push(spawn("fangpin-cases", command, &logs));
    wait_for("the cadres' service in Prometheus", Duration::from_secs(60), &mut processes, &logs, || {
        query(prometheus_addr, "sum(fangpin_cases_open_tasks)").is_ok_and(|d| has_finite_value(&d))
    });
    let session = crate::cases::login(&format!("http://{cases_addr}"), "t");
    let (_, open) = crate::cases::get(&format!("http://{cases_addr}"), &session, "/api/tasks");
    let open: Value = serde_json::from_str(&open).unwrap();
    let alert_id = open["tasks"][0]["alert_id"].as_str().expect("an open task in the township");
    let (status, body) = crate::cases::post(
        &format!("http://{cases_addr}"),
        &session,
        &format!("/api/tasks/{alert_id}/outcome"),
        serde_json::json!({"outcome": "confirmed_risk", "assistance": ["temporary_assistance"]}),
    );
    assert_eq!(status, 200, "{body}");

    // Every panel query of every dashboard parses and returns a number. Rates and quantiles
    // need samples on both sides of a change: retry each for a few seconds before judging.
    let mut failures = Vec::new();
    for (file, title, expr) in panel_queries() {
        let promql = substitute(&expr);
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = loop {
            let result = query(prometheus_addr, &promql);
            match &result {
                Ok(data) if has_finite_value(data) => break Ok(()),
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(500)),
                Ok(data) => break Err(format!("no data: {data}")),
                Err(e) => break Err(e.clone()),
            }
        };
        if let Err(why) = outcome {
            failures.push(format!("{file} / {title}: {promql}\n    {why}"));
        }
    }
    assert!(failures.is_empty(), "{} panel queries failed:\n{}", failures.len(), failures.join("\n"));

    // The county variable offers every county fangpin reports.
    let (_, body) = http_get(prometheus_addr, "/api/v1/label/county/values").unwrap();
    let counties: Value = serde_json::from_str(&body).unwrap();
    let overview = dashboards().into_iter().find(|(_, d)| d["title"] == "监测中心总览").unwrap().1;
    let variable = overview["templating"]["list"].as_array().unwrap().iter().find(|v| v["name"] == "county").cloned();
    let options = variable.expect("the overview has a county variable")["query"].as_str().unwrap().to_owned();
    let reported: Vec<&str> = counties["data"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(reported.len() >= 7, "counties reported: {reported:?}");
    for county in reported.iter().filter(|c| **c != "unknown") {
        assert!(options.contains(county), "county {county} missing from the overview's variable");
    }

    // The alert rules load and evaluate in a live server.
    let (_, body) = http_get(prometheus_addr, "/api/v1/rules").unwrap();
    let rules: Value = serde_json::from_str(&body).unwrap();
    let loaded: Vec<&Value> = rules["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()).collect();
    assert_eq!(loaded.len(), 4, "{body}");
    wait_for("every rule to be evaluated", Duration::from_secs(10), &mut processes, &logs, || {
        let (_, body) = http_get(prometheus_addr, "/api/v1/rules").unwrap();
        let rules: Value = serde_json::from_str(&body).unwrap();
        let groups = rules["data"]["groups"].as_array().cloned().unwrap_or_default();
        groups.iter().flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default()).all(|r| r["health"] == "ok")
    });

    assert_no_personal_data_in_labels(prometheus_addr, &[fangpin_addr, cases_addr]);
    eprintln!("replay scraped in {:.1} s, whole test {:.1} s", replayed.as_secs_f64(), started.elapsed().as_secs_f64());
}

/// Every label of every fangpin series, in Prometheus and in the raw scrape, is an allowed
/// label with a value that is neither a household code nor an ID number.
fn assert_no_personal_data_in_labels(prometheus: SocketAddr, scraped: &[SocketAddr]) {
    let household = Regex::new(r"[0-9]{12}-[0-9]{4}").unwrap();
    let id_number = Regex::new(r"[0-9]{15}").unwrap();
    let mut allowed: BTreeSet<&str> =
        names::LABELS.iter().chain(cases_names::LABELS.iter()).chain(claims_names::LABELS.iter()).copied().collect();
    allowed.extend(["__name__", "instance", "job", "le"]);
    let matcher = encode(r#"{__name__=~"fangpin_.+"}"#);
    let (_, body) = http_get(prometheus, &format!("/api/v1/series?match[]={matcher}")).unwrap();
    let series: Value = serde_json::from_str(&body).unwrap();
    let series = series["data"].as_array().unwrap();
    assert!(series.len() > 100, "too few series to judge: {}", series.len());
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in series {
        for (label, value) in s.as_object().unwrap() {
            assert!(allowed.contains(label.as_str()), "label {label} on {}", s["__name__"]);
            values.entry(label.clone()).or_default().insert(value.as_str().unwrap().to_owned());
        }
    }
    for (label, vs) in &values {
        for v in vs {
            assert!(!household.is_match(v) && !id_number.is_match(v), "{label}={v} looks like personal data");
        }
    }
    // In the raw scrape, only the label sets: a sample value may have 15 digits after its point.
    for target in scraped {
        let (status, scrape) = http_get(*target, "/metrics").unwrap();
        assert_eq!(status, 200);
        for labels in Regex::new(r"\{[^}]*\}").unwrap().find_iter(&scrape) {
            let labels = labels.as_str();
            assert!(!household.is_match(labels) && !id_number.is_match(labels), "personal data in {target}/metrics: {labels}");
        }
    }
}
