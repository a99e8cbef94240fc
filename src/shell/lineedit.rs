//! The shell's line discipline: what a terminal in canonical mode gives you.
//! Bytes come in one at a time; the editor answers with what to echo and,
//! on Enter, the finished line. Pure and host-tested.
//!
//! Backspace/DEL erase a character (all the bytes of a UTF-8 one), Ctrl-U
//! the line, Ctrl-C cancels it, CR, LF or CR LF end it, ANSI escape sequences
//! (arrow keys) are swallowed, TAB is a word separator (kept as a space).
//! A line longer than `N - 1` bytes is refused whole at Enter, never cut or
//! overflowed; so is a line that is not valid UTF-8, naming the bad bytes.

#![forbid(unsafe_code)]

#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Nothing to do.
    None,
    /// Echo these bytes to the terminal.
    Echo(&'a [u8]),
    /// A complete line (without the newline); echo a newline first.
    Line(&'a str),
    /// The line was cancelled with Ctrl-C.
    Cancelled,
    /// Enter on a line that was too long; it is discarded.
    TooLong,
    /// Enter on a line that is not UTF-8; it is discarded.
    BadUtf8(BadUtf8),
}

/// Where a line stopped being UTF-8, and the bytes that are not (at most 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadUtf8 {
    /// Byte offset in the line (0-based).
    pub at: usize,
    bytes: [u8; 4],
    len: usize,
}

impl BadUtf8 {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl core::fmt::Display for BadUtf8 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid UTF-8 at byte {}:", self.at)?;
        for b in self.bytes() {
            write!(f, " {:#04x}", b)?;
        }
        f.write_str("; line ignored")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Esc,
    Csi,
}

pub struct LineEditor<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
    last_cr: bool,
    escape: Escape,
    echo: [u8; 3],
}

const BS: u8 = 0x08;
const DEL: u8 = 0x7f;
const CTRL_C: u8 = 0x03;
const CTRL_U: u8 = 0x15;
const ESC: u8 = 0x1b;
const TAB: u8 = b'\t';

impl<const N: usize> LineEditor<N> {
    /// Longest line accepted.
    pub const MAX: usize = N - 1;

    pub const fn new() -> Self {
        LineEditor { buf: [0; N], len: 0, overflow: false, last_cr: false, escape: Escape::None, echo: [0; 3] }
    }

    /// Bytes typed so far on the current line.
    pub fn pending(&self) -> usize {
        self.len
    }

    fn reset(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    pub fn feed(&mut self, b: u8) -> Event<'_> {
        let after_cr = core::mem::replace(&mut self.last_cr, false);
        match self.escape {
            Escape::Esc => {
                self.escape = if b == b'[' || b == b'O' { Escape::Csi } else { Escape::None };
                return Event::None;
            }
            Escape::Csi => {
                // Parameters and intermediates go on; a final byte (0x40..0x7e) ends it.
                if (0x40..=0x7e).contains(&b) {
                    self.escape = Escape::None;
                }
                return Event::None;
            }
            Escape::None => {}
        }
        match b {
            b'\n' if after_cr => Event::None,
            b'\r' | b'\n' => {
                self.last_cr = b == b'\r';
                let too_long = self.overflow;
                let len = self.len;
                self.reset();
                if too_long {
                    Event::TooLong
                } else {
                    match core::str::from_utf8(&self.buf[..len]) {
                        Ok(s) => Event::Line(s),
                        Err(e) => {
                            let at = e.valid_up_to();
                            // error_len None: a sequence cut short by the end of the line.
                            let n = e.error_len().unwrap_or(len - at).min(4);
                            let mut bytes = [0; 4];
                            bytes[..n].copy_from_slice(&self.buf[at..at + n]);
                            Event::BadUtf8(BadUtf8 { at, bytes, len: n })
                        }
                    }
                }
            }
            BS | DEL => {
                if self.len > 0 && !self.overflow {
                    // One character on screen: its continuation bytes go with it.
                    while self.len > 1 && self.buf[self.len - 1] & 0xc0 == 0x80 {
                        self.len -= 1;
                    }
                    self.len -= 1;
                    self.echo = [BS, b' ', BS];
                    Event::Echo(&self.echo)
                } else {
                    Event::None
                }
            }
            CTRL_U => {
                let n = self.len;
                self.reset();
                if n == 0 {
                    Event::None
                } else {
                    // Erase the line on screen: CR, clear to end of line, caller reprints the prompt.
                    Event::Echo(b"\r\x1b[K")
                }
            }
            CTRL_C => {
                self.reset();
                Event::Cancelled
            }
            ESC => {
                self.escape = Escape::Esc;
                Event::None
            }
            0x20..=0x7e | 0x80..=0xff | TAB => {
                // TAB separates words like a space (a terminal in canonical
                // mode passes it on; there is no completion to give it).
                let b = if b == TAB { b' ' } else { b };
                if self.overflow {
                    return Event::None;
                }
                if self.len == Self::MAX {
                    self.overflow = true;
                    return Event::None;
                }
                self.buf[self.len] = b;
                self.len += 1;
                self.echo[0] = b;
                Event::Echo(&self.echo[..1])
            }
            // Other control characters (bell, form feed...) are ignored.
            _ => Event::None,
        }
    }
}

