//! Load test: many sessions training at once against a running `nabla playground`.
//!
//! ```sh
//! target/release/nabla playground --port 7870 & SERVER=$!
//! cargo run --release -p nabla-playground --example load_test -- \
//!     --url http://127.0.0.1:7870 --pid $SERVER --sessions 50 --seconds 20
//! kill $SERVER
//! ```
//!
//! Each client thread creates a session (by default spiral, all seven features, two hidden
//! layers of 8: the E2E test's network; `--config JSON` gives another), opens its event stream, presses play and counts the frames
//! it receives; after a warm-up, frames are counted for `--seconds`. Meanwhile the main
//! thread times `GET /api/limits` to show the server keeps answering. Prints frames per
//! second per session (min / median / max), the longest gap between two frames, the probe
//! latencies, and the CPU the server process used (from `/proc/PID/stat`, in percent of
//! one core). Only loopback addresses are accepted; every loop ends by itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// The session every client creates unless `--config` gives another (the E2E test's).
const SPIRAL: &str = r#"{"dataset":"spiral","features":["x1","x2","x1sq","x2sq","x1x2","sinx1","sinx2"],"hidden":[8,8]}"#;

struct Args {
    addr: String,
    pid: Option<u32>,
    sessions: usize,
    seconds: f64,
    warmup: f64,
    config: String,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        addr: "127.0.0.1:7860".into(),
        pid: None,
        sessions: 50,
        seconds: 20.0,
        warmup: 3.0,
        config: SPIRAL.to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--url" => {
                a.addr = value
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string()
            }
            "--pid" => a.pid = Some(num(&value)? as u32),
            "--sessions" => a.sessions = num(&value)? as usize,
            "--seconds" => a.seconds = num(&value)?,
            "--warmup" => a.warmup = num(&value)?,
            "--config" => a.config = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let host = a.addr.rsplit_once(':').map_or(a.addr.as_str(), |(h, _)| h);
    if !(host.starts_with("127.") || host == "localhost" || host == "[::1]") {
        return Err(format!(
            "{host}: the load test only targets loopback addresses"
        ));
    }
    if !(1..=500).contains(&a.sessions) || !(1.0..=600.0).contains(&a.seconds) {
        return Err("--sessions must be in 1..=500 and --seconds in 1..=600".into());
    }
    Ok(a)
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
fn request(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

/// CPU seconds (user + system) of process `pid`, from `/proc/PID/stat` (clock ticks of
/// 1/100 s, Linux's USER_HZ).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

struct ClientReport {
    frames: usize,
    bytes: usize,
    max_gap: Duration,
    error: Option<String>,
}

/// Creates a session, streams its frames while it plays, counts the frames that arrive in
/// the measurement window.
fn client(addr: &str, cfg: &str, start: &Barrier, window: (Duration, Duration)) -> ClientReport {
    let mut report = ClientReport {
        frames: 0,
        bytes: 0,
        max_gap: Duration::ZERO,
        error: None,
    };
    let result = (|| -> Result<(), String> {
        let (status, body) =
            request(addr, "POST", "/api/sessions", cfg).map_err(|e| e.to_string())?;
        if status != 201 {
            return Err(format!("create: {status} {body}"));
        }
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let id = v["id"].as_str().ok_or("no id")?.to_string();
        let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "GET /api/sessions/{id}/events HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        start.wait();
        let t0 = Instant::now();
        request(addr, "POST", &format!("/api/sessions/{id}/play"), "")
            .map_err(|e| e.to_string())?;
        let (from, to) = window;
        let needle = b"event: frame";
        let mut carry: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut last: Option<Instant> = None;
        while t0.elapsed() < to {
            let n = stream.read(&mut buf).map_err(|e| format!("stream: {e}"))?;
            if n == 0 {
                return Err("the stream ended".into());
            }
            carry.extend_from_slice(&buf[..n]);
            let mut found = 0;
            let mut pos = 0;
            while let Some(k) = carry[pos..].windows(needle.len()).position(|w| w == needle) {
                found += 1;
                pos += k + needle.len();
            }
            let keep = carry.len().saturating_sub(needle.len() - 1).max(pos);
            carry.drain(..keep);
            let now = Instant::now();
            if found > 0 && t0.elapsed() >= from {
                report.frames += found;
                report.bytes += n;
                if let Some(prev) = last {
                    report.max_gap = report.max_gap.max(now - prev);
                }
                last = Some(now);
            }
        }
        let _ = request(addr, "POST", &format!("/api/sessions/{id}/pause"), "");
        let _ = request(addr, "DELETE", &format!("/api/sessions/{id}"), "");
        Ok(())
    })();
    report.error = result.err();
    report
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let window = (
        Duration::from_secs_f64(args.warmup),
        Duration::from_secs_f64(args.warmup + args.seconds),
    );
    let barrier = Arc::new(Barrier::new(args.sessions + 1));
    let handles: Vec<_> = (0..args.sessions)
        .map(|_| {
            let (addr, barrier, cfg) = (args.addr.clone(), barrier.clone(), args.config.clone());
            std::thread::spawn(move || client(&addr, &cfg, &barrier, window))
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    let pid = args.pid.map(|p| p.to_string());
    let mut cpu_start = None;
    let mut latencies = Vec::new();
    let mut probe_errors = 0;
    while t0.elapsed() < window.1 {
        std::thread::sleep(Duration::from_millis(250));
        if cpu_start.is_none() && t0.elapsed() >= window.0 {
            cpu_start = pid
                .as_deref()
                .and_then(cpu_seconds)
                .map(|c| (c, Instant::now()));
        }
        let t = Instant::now();
        match request(&args.addr, "GET", "/api/limits", "") {
            Ok((200, _)) => latencies.push(t.elapsed().as_secs_f64() * 1e3),
            _ => probe_errors += 1,
        }
    }
    let cpu = match (cpu_start, pid.as_deref().and_then(cpu_seconds)) {
        (Some((c0, t)), Some(c1)) => Some((c1 - c0) / t.elapsed().as_secs_f64() * 100.0),
        _ => None,
    };
    let reports: Vec<ClientReport> = handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect();
    let mut fps: Vec<f64> = reports
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.frames as f64 / args.seconds)
        .collect();
    fps.sort_by(f64::total_cmp);
    let failed: Vec<&String> = reports.iter().filter_map(|r| r.error.as_ref()).collect();
    let max_gap = reports.iter().map(|r| r.max_gap).max().unwrap_or_default();
    let mb_per_s = reports.iter().map(|r| r.bytes).sum::<usize>() as f64 / args.seconds / 1e6;
    latencies.sort_by(f64::total_cmp);
    let pct = |v: &[f64], q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{} sessions, {:.0} s measured after {:.0} s warm-up",
        args.sessions, args.seconds, args.warmup
    );
    println!(
        "frames/s per session: min {:.1}  median {:.1}  max {:.1}   (total {:.0} frames/s, {mb_per_s:.1} MB/s of events)",
        pct(&fps, 0.0),
        pct(&fps, 0.5),
        pct(&fps, 1.0),
        fps.iter().sum::<f64>()
    );
    println!(
        "longest gap between two frames of a session: {:.0} ms",
        max_gap.as_secs_f64() * 1e3
    );
    println!(
        "GET /api/limits while loaded: median {:.1} ms, max {:.1} ms, {} failed of {}",
        pct(&latencies, 0.5),
        pct(&latencies, 1.0),
        probe_errors,
        latencies.len() + probe_errors
    );
    match cpu {
        Some(c) => println!("server CPU: {c:.0}% of one core"),
        None => println!("server CPU: not measured (pass --pid)"),
    }
    if let Some(me) = cpu_seconds("self") {
        println!("load-test client CPU, whole run: {me:.1} s");
    }
    println!("client errors: {}", failed.len());
    for e in failed.iter().take(5) {
        println!("  {e}");
    }
    if !failed.is_empty() || probe_errors > 0 {
        std::process::exit(1);
    }
}
