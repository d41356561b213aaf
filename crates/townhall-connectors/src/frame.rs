//! Cutting a byte stream into records, in bounded memory, whatever the bytes.
//!
//! JSON input comes as one value a line (NDJSON), as pretty-printed documents one
//! after another, or as an array of them; the X archive wraps an array in
//! `window.YTD.tweets.part0 = [ … ]`. CSV rows may hold quoted newlines. An mbox holds
//! messages separated by `From ` lines. Whatever the layout, the framer holds at most
//! one record ([`MAX_RECORD`] bytes) and yields the record's exact bytes with the line
//! and byte offset it started at, so a bad one can be quarantined as it was and the
//! run can go on with the next.

use std::io::{self, Read};

use crate::ParseError;
use crate::detect::Layout;

/// The largest record kept whole; a longer one is rejected (its first
/// [`QUARANTINE_PREFIX`] bytes kept) and the run goes on after it.
pub const MAX_RECORD: usize = 16 << 20;

/// How much of an oversized or unframeable record is kept for quarantine.
pub const QUARANTINE_PREFIX: usize = 64 << 10;

/// One record, exactly as it was in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its bytes, without the line end around it.
    pub bytes: Vec<u8>,
    /// The line it starts on, from 1.
    pub line: u64,
    /// The byte offset it starts at, from 0.
    pub offset: u64,
}

/// Bytes that could not be cut into a record, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// The bytes, at most [`QUARANTINE_PREFIX`] of them when it was too large.
    pub bytes: Vec<u8>,
    /// The line it starts on, from 1.
    pub line: u64,
    /// The byte offset it starts at, from 0.
    pub offset: u64,
    /// Why.
    pub error: ParseError,
}

/// What the framer yields.
pub type Framed = Result<Record, BadRecord>;

/// Cuts a reader into records of one [`Layout`].
#[derive(Debug)]
pub struct Framer<R> {
    input: Input<R>,
    layout: Layout,
    /// JSON: once known, whether records are whole lines (NDJSON).
    lines: Option<bool>,
    /// JSON: inside the top-level array.
    in_array: bool,
    /// CSV: the header row has been read.
    started: bool,
}

impl<R: Read> Framer<R> {
    /// A framer over `reader` for `layout`.
    pub fn new(reader: R, layout: Layout) -> Framer<R> {
        Framer { input: Input::new(reader), layout, lines: None, in_array: false, started: false }
    }

    /// Bytes consumed so far, for progress.
    pub fn position(&self) -> u64 {
        self.input.offset
    }

    /// The next record, `None` at the end of the input; `Err` only when reading fails.
    pub fn next_record(&mut self) -> io::Result<Option<Framed>> {
        if !self.started {
            self.started = true;
            self.input.skip_bom()?;
            if self.layout == Layout::XArchive {
                // `window.YTD.tweets.part0 = [`: everything up to the array is the wrapper.
                while let Some(b) = self.input.next()? {
                    if b == b'[' {
                        self.in_array = true;
                        self.lines = Some(false);
                        break;
                    }
                }
            }
        }
        match self.layout {
            Layout::Json | Layout::XArchive => self.next_json(),
            Layout::Csv => self.next_csv(),
            Layout::Email => self.next_message(),
        }
    }

    fn next_json(&mut self) -> io::Result<Option<Framed>> {
        loop {
            let Some(b) = self.input.peek()? else { return Ok(None) };
            let separator = b.is_ascii_whitespace() || (self.in_array && b == b',');
            if separator {
                self.input.next()?;
                continue;
            }
            if self.lines == Some(true) {
                return self.take_line();
            }
            if b == b'[' && !self.in_array {
                self.input.next()?;
                self.in_array = true;
                self.lines = Some(false);
                continue;
            }
            if b == b']' && self.in_array {
                self.input.next()?;
                self.in_array = false;
                continue;
            }
            if b != b'{' {
                let (line, offset) = (self.input.line, self.input.offset);
                let bytes = self.input.take_until_newline()?;
                let error = ParseError { code: "parse.json", message: "expected a JSON object".into() };
                return Ok(Some(Err(BadRecord { bytes, line, offset, error })));
            }
            let framed = self.take_object()?;
            if self.lines.is_none() {
                // A first record that fits on its line makes this NDJSON: from now on each
                // line is a record, so one broken line cannot swallow the ones after it.
                let one_line = matches!(&framed, Ok(r) if !r.bytes.contains(&b'\n'));
                self.lines = Some(one_line && self.input.rest_of_line_is_blank()?);
            }
            return Ok(Some(framed));
        }
    }

