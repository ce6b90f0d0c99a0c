//! The `/metrics` endpoint: Prometheus' text format over plain HTTP.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use super::Metrics;
use crate::error::PipelineError;

/// Serves `/metrics` on `addr` from a background thread for as long as the process runs.
/// Returns the bound address (useful with port 0) and the thread.
pub fn serve(metrics: Metrics, addr: SocketAddr) -> Result<(SocketAddr, JoinHandle<()>), PipelineError> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| PipelineError::Config(format!("cannot serve metrics on {addr}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| PipelineError::Internal("metrics server bound to a non-IP address".into()))?;
    let handle = std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let response = if request.url() == "/metrics" {
                let header = tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4")
                    .expect("static header is valid");
                tiny_http::Response::from_string(metrics.render()).with_header(header)
            } else {
                tiny_http::Response::from_string("not found; try /metrics").with_status_code(404)
            };
            // A client that hung up is not our problem; keep serving the others.
            let _ = request.respond(response);
        }
    });
    Ok((bound, handle))
}
