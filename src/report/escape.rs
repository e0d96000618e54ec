//! Makes log-borne text safe for a terminal.
//!
//! A Host header or a path is whatever a scanner sent: `\x1b]0;pwned\x07` would retitle the
//! terminal, `\x1b[2J` clear it, U+202E reverse the text after it. Every string that reaches
//! the table output passes through [`for_terminal`]: C0 and C1 controls, DEL and the Unicode
//! bidirectional controls are shown as visible escapes instead.

use std::borrow::Cow;

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control and bidi characters written as `\x1b` / `\u{202e}`.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_sequences() {
        assert_eq!(for_terminal("\x1b]0;pwned\x07x"), "\\x1b]0;pwned\\x07x");
        assert_eq!(for_terminal("\x1b[2J"), "\\x1b[2J");
        assert_eq!(for_terminal("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(for_terminal("\u{9b}31m"), "\\x9b31m");
        assert_eq!(for_terminal("plain café"), "plain café");
        assert!(matches!(for_terminal("plain"), Cow::Borrowed(_)));
    }
}
