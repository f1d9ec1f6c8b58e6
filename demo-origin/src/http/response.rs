//! Writing one response, always closing the connection.

use std::io::{self, Write};

/// A response to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
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
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

/// Writes `response`, with `Content-Length` and `Connection: close`; no body
/// for HEAD.
pub fn write_response<W: Write>(out: &mut W, response: &Response, head: bool) -> io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
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
}
