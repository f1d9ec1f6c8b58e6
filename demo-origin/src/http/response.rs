//! Writing one response, always closing the connection: a whole body with
//! `Content-Length`, or a streamed one (Server-Sent Events) in chunks.

use std::io::{self, Write};
use std::time::Duration;

/// A response to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When set, the body is sent in these parts instead of `body`, each
    /// after its pause, as HTTP/1.1 chunks flushed one by one.
    pub stream: Option<Vec<Part>>,
}

/// One piece of a streamed body, written `pause` after the previous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub pause: Duration,
    pub bytes: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            stream: None,
        }
    }

    /// A response whose body is sent in `parts` as they come (chunked).
    pub fn streamed(status: u16, content_type: &str, parts: Vec<Part>) -> Self {
        let mut r = Self::new(status, content_type, "");
        r.stream = Some(parts);
        r
    }

    /// A `303 See Other` to `location` (after a form POST, the browser GETs it).
    pub fn see_other(location: &str) -> Self {
        let mut r = Self::new(303, "text/plain; charset=utf-8", "");
        r.headers.push(("Location".into(), location.into()));
        r
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of the response header `name` (any case), first one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Writes `response`, with `Content-Length` (or, streamed, chunked, each part
/// flushed after its pause) and `Connection: close`; no body for HEAD.
pub fn write_response<W: Write>(out: &mut W, response: &Response, head: bool) -> io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(parts) = &response.stream {
        text.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        out.write_all(text.as_bytes())?;
        out.flush()?;
        if head {
            return Ok(());
        }
        for part in parts.iter().filter(|p| !p.bytes.is_empty()) {
            std::thread::sleep(part.pause);
            out.write_all(format!("{:x}\r\n", part.bytes.len()).as_bytes())?;
            out.write_all(&part.bytes)?;
            out.write_all(b"\r\n")?;
            out.flush()?;
        }
        out.write_all(b"0\r\n\r\n")?;
        return out.flush();
    }
    text.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    out.write_all(text.as_bytes())?;
    if !head {
        out.write_all(&response.body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_responses() {
        let mut out = Vec::new();
        let r = Response::see_other("/x").with("X-Session-Logout", "1");
        write_response(&mut out, &r, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 303 See Other\r\n"));
        assert!(text.contains("\r\nLocation: /x\r\n"));
        assert!(text.contains("\r\nX-Session-Logout: 1\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
        let mut out = Vec::new();
        write_response(&mut out, &Response::new(200, "text/plain", "hello"), true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 5\r\n") && text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn writes_streamed_responses_in_chunks() {
        let part = |text: &str| Part {
            pause: Duration::ZERO,
            bytes: text.as_bytes().to_vec(),
        };
        let r = Response::streamed(
            200,
            "text/event-stream",
            vec![part("data: a\n\n"), part(""), part("data: bc\n\n")],
        );
        let mut out = Vec::new();
        write_response(&mut out, &r, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(text.ends_with(
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             9\r\ndata: a\n\n\r\na\r\ndata: bc\n\n\r\n0\r\n\r\n"
        ));
        let mut out = Vec::new();
        write_response(&mut out, &r, true).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("chunked\r\nConnection: close\r\n\r\n"));
    }
}
