//! The one error type: what went wrong, and with which input.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum Error {
    /// Reading an input failed; `path` is as the user gave it (`-` for stdin).
    Io { path: String, source: io::Error },
    /// An input is a directory.
    IsDirectory { path: String },
    /// Writing the report failed (a closed pipe is not reported as an error).
    Output(io::Error),
    /// `--metrics-listen`'s address could not be listened on.
    Listen { addr: String, source: io::Error },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "cannot read {path}: {source}"),
            Error::IsDirectory { path } => write!(f, "cannot read {path}: it is a directory"),
            Error::Output(e) => write!(f, "cannot write the report: {e}"),
            Error::Listen { addr, source } => write!(f, "cannot serve metrics on {addr}: {source}"),
        }
    }
}

impl std::error::Error for Error {}
