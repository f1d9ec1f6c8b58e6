//! Reading one request: strict parsing, bounded sizes, `Content-Length` or
//! chunked bodies.

use std::fmt;
use std::io::{self, BufRead, Read};

use super::text::parse_urlencoded;

/// Largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted, in bytes (demo forms are tiny).
pub const MAX_BODY: usize = 64 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 100;

/// A parsed request. Header names are lowercase; values are trimmed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path as sent (the gate forwards a normalised one), without query.
    pub path: String,
    /// The raw query string without `?` (empty when absent).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the header `name` (lowercase) when it appears exactly once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        match values.next() {
            Some(_) => None,
            None => first,
        }
    }

    /// The first query parameter named `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_urlencoded(&self.query)?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub fn form(&self) -> Option<Vec<(String, String)>> {
        let content_type = self.header("content-type").unwrap_or_default();
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return None;
        }
        parse_urlencoded(std::str::from_utf8(&self.body).ok()?)
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ParseError {
    /// The peer closed the connection before sending a request.
    Closed,
    /// Not HTTP/1.x as this server reads it.
    Malformed(&'static str),
    /// The head is larger than [`MAX_HEAD`] or has too many headers.
    HeadTooLarge,
    /// The body is larger than [`MAX_BODY`].
    BodyTooLarge,
    /// A transfer coding other than `chunked`.
    Unsupported(&'static str),
    /// The socket failed (including read timeouts).
    Io(io::Error),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed"),
            Self::Malformed(why) => write!(f, "malformed request: {why}"),
            Self::HeadTooLarge => f.write_str("request head too large"),
            Self::BodyTooLarge => f.write_str("request body too large"),
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
            Self::Io(e) => write!(f, "i/o: {e}"),
        }
    }
}

impl ParseError {
    /// The status to answer with, or `None` when no answer can be sent.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Closed | Self::Io(_) => None,
            Self::Malformed(_) => Some(400),
            Self::HeadTooLarge => Some(431),
            Self::BodyTooLarge => Some(413),
            Self::Unsupported(_) => Some(501),
        }
    }
}