    fn take_line(&mut self) -> io::Result<Option<Framed>> {
        let (line, offset) = (self.input.line, self.input.offset);
        let mut bytes = Vec::new();
        let mut total = 0usize;
        while let Some(b) = self.input.next()? {
            if b == b'\n' {
                break;
            }
            total += 1;
            if bytes.len() < MAX_RECORD {
                bytes.push(b);
            }
        }
        while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
            bytes.pop();
        }
        Ok(Some(limit(bytes, total, line, offset)))
    }

    /// Reads one balanced `{ … }`, strings and escapes respected.
    fn take_object(&mut self) -> io::Result<Framed> {
        let (line, offset) = (self.input.line, self.input.offset);
        let mut bytes = Vec::new();
        let mut total = 0usize;
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        while let Some(b) = self.input.next()? {
            total += 1;
            if bytes.len() < MAX_RECORD {
                bytes.push(b);
            }
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    b'\n' => {
                        // JSON strings cannot hold a raw line break: the record is broken here.
                        bytes.truncate(QUARANTINE_PREFIX);
                        let error = ParseError { code: "parse.json", message: "unterminated string".into() };
                        return Ok(Err(BadRecord { bytes, line, offset, error }));
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(limit(bytes, total, line, offset));
                    }
                }
                _ => {}
            }
        }
        bytes.truncate(QUARANTINE_PREFIX);
        let error = ParseError { code: "parse.json", message: "input ends inside a record".into() };
        Ok(Err(BadRecord { bytes, line, offset, error }))
    }

    /// One CSV row: a line break inside double quotes belongs to the row.
    fn next_csv(&mut self) -> io::Result<Option<Framed>> {
        loop {
            if self.input.peek()?.is_none() {
                return Ok(None);
            }
            let (line, offset) = (self.input.line, self.input.offset);
            let mut bytes = Vec::new();
            let mut total = 0usize;
            let mut quoted = false;
            while let Some(b) = self.input.next()? {
                if b == b'\n' && !quoted {
                    break;
                }
                if b == b'"' {
                    quoted = !quoted;
                }
                total += 1;
                if bytes.len() < MAX_RECORD {
                    bytes.push(b);
                }
            }
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
                total -= 1;
            }
            if total == 0 {
                continue;
            }
            return Ok(Some(limit(bytes, total, line, offset)));
        }
    }

    /// One e-mail message: a whole `.eml`, or the next message of an mbox with its
    /// `From ` line dropped and `>From ` quoting undone (mboxrd).
    fn next_message(&mut self) -> io::Result<Option<Framed>> {
        let mut first = Vec::new();
        loop {
            let Some(b) = self.input.peek()? else { return Ok(None) };
            if b == b'\r' || b == b'\n' {
                self.input.next()?;
                continue;
            }
            let (line, offset) = (self.input.line, self.input.offset);
            first.clear();
            let mut total = self.input.read_line_into(&mut first)?;
            let mbox = first.starts_with(b"From ");
            let mut bytes = if mbox { Vec::new() } else { std::mem::take(&mut first) };
            loop {
                if mbox && self.input.peek_starts_with(b"From ")? {
                    break;
                }
                let mut next = Vec::new();
                let n = self.input.read_line_into(&mut next)?;
                if n == 0 {
                    break;
                }
                total += n;
                if mbox && next.starts_with(b">") && next.iter().skip_while(|&&c| c == b'>').take(5).eq(b"From ") {
                    next.remove(0);
                }
                if bytes.len() < MAX_RECORD {
                    bytes.extend_from_slice(&next);
                }
            }
            while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
                bytes.pop();
            }
            if bytes.is_empty() && mbox {
                continue;
            }
            let (line, offset) = if mbox { (line + 1, offset + first.len() as u64) } else { (line, offset) };
            return Ok(Some(limit(bytes, total, line, offset)));
        }
    }
}

