//! `demo-origin`: listens on 127.0.0.1 only (port from `DEMO_ORIGIN_PORT`,
//! default 8788) and serves the site in `DEMO_WWW` (default: the repository's
//! `www/`); with `ORIGIN_SECRET` it signs its handshakes. One thread per connection, one request per connection.
#![forbid(unsafe_code)]

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use demo_origin::app::{Demo, Identity, DEMO_USERS};
use demo_origin::http::{read_request, write_response, Response};

/// Connections served at once; more wait in the listen backlog's stead.
const MAX_CONNECTIONS: usize = 64;

fn main() {
    let port = match std::env::var("DEMO_ORIGIN_PORT") {
        Ok(p) => match p.parse::<u16>() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("demo-origin: DEMO_ORIGIN_PORT must be a port number, not {p:?}");
                std::process::exit(2);
            }
        },
        Err(_) => 8788,
    };
    let www = std::env::var_os("DEMO_WWW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../www")));
    let www = std::fs::canonicalize(&www).unwrap_or(www);
    if !www.join("index.html").is_file() {
        eprintln!(
            "demo-origin: {} has no index.html (set DEMO_WWW)",
            www.display()
        );
        std::process::exit(2);
    }
    // Loopback only: identity headers are trusted because only the gate,
    // on this machine, can reach this port.
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-origin: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!(
        "demo-origin: listening on http://{addr} (serving {})",
        www.display()
    );
    println!("demo-origin: demo users (user / password):");
    for u in DEMO_USERS {
        let roles = if u.roles.is_empty() {
            String::new()
        } else {
            format!("  roles: {}", u.roles.join(","))
        };
        println!("  {:<6} / {}{roles}", u.name, u.password);
    }
    // The gate's ORIGIN_SECRET: with it the demo signs its handshakes, as
    // the gate requires by default whenever ORIGIN_SECRET is set.
    let secret = std::env::var("ORIGIN_SECRET").ok();
    println!(
        "demo-origin: handshakes {}",
        if secret.as_deref().is_some_and(|s| !s.is_empty()) {
            "signed with ORIGIN_SECRET (X-Session-Handshake)"
        } else {
            "unsigned (no ORIGIN_SECRET)"
        }
    );
    let demo = Arc::new(Demo::new(www).with_origin_secret(secret));
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            continue;
        }
        let (demo, active) = (Arc::clone(&demo), Arc::clone(&active));
        std::thread::spawn(move || {
            serve(&demo, stream);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn serve(demo: &Demo, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    match read_request(&mut reader) {
        Ok(req) => {
            let response = demo.handle(&req);
            // The path only: query strings may carry anything.
            let who = Identity::from_request(&req)
                .map(|w| w.user)
                .unwrap_or_else(|| "-".into());
            println!(
                "demo-origin: {} {} {} {who}",
                req.method, req.path, response.status
            );
            let _ = write_response(&mut out, &response, req.method == "HEAD");
        }
        Err(e) => {
            if let Some(status) = e.status() {
                let response = Response::new(status, "text/plain; charset=utf-8", format!("{e}\n"));
                let _ = write_response(&mut out, &response, false);
            }
        }
    }
    let _ = out.flush();
}
