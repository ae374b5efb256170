//! `nabla playground` as a user starts it: it prints its URL and serves the page there; a
//! port in use is a clear error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

/// A plain HTTP/1.1 GET; returns the whole response as text.
fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("the server accepts connections");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn playground_prints_its_url_and_serves_the_page() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["playground", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the nabla binary runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "binds loopback by default: {line}"
    );
    let page = get(&addr, "/");
    let limits = get(&addr, "/api/limits");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("nabla playground"));
    assert!(limits.contains("\"max_sessions\":100"), "{limits}");
}

#[test]
fn a_port_in_use_is_an_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["playground", "--port", &port])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("serving the playground on 127.0.0.1:{port}")),
        "{err}"
    );
}
