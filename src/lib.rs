//! reqtrail: follow every request through gunicorn + Django logs and say plainly what is wrong
//! with a deployment.
//!
//! Data flows one way: bytes ([`input`]) → envelope stripped ([`input::envelope`]) → parsed
//! event borrowing the line ([`parse`]) → requests and worker lifecycles ([`correlate`]) →
//! checks and findings ([`checks`]) → table, JSON, Markdown, HTML or ndjson ([`report`]).
//! [`read`] holds the ways of reading (line by line, merged, in chunks on every core,
//! following) that run the envelope, parse and correlate stages; [`run`] wires a run.
//! [`time`], below them all, holds instants and the timestamp grammar envelopes and lines share.

pub mod checks;
pub mod cli;
pub mod correlate;
pub mod error;
pub mod input;
pub mod parse;
pub mod read;
pub mod report;
pub mod run;
pub mod settings;
pub mod stats;
pub mod time;
