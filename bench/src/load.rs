//! A bounded HTTP/1.1 load loop on loopback: N keep-alive connections, each
//! sending GET / back to back for a fixed time.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Successful requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
    /// Requests that failed or answered non-200.
    pub errors: u64,
}

/// Warms up for a second, then loads `addr` with `connections` for `duration`.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    let _ = measure(addr, connections, Duration::from_secs(1)).await?;
    measure(addr, connections, duration).await
}

async fn measure(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::spawn(connection(addr, deadline)));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, err) = t.await.context("load task")??;
        latencies.extend(lat);
        errors += err;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i.min(latencies.len() - 1)]
    };
    Ok(Report {
        rps: latencies.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
    })
}

async fn connection(addr: SocketAddr, deadline: Instant) -> anyhow::Result<(Vec<u64>, u64)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let req = http::Request::get("/")
            .header(http::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())?;
        let t = Instant::now();
        match sender.send_request(req).await {
            Ok(resp) => {
                let ok = resp.status() == 200;
                let body = resp.into_body().collect().await;
                if ok && body.is_ok() {
                    latencies.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    Ok((latencies, errors))
}