/// The record, or a rejection when it was longer than [`MAX_RECORD`].
fn limit(mut bytes: Vec<u8>, total: usize, line: u64, offset: u64) -> Framed {
    if total > MAX_RECORD {
        bytes.truncate(QUARANTINE_PREFIX);
        let error = ParseError {
            code: "parse.too_large",
            message: format!("record of {total} bytes is over the {MAX_RECORD}-byte limit; its start is kept"),
        };
        return Err(BadRecord { bytes, line, offset, error });
    }
    Ok(Record { bytes, line, offset })
}

/// A reader with one byte of look-ahead, counting lines and bytes.
#[derive(Debug)]
struct Input<R> {
    reader: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    line: u64,
    offset: u64,
}

impl<R: Read> Input<R> {
    fn new(reader: R) -> Input<R> {
        Input { reader, buf: vec![0; 64 << 10].into_boxed_slice(), pos: 0, len: 0, line: 1, offset: 0 }
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(if self.fill()? { Some(self.buf[self.pos]) } else { None })
    }

    fn next(&mut self) -> io::Result<Option<u8>> {
        let b = self.peek()?;
        if let Some(b) = b {
            self.pos += 1;
            self.offset += 1;
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(b)
    }

    fn skip_bom(&mut self) -> io::Result<()> {
        if self.fill()? && self.buf[self.pos..self.len].starts_with(b"\xEF\xBB\xBF") {
            self.pos += 3;
            self.offset += 3;
        }
        Ok(())
    }

    /// Consumes up to and including the next line break; keeps at most a prefix.
    fn take_until_newline(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        while let Some(b) = self.next()? {
            if b == b'\n' {
                break;
            }
            if bytes.len() < QUARANTINE_PREFIX {
                bytes.push(b);
            }
        }
        Ok(bytes)
    }

    /// Whether only blanks follow on this line; consumes them.
    fn rest_of_line_is_blank(&mut self) -> io::Result<bool> {
        while let Some(b) = self.peek()? {
            match b {
                b'\n' => return Ok(true),
                b' ' | b'\t' | b'\r' => {
                    self.next()?;
                }
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Appends one line, its line break included, keeping at most [`MAX_RECORD`]
    /// bytes; returns how many bytes it consumed.
    fn read_line_into(&mut self, into: &mut Vec<u8>) -> io::Result<usize> {
        let mut n = 0;
        while let Some(b) = self.next()? {
            n += 1;
            if into.len() < MAX_RECORD {
                into.push(b);
            }
            if b == b'\n' {
                break;
            }
        }
        Ok(n)
    }

    /// Whether the input continues with `prefix`; only called at a line start.
    fn peek_starts_with(&mut self, prefix: &[u8]) -> io::Result<bool> {
        if !self.fill()? {
            return Ok(false);
        }
        if self.len - self.pos < prefix.len() {
            // Keep the unread tail and top the buffer up so the prefix can be compared.
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
            while self.len < prefix.len() {
                let n = self.reader.read(&mut self.buf[self.len..])?;
                if n == 0 {
                    break;
                }
                self.len += n;
            }
        }
        Ok(self.buf[self.pos..self.len].starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn frame(layout: Layout, input: &[u8]) -> Vec<Framed> {
        let mut framer = Framer::new(input, layout);
        let mut out = Vec::new();
        while let Some(f) = framer.next_record().unwrap() {
            out.push(f);
        }
        out
    }

    fn texts(framed: &[Framed]) -> Vec<String> {
        framed
            .iter()
            .map(|f| match f {
                Ok(r) => String::from_utf8_lossy(&r.bytes).into_owned(),
                Err(b) => format!("BAD {} {}", b.error.code, String::from_utf8_lossy(&b.bytes)),
            })
            .collect()
    }

    #[test]
    fn ndjson_lines_are_records_and_a_broken_line_stays_alone() {
        let input = b"{\"a\":1}\r\n\n{\"b\":{\"c\":[1,\"}\"]}}\n{\"broken\": {\n{\"d\":\"\xF0\x9F\x98\x80\"}\n";
        let framed = frame(Layout::Json, input);
        assert_eq!(texts(&framed), ["{\"a\":1}", "{\"b\":{\"c\":[1,\"}\"]}}", "{\"broken\": {", "{\"d\":\"😀\"}"]);
        let last = framed[3].as_ref().unwrap();
        assert_eq!((last.line, last.offset), (5, 43));
    }

    #[test]
    fn pretty_documents_and_arrays_are_split_into_objects() {
        let docs = b"{\n  \"a\": \"x\\\"}\",\n  \"b\": [1, 2]\n}\n{\n  \"c\": 3\n}\n";
        assert_eq!(
            texts(&frame(Layout::Json, docs)),
            ["{\n  \"a\": \"x\\\"}\",\n  \"b\": [1, 2]\n}", "{\n  \"c\": 3\n}"]
        );
        let array = b"\xEF\xBB\xBF[ {\"a\":1},\n {\"b\":2} ]";
        assert_eq!(texts(&frame(Layout::Json, array)), ["{\"a\":1}", "{\"b\":2}"]);
        let archive = b"window.YTD.tweets.part0 = [\n  {\n    \"tweet\" : {\"id_str\": \"1\"}\n  }\n]";
        assert_eq!(texts(&frame(Layout::XArchive, archive)), ["{\n    \"tweet\" : {\"id_str\": \"1\"}\n  }"]);
    }

    #[test]
    fn garbage_and_truncation_are_bad_records_not_errors() {
        let framed = frame(Layout::Json, b"{\n\"a\": 1\n}\nnot json\n{\"a\": \"unterminated\n{\"b\": 1}\n{\"c\":");
        assert_eq!(
            texts(&framed),
            [
                "{\n\"a\": 1\n}",
                "BAD parse.json not json",
                "BAD parse.json {\"a\": \"unterminated\n",
                "{\"b\": 1}",
                "BAD parse.json {\"c\":"
            ]
        );
    }

    #[test]
    fn an_oversized_record_is_rejected_and_the_next_one_read() {
        let mut input = b"{\"a\":1}\n{\"big\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD + 10));
        input.extend_from_slice(b"\"}\n{\"b\":2}\n");
        let framed = frame(Layout::Json, &input);
        assert_eq!(framed.len(), 3);
        let bad = framed[1].as_ref().unwrap_err();
        assert_eq!((bad.error.code, bad.bytes.len(), bad.line), ("parse.too_large", QUARANTINE_PREFIX, 2));
        assert_eq!(framed[2].as_ref().unwrap().bytes, b"{\"b\":2}");
    }

    #[test]
    fn csv_rows_keep_quoted_line_breaks() {
        let input = b"platform,id,text\r\nweb,1,\"two\r\nlines, \"\"quoted\"\"\"\r\n\r\nweb,2,plain";
        assert_eq!(
            texts(&frame(Layout::Csv, input)),
            ["platform,id,text", "web,1,\"two\r\nlines, \"\"quoted\"\"\"", "web,2,plain"]
        );
    }

    #[test]
    fn mbox_messages_are_split_and_unquoted() {
        let input = b"From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From the start\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\nbody\n";
        let framed = frame(Layout::Email, input);
        assert_eq!(texts(&framed), ["Subject: one\n\nFrom the start", "Subject: two\n\nbody"]);
        assert_eq!(framed[1].as_ref().unwrap().line, 7);
        let eml = b"From: a@example.org\nSubject: hi\n\nFrom here on\n";
        assert_eq!(texts(&frame(Layout::Email, eml)), ["From: a@example.org\nSubject: hi\n\nFrom here on"]);
    }

    proptest! {
        #[test]
        fn any_bytes_frame_without_panicking_and_lose_nothing(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
            for layout in [Layout::Json, Layout::XArchive, Layout::Csv, Layout::Email] {
                let framed = frame(layout, &input);
                for f in &framed {
                    let bytes = match f { Ok(r) => &r.bytes, Err(b) => &b.bytes };
                    prop_assert!(bytes.len() <= input.len());
                }
            }
        }

        #[test]
        fn ndjson_of_any_strings_round_trips(texts in proptest::collection::vec(any::<String>(), 1..20)) {
            let lines: Vec<String> = texts.iter().map(|t| serde_json::json!({ "text": t }).to_string()).collect();
            let framed = frame(Layout::Json, lines.join("\n").as_bytes());
            let got: Vec<String> = framed.into_iter().map(|f| String::from_utf8(f.unwrap().bytes).unwrap()).collect();
            prop_assert_eq!(got, lines);
        }
    }
}