impl From<io::Error> for ParseError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads one line ending in LF (CRLF or bare LF), without the terminator,
/// charging its length to `budget`. `Ok(None)` at end of input.
fn read_line<R: BufRead>(
    reader: &mut R,
    budget: &mut usize,
    too_large: fn() -> ParseError,
) -> Result<Option<Vec<u8>>, ParseError> {
    let mut line = Vec::new();
    let limit = (*budget as u64).saturating_add(1);
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget {
        return Err(too_large());
    }
    *budget -= n;
    if line.pop() != Some(b'\n') {
        return Err(ParseError::Malformed("unterminated line"));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Reads one request from `reader`.
pub fn read_request<R: BufRead>(reader: &mut R) -> Result<Request, ParseError> {
    let mut budget = MAX_HEAD;
    let head_too_large = || ParseError::HeadTooLarge;
    // A client may send an empty line before the request line (RFC 9112 2.2).
    let mut line = match read_line(reader, &mut budget, head_too_large)? {
        None => return Err(ParseError::Closed),
        Some(l) => l,
    };
    if line.is_empty() {
        line = read_line(reader, &mut budget, head_too_large)?.ok_or(ParseError::Closed)?;
    }
    let line = std::str::from_utf8(&line).map_err(|_| ParseError::Malformed("request line"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Malformed("request line"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(ParseError::Malformed("method"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(ParseError::Malformed("version"));
    }
    if !target.starts_with('/') || !target.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(ParseError::Malformed("request target"));
    }
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget, head_too_large)?
            .ok_or(ParseError::Malformed("headers end early"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ParseError::HeadTooLarge);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(ParseError::Malformed("obsolete line folding"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::Malformed("header without a colon"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(ParseError::Malformed("header name"));
        }
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(ParseError::Malformed("control character in a header value"));
        }
        let value =
            std::str::from_utf8(value).map_err(|_| ParseError::Malformed("header value"))?;
        headers.push((
            String::from_utf8_lossy(name).to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_owned(),
        ));
    }

    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
    };
    request.body = read_body(reader, &request)?;
    Ok(request)
}

fn read_body<R: BufRead>(reader: &mut R, request: &Request) -> Result<Vec<u8>, ParseError> {
    let all = |name: &str| -> Vec<&str> {
        request
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let transfer = all("transfer-encoding");
    let length = all("content-length");
    if !transfer.is_empty() {
        // Both framings at once is how requests get smuggled: refuse it.
        if !length.is_empty() {
            return Err(ParseError::Malformed(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        if transfer.len() != 1 || !transfer[0].eq_ignore_ascii_case("chunked") {
            return Err(ParseError::Unsupported("transfer coding"));
        }
        return read_chunked(reader);
    }
    let n = match length.as_slice() {
        [] => return Ok(Vec::new()),
        [one] if !one.is_empty() && one.bytes().all(|b| b.is_ascii_digit()) => {
            one.parse::<usize>().map_err(|_| ParseError::BodyTooLarge)?
        }
        _ => return Err(ParseError::Malformed("Content-Length")),
    };
    if n > MAX_BODY {
        return Err(ParseError::BodyTooLarge);
    }
    let mut body = vec![0; n];
    reader.read_exact(&mut body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => ParseError::Malformed("body shorter than Content-Length"),
        _ => ParseError::Io(e),
    })?;
    Ok(body)
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, ParseError> {
    let mut body = Vec::new();
    // Chunk-size lines and trailers share one small budget.
    let mut budget = MAX_HEAD;
    let too_large = || ParseError::HeadTooLarge;
    loop {
        let line = read_line(reader, &mut budget, too_large)?
            .ok_or(ParseError::Malformed("chunked body ends early"))?;
        let size = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = std::str::from_utf8(size)
            .ok()
            .map(|s| s.trim_matches([' ', '\t']))
            .filter(|s| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or(ParseError::Malformed("chunk size"))?;
        if size == 0 {
            // Trailers, ignored, up to the empty line.
            loop {
                let trailer = read_line(reader, &mut budget, too_large)?
                    .ok_or(ParseError::Malformed("chunked body ends early"))?;
                if trailer.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(ParseError::BodyTooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|_| ParseError::Malformed("chunk shorter than its size"))?;
        let end = read_line(reader, &mut budget, too_large)?;
        if end.as_deref() != Some(&[][..]) {
            return Err(ParseError::Malformed("chunk not followed by CRLF"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Request, ParseError> {
        read_request(&mut raw.as_bytes())
    }

    #[test]
    fn reads_a_form_post() {
        let body = "username=alice&password=p%40ss+word";
        let raw = format!(
            "POST /login?next=%2Fadmin%3Fx%3D1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n\
             Content-Length: {}\r\nX-Session-User:  jos%C3%A9 \r\n\r\n{body}",
            body.len()
        );
        let req = parse(&raw).unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/login");
        assert_eq!(req.query, "next=%2Fadmin%3Fx%3D1");
        assert_eq!(req.query_param("next").as_deref(), Some("/admin?x=1"));
        assert_eq!(req.header("x-session-user"), Some("jos%C3%A9"));
        assert_eq!(req.header("host"), Some("127.0.0.1"));
        let form = req.form().unwrap();
        assert_eq!(
            form,
            vec![
                ("username".to_owned(), "alice".to_owned()),
                ("password".to_owned(), "p@ss word".to_owned())
            ]
        );
    }

    #[test]
    fn reads_a_get_without_body_and_bare_lf() {
        let req = parse("\r\nGET /assets/site.css HTTP/1.0\nAccept: */*\n\n").unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/assets/site.css");
        assert_eq!(req.query, "");
        assert!(req.body.is_empty());
        assert_eq!(req.query_param("next"), None);
    }

    #[test]
    fn reads_a_chunked_body() {
        let raw = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                   4;ext=1\r\nuser\r\n6\r\n=alice\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(parse(raw).unwrap().body, b"user=alice");
        let bad = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(matches!(
            parse(bad),
            Err(ParseError::Malformed("chunk size"))
        ));
        let short = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc";
        assert!(matches!(parse(short), Err(ParseError::Malformed(_))));
    }

    #[test]
    fn a_repeated_header_has_no_single_value() {
        let req =
            parse("GET / HTTP/1.1\r\nX-Session-User: a\r\nx-session-user: b\r\n\r\n").unwrap();
        assert_eq!(req.header("x-session-user"), None);
    }

    #[test]
    fn refuses_malformed_requests() {
        let cases: &[(&str, &str)] = &[
            ("GET /\r\n\r\n", "request line"),
            ("GET  / HTTP/1.1\r\n\r\n", "request line"),
            ("GET / HTTP/2\r\n\r\n", "version"),
            ("GET http://x/ HTTP/1.1\r\n\r\n", "request target"),
            ("G(T / HTTP/1.1\r\n\r\n", "method"),
            (
                "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                "header without a colon",
            ),
            ("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "header name"),
            (
                "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n",
                "obsolete line folding",
            ),
            (
                "GET / HTTP/1.1\r\nA: x\x01y\r\n\r\n",
                "control character in a header value",
            ),
            ("GET / HTTP/1.1\r\nA: 1\r\n", "headers end early"),
            (
                "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                "Content-Length",
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                "Content-Length",
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc",
                "body shorter than Content-Length",
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                "both Transfer-Encoding and Content-Length",
            ),
        ];
        for (raw, why) in cases {
            match parse(raw) {
                Err(ParseError::Malformed(w)) => assert_eq!(&w, why, "{raw:?}"),
                other => panic!("{raw:?}: {other:?}"),
            }
        }
        assert!(matches!(parse(""), Err(ParseError::Closed)));
        assert!(matches!(
            parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Err(ParseError::Unsupported(_))
        ));
    }

    #[test]
    fn bounds_sizes() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(parse(&long), Err(ParseError::HeadTooLarge)));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(parse(&many), Err(ParseError::HeadTooLarge)));
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(parse(&big), Err(ParseError::BodyTooLarge)));
        let huge = "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert!(matches!(parse(huge), Err(ParseError::BodyTooLarge)));
        assert_eq!(ParseError::BodyTooLarge.status(), Some(413));
        assert_eq!(ParseError::Closed.status(), None);
    }

    #[test]
    fn forms_need_the_form_content_type() {
        let raw = "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\na=b";
        assert_eq!(parse(raw).unwrap().form(), None);
    }
}