impl<const N: usize> Default for LineEditor<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Split a command line into at most `M` words; quotes group spaces.
/// Returns `None` when there are more than `M` words or a quote is unclosed.
pub fn split_words<'a, const M: usize>(line: &'a str, out: &mut [&'a str; M]) -> Result<usize, SplitError> {
    let mut n = 0;
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            return Ok(n);
        }
        let word;
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').ok_or(SplitError::UnclosedQuote)?;
            word = &q[..end];
            rest = &q[end + 1..];
        } else {
            let end = rest.find([' ', '\t']).unwrap_or(rest.len());
            word = &rest[..end];
            rest = &rest[end..];
        }
        if n == M {
            return Err(SplitError::TooManyWords);
        }
        out[n] = word;
        n += 1;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitError {
    TooManyWords,
    UnclosedQuote,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_str<const N: usize>(ed: &mut LineEditor<N>, s: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in s {
            match ed.feed(b) {
                Event::Line(l) => lines.push(l.to_string()),
                Event::TooLong => lines.push("<too long>".into()),
                Event::Cancelled => lines.push("<cancelled>".into()),
                Event::BadUtf8(e) => lines.push(format!("<{e}>")),
                _ => {}
            }
        }
        lines
    }

    #[test]
    fn plain_lines_with_any_line_ending() {
        let mut ed = LineEditor::<64>::new();
        assert_eq!(type_str(&mut ed, b"help\recho hi\r\nuptime\n\n"), vec!["help", "echo hi", "uptime", ""]);
    }

    #[test]
    fn backspace_and_ctrl_u() {
        let mut ed = LineEditor::<64>::new();
        assert_eq!(type_str(&mut ed, b"helx\x7fp\r"), vec!["help"]);
        assert_eq!(type_str(&mut ed, b"\x08\x08ab\x08c\r"), vec!["ac"]);
        assert_eq!(type_str(&mut ed, b"garbage\x15dmesg\r"), vec!["dmesg"]);
    }

    #[test]
    fn ctrl_c_cancels() {
        let mut ed = LineEditor::<64>::new();
        assert_eq!(type_str(&mut ed, b"poweroff\x03help\r"), vec!["<cancelled>", "help"]);
    }

    #[test]
    fn escape_sequences_are_swallowed() {
        let mut ed = LineEditor::<64>::new();
        assert_eq!(type_str(&mut ed, b"he\x1b[Allo\x1b[1;5C\x1bOB\r"), vec!["hello"]);
    }

    #[test]
    fn overlong_line_is_refused_whole() {
        let mut ed = LineEditor::<8>::new();
        assert_eq!(type_str(&mut ed, b"1234567\r"), vec!["1234567"]);
        assert_eq!(type_str(&mut ed, b"12345678\r"), vec!["<too long>"]);
        assert_eq!(type_str(&mut ed, b"123456789012345\x7f\x7f\r"), vec!["<too long>"]);
        assert_eq!(type_str(&mut ed, b"ok\r"), vec!["ok"]);
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_bytes() {
        let mut ed = LineEditor::<64>::new();
        assert_eq!(type_str(&mut ed, b"echo a\xff\xfeb\r"), vec!["<invalid UTF-8 at byte 6: 0xff; line ignored>"]);
        // A sequence cut short by the end of the line.
        assert_eq!(type_str(&mut ed, b"echo \xe2\x82\r"), vec!["<invalid UTF-8 at byte 5: 0xe2 0x82; line ignored>"]);
        assert_eq!(type_str(&mut ed, "echo €\r".as_bytes()), vec!["echo €"]);
    }

    #[test]
    fn backspace_erases_a_whole_utf8_character() {
        let mut ed = LineEditor::<64>::new();
        assert_eq!(type_str(&mut ed, "echo é€\x7f\x7fok\r".as_bytes()), vec!["echo ok"]);
    }

    #[test]
    fn tab_separates_words() {
        let mut ed = LineEditor::<64>::new();
        let lines = type_str(&mut ed, b"echo\ta\t\tb\r");
        assert_eq!(lines, vec!["echo a  b"]);
        let mut w = [""; 4];
        assert_eq!(split_words(&lines[0], &mut w), Ok(3));
        assert_eq!(&w[..3], &["echo", "a", "b"]);
    }

    #[test]
    fn words() {
        let mut w = [""; 4];
        assert_eq!(split_words("  echo  a \"b c\"  ", &mut w), Ok(3));
        assert_eq!(&w[..3], &["echo", "a", "b c"]);
        assert_eq!(split_words("", &mut w), Ok(0));
        assert_eq!(split_words("a b c d e", &mut w), Err(SplitError::TooManyWords));
        assert_eq!(split_words("echo \"x", &mut w), Err(SplitError::UnclosedQuote));
    }

    proptest::proptest! {
        #[test]
        fn never_overflows(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..500)) {
            let mut ed = LineEditor::<16>::new();
            for b in bytes {
                if let Event::Line(l) = ed.feed(b) {
                    proptest::prop_assert!(l.len() <= 15);
                }
                proptest::prop_assert!(ed.pending() <= 15);
            }
        }
    }
}
