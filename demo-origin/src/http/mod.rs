//! Just enough HTTP/1.1 for a loopback demo server: one request per
//! connection, strict parsing, bounded sizes, `Content-Length` or chunked
//! request bodies, and a response writer that always closes.

mod request;
mod response;
mod text;

pub use request::{read_request, ParseError, Request, MAX_BODY, MAX_HEAD, MAX_HEADERS};
pub use response::{reason, write_response, Part, Response};
pub use text::{
    encode_component, encode_sub, html_escape, json_string, parse_urlencoded, percent_decode,
};
