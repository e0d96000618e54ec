//! gunicorn's word that a client left before its answer was written: after a request whose
//! client closed the connection first, the worker's write fails and gunicorn logs, at DEBUG, on
//! the worker's pid (every version from 19 on, byte for byte):
//! - sync.py's `handle` (and base_async.py's, gevent and eventlet): `Ignoring EPIPE` for EPIPE,
//!   `Ignoring connection reset` for ECONNRESET;
//! - gthread.py's `handle`: `Ignoring connection epipe` for EPIPE, `Ignoring connection reset`
//!   for ECONNRESET.
//!
//! The request's end lines (Django's RESPONSE, gunicorn's access line) are already written by
//! then, so without this line it reads as answered.
//!
//! Kept apart from `gunicorn.rs` (the lifecycle templates): this one line is about a request,
//! and the correlator hands it to the request records.

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::character::complete::space0;
use nom::combinator::eof;
use nom::Parser;

use super::atoms::PResult;

/// `Ignoring EPIPE`, `Ignoring connection epipe` or `Ignoring connection reset` (the whole
/// message; trailing blanks allowed).
pub fn ignoring_client_gone(i: &[u8]) -> PResult<'_, ()> {
    let words = alt((
        tag(&b"Ignoring EPIPE"[..]),
        tag(&b"Ignoring connection epipe"[..]),
        tag(&b"Ignoring connection reset"[..]),
    ));
    let (i, _) = (words, space0, eof).parse(i)?;
    Ok((i, ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epipe() {
        // [2021-03-24 07:50:55 +0000] [9] [DEBUG] Ignoring EPIPE
        assert_eq!(ignoring_client_gone(b"Ignoring EPIPE"), Ok((&b""[..], ())));
        assert_eq!(ignoring_client_gone(b"Ignoring EPIPE "), Ok((&b""[..], ())));
        assert!(ignoring_client_gone(b"Ignoring EPIPE in uncaughtException").is_err());
        // gthread.py's wording for the same EPIPE.
        assert_eq!(
            ignoring_client_gone(b"Ignoring connection epipe"),
            Ok((&b""[..], ()))
        );
    }

    #[test]
    fn connection_reset() {
        // [2026-12-04 10:22:21 +0000] [6277] [DEBUG] Ignoring connection reset
        assert_eq!(
            ignoring_client_gone(b"Ignoring connection reset"),
            Ok((&b""[..], ()))
        );
        assert_eq!(
            ignoring_client_gone(b"Ignoring connection reset  "),
            Ok((&b""[..], ()))
        );
        assert!(ignoring_client_gone(b"Ignoring connection reset by peer").is_err());
        // ENOTCONN's line is not read as a client that left.
        assert!(ignoring_client_gone(b"Ignoring socket not connected").is_err());
    }
}
