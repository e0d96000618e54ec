//! reqtrail: follow every request through gunicorn + Django logs and say plainly what is wrong
//! with a deployment.
//!
//! Data flows one way: bytes ([`input`]) → envelope stripped ([`input::envelope`]) → parsed
//! event borrowing the line ([`parse`]) → requests and worker lifecycles ([`correlate`]) →
//! checks and findings ([`checks`]) → table or JSON ([`report`]). [`app`] wires them;
//! [`chunked`] runs the envelope and parse stages of one input on every core, in order.

pub mod app;
pub mod checks;
pub mod chunked;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod error;
pub mod input;
pub mod parse;
pub mod report;
pub mod stats;
