//! gunicorn's word that a client left before its answer was written: after a request whose
//! client closed the connection first, the worker's write fails with EPIPE and gunicorn logs,
//! at DEBUG, `Ignoring EPIPE` on the worker's pid (sync.py's and gthread.py's `handle`, every
//! version from 19 on). The request's end lines (Django's RESPONSE, gunicorn's access line)
//! are already written by then, so without this line it reads as answered.
//!
//! Kept apart from `gunicorn.rs` (the lifecycle templates): this one line is about a request,
//! and the correlator hands it to the request records.

use nom::bytes::complete::tag;
use nom::character::complete::space0;
use nom::combinator::eof;
use nom::Parser;

use super::atoms::PResult;

/// `Ignoring EPIPE` (the whole message; trailing blanks allowed).
pub fn ignoring_epipe(i: &[u8]) -> PResult<'_, ()> {
    let (i, _) = (tag(&b"Ignoring EPIPE"[..]), space0, eof).parse(i)?;
    Ok((i, ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epipe() {
        // [2021-03-24 07:50:55 +0000] [9] [DEBUG] Ignoring EPIPE
        assert_eq!(ignoring_epipe(b"Ignoring EPIPE"), Ok((&b""[..], ())));
        assert_eq!(ignoring_epipe(b"Ignoring EPIPE "), Ok((&b""[..], ())));
        assert!(ignoring_epipe(b"Ignoring EPIPE in uncaughtException").is_err());
        assert!(ignoring_epipe(b"Ignoring connection reset").is_err());
    }
}
