//! The demo origin behind session-gate: a small loopback HTTP server that
//! serves `www/`, checks demo passwords and answers with the origin
//! handshake headers (`X-Session-Login`, `X-Session-Logout`,
//! `X-Session-Revoke-User`, ...). It never sees the signing key or the
//! session cookie: it trusts identity only from the gate's `X-Session-*`
//! request headers.
#![forbid(unsafe_code)]

pub mod app;
pub mod http;
