//! The loopback origin of the end-to-end benchmark (`make bench`): a small,
//! fast HTTP/1.1 server on 127.0.0.1 that answers every request with the
//! same 200 JSON body and keeps connections alive. Standard library only, a
//! thread per connection, so it costs the load test as little CPU as
//! possible and never becomes the bottleneck of the workers it stands behind.
//!
//! ```text
//! cargo run --release --example bench_origin -- PORT
//! ```
//!
//! Prints `listening <port>` once ready (PORT 0 picks a free port).
//! `GET /__stats` answers `{"requests":N,"identified":M}`: how many requests
//! arrived, and how many of them carried `x-session-user` (the gate's and
//! the peer's identity header), so the benchmark can check that exactly the
//! valid requests reached the origin.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const BODY: &str = "{\"origin\":true,\"ok\":\"hello from the benchmark origin\"}";

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    identified: AtomicU64,
}

fn serve(stream: TcpStream, stats: &Stats) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut length = 0usize;
        let mut identified = false;
        let mut close = false;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("x-session-user") {
                identified = true;
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        if length > 0 {
            std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink())?;
        }
        let body = if target == "/__stats" {
            format!(
                "{{\"requests\":{},\"identified\":{}}}",
                stats.requests.load(Ordering::Relaxed),
                stats.identified.load(Ordering::Relaxed)
            )
        } else {
            stats.requests.fetch_add(1, Ordering::Relaxed);
            if identified {
                stats.identified.fetch_add(1, Ordering::Relaxed);
            }
            BODY.to_owned()
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        writer.write_all(response.as_bytes())?;
        if close {
            return Ok(());
        }
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening {}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    let stats = Arc::new(Stats::default());
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let stats = Arc::clone(&stats);
        std::thread::spawn(move || {
            let _ = serve(stream, &stats);
        });
    }
    Ok(())
}
