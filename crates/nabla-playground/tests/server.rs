//! The server under a hostile client, over real sockets: a client that sends half its
//! headers and stalls (slowloris), one that declares a body and never sends it, and more
//! connections than the cap. Each must be dropped or refused quickly while the server goes
//! on answering others. The deadlines are set short so that the tests are fast.

use nabla_playground::Limits;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Starts a server with `limits` on a free port, in a thread of its own.
fn start(limits: Limits) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        nabla_playground::run("127.0.0.1:0", limits, |addr| {
            tx.send(addr).unwrap();
        })
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the server starts")
}

/// Reads what the server sends until it closes the connection (or 10 s pass); returns it
/// and how long that took.
fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

/// A whole `GET /api/limits` on a new connection; returns the response.
fn get_limits(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /api/limits HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_until_closed(&mut s).0
}

fn short_deadlines() -> Limits {
    Limits {
        header_timeout_ms: 300,
        body_timeout_ms: 300,
        ..Limits::default()
    }
}

#[test]
fn a_client_that_stalls_in_its_headers_is_dropped_after_the_timeout() {
    let addr = start(short_deadlines());
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /api/limits HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let (got, took) = read_until_closed(&mut slow);
    assert!(
        took < Duration::from_secs(5),
        "held for {took:?}; got {got:?}"
    );
    assert!(!got.contains("200 OK"), "{got}");
    // An idle connection that never starts a request is closed the same way.
    let mut idle = TcpStream::connect(addr).unwrap();
    let (_, took) = read_until_closed(&mut idle);
    assert!(took < Duration::from_secs(5), "held for {took:?}");
    assert!(get_limits(addr).contains("200 OK"));
}

#[test]
fn a_client_that_stalls_in_its_body_gets_408() {
    let addr = start(short_deadlines());
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(
        b"POST /api/sessions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"dataset\"",
    )
    .unwrap();
    let (got, took) = read_until_closed(&mut slow);
    assert!(took < Duration::from_secs(5), "held for {took:?}");
    assert!(
        got.starts_with("HTTP/1.1 408") && got.contains("not received within 300 ms"),
        "{got}"
    );
    assert!(get_limits(addr).contains("200 OK"));
}

#[test]
fn connections_beyond_the_cap_get_503_at_once() {
    let addr = start(Limits {
        max_connections: 2,
        header_timeout_ms: 60_000,
        ..Limits::default()
    });
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // The server takes the first two (in accept order) before it sees the third.
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(addr).unwrap();
    let (got, took) = read_until_closed(&mut third);
    assert!(took < Duration::from_secs(5), "held for {took:?}");
    assert!(
        got.starts_with("HTTP/1.1 503") && got.contains("maximum of 2 connections"),
        "{got}"
    );
    drop(held);
    // Their slots come back once the server sees them closed.
    let started = Instant::now();
    while !get_limits(addr).contains("200 OK") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no slot came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
