//! `/metrics` over real HTTP: the counters a run moves are there, and no label carries a
//! household code or an ID number.

use std::io::{Read, Write};
use std::net::TcpStream;

use fangpin_connectors::Topic;
use fangpin_pipelines::metrics::{names, serve};
use regex::Regex;
use serde_json::json;

use crate::support::{id_card, pipeline, record, MemorySink};

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("metrics server accepts");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
async fn metrics_are_served_and_carry_no_personal_data() {
    let mut p = pipeline();
    let (addr, _thread) = serve(p.metrics().clone(), "127.0.0.1:0".parse().unwrap()).expect("serve");
    let household = "420921101201-0007";
    let roster = json!({"household_code": household, "category": "marginal", "members": 3, "labor_count": 2,
        "head_age": 50, "disabled_members": 0, "chronic_patients": 0, "industries": [],
        "baseline_income": "24000.00", "insured": true, "effective_date": "2024-01-01"});
    let id = id_card("19800202", 3);
    let bill = json!({"settlement_id": "S1", "status": "settled", "household_code": household, "id_card": id,
        "settle_time": "2024-06-10T09:00:00+08:00", "visit_type": "inpatient", "total_cost": "40000.00",
        "fund_paid": "24000.00", "critical_illness_paid": "0.00", "assistance_paid": "0.00", "out_of_pocket": "16000.00"});
    let mut sink = MemorySink::default();
    let records = vec![
        record(Topic::Roster, 1, roster),
        record(Topic::Medical, 1, bill),
        fangpin_connectors::SourceRecord {
            topic: Topic::Medical,
            source: std::sync::Arc::from("test"),
            position: fangpin_connectors::Position::Line(2),
            payload: b"{not json".to_vec(),
        },
    ];
    let alerts = p.process(records, &mut sink).await.unwrap();
    assert!(!alerts.is_empty(), "a 16,000 yuan bill against 24,000 of income must raise an alert");

    let response = get(addr, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    for expected in [
        format!("{}{{outcome=\"applied\",topic=\"dept.medical.settlements\"}} 1", names::RECORDS_IN),
        format!("{}{{outcome=\"dead_letter\",topic=\"dept.medical.settlements\"}} 1", names::RECORDS_IN),
        format!("{}{{reason=\"malformed_json\",topic=\"dept.medical.settlements\"}} 1", names::DEAD_LETTERS),
        format!("{}{{county=\"420921\",grade=\"high\",queue=\"verify.door_visit\"}} 1", names::ALERTS),
        format!("{}_count{{stage=\"sql\"}} 1", names::BATCH_DURATION),
    ] {
        assert!(response.contains(&expected), "missing {expected:?} in\n{response}");
    }
    assert!(!response.contains(household) && !response.contains(&id[..17]));
    let household_like = Regex::new(r"[0-9]{12}-[0-9]{4}").unwrap();
    assert!(!household_like.is_match(&response), "a household code in the metrics");
    assert!(get(addr, "/other").starts_with("HTTP/1.1 404"));
}
