//! CSV records read straight out of text already in memory.
//!
//! The `csv` crate's `Reader` wants an `io::Read`, so it copies the text into its own buffer,
//! and its trimming builds a second record per row. The attendee file is already one `&str`,
//! so this drives `csv_core`'s parser over it directly: each record's fields land in one
//! reused buffer and are trimmed as they are read, with no allocation per row.
//!
//! Memory is bounded while reading, whatever the text: a record longer than
//! [`MAX_RECORD_BYTES`] or with more than [`MAX_FIELDS`] fields is read to its end without being
//! kept, and comes back as a record that does not fit ([`Record::fits`] is false).

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// Longest record kept, in bytes: a real attendee row is a few hundred bytes, an address-book
/// export with every column a few thousand.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Most fields kept per record.
pub const MAX_FIELDS: usize = 1024;

/// A reader of the records in `text`, in order.
pub struct Records<'a> {
    parser: Reader,
    input: &'a [u8],
    consumed: usize,
    fields: Vec<u8>,
    ends: Vec<usize>,
}

/// One record: its fields, trimmed. Borrowed from the reader until the next record is read.
pub struct Record<'r> {
    text: Option<&'r str>,
    ends: &'r [usize],
}

impl<'a> Records<'a> {
    /// Reads `text` as CSV separated by `delimiter`, RFC 4180 quoting (`""` inside quotes).
    pub fn new(text: &'a str, delimiter: u8) -> Self {
        Self {
            parser: ReaderBuilder::new().delimiter(delimiter).build(),
            input: text.as_bytes(),
            consumed: 0,
            fields: vec![0; 1024],
            ends: vec![0; 16],
        }
    }

    /// The next record and the byte offset where reading it began (blank lines before it
    /// included), or `None` at the end of the text. Blank lines are not records.
    pub fn next_record(&mut self) -> Option<(usize, Record<'_>)> {
        let start = self.consumed;
        let (mut written, mut ended) = (0, 0);
        // Past a limit the record's bytes are still read (the parser must find its end) but
        // written over the same buffer, never grown.
        let mut oversized = false;
        loop {
            // An empty input tells the parser the text is over; it then ends the last record.
            let (result, read, out, end) = self.parser.read_record(
                &self.input[self.consumed..],
                &mut self.fields[written..],
                &mut self.ends[ended..],
            );
            self.consumed += read;
            written += out;
            ended += end;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if self.fields.len() >= MAX_RECORD_BYTES => {
                    (oversized, written) = (true, 0);
                }
                ReadRecordResult::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
                ReadRecordResult::OutputEndsFull if self.ends.len() >= MAX_FIELDS => {
                    (oversized, ended) = (true, 0);
                }
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record if oversized => {
                    return Some((
                        start,
                        Record {
                            text: None,
                            ends: &[],
                        },
                    ));
                }
                ReadRecordResult::Record => {
                    let ends = &self.ends[..ended];
                    // Quotes and delimiters are ASCII, so the fields of a `&str` are UTF-8; the
                    // check costs little and keeps this free of `unsafe`.
                    let text = std::str::from_utf8(&self.fields[..written]).ok();
                    return Some((start, Record { text, ends }));
                }
                ReadRecordResult::End => return None,
            }
        }
    }
}

impl<'r> Record<'r> {
    /// Field `index`, trimmed; `None` past the last field. An unreadable record has no fields.
    pub fn get(&self, index: usize) -> Option<&'r str> {
        let text = self.text?;
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        text.get(start..end).map(str::trim)
    }

    /// The fields, trimmed.
    pub fn iter(&self) -> impl Iterator<Item = &'r str> + '_ {
        (0..self.ends.len()).filter_map(|index| self.get(index))
    }

    /// False when the record was over [`MAX_RECORD_BYTES`] or [`MAX_FIELDS`] and not kept.
    pub fn fits(&self) -> bool {
        self.text.is_some()
    }

    /// True when every field is empty after trimming, as in a line of only delimiters.
    pub fn is_blank(&self) -> bool {
        self.iter().all(str::is_empty)
    }
}

/// Turns byte offsets, asked for in increasing order, into 1-based line numbers.
pub struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    pub fn line_at(&mut self, byte: usize) -> u64 {
        let target = byte.min(self.text.len());
        if target > self.offset {
            let breaks = memchr::memchr2_iter(b'\n', b'\r', &self.text[self.offset..target])
                .filter(|&at| self.ends_line(self.offset + at))
                .count();
            self.line += breaks as u64;
            self.offset = target;
        }
        // A record's reported start can sit before the blank lines the reader skipped.
        while matches!(self.text.get(self.offset), Some(b'\r' | b'\n')) {
            self.line += u64::from(self.ends_line(self.offset));
            self.offset += 1;
        }
        self.line
    }

    /// Whether the byte at `at` ends a line: `\n`, or a `\r` not followed by `\n` (the csv
    /// reader, like old Mac exports, takes a lone CR as a line end; CRLF counts once).
    fn ends_line(&self, at: usize) -> bool {
        match self.text[at] {
            b'\n' => true,
            b'\r' => self.text.get(at + 1) != Some(&b'\n'),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str, delimiter: u8) -> Vec<(usize, Vec<String>)> {
        let mut records = Records::new(text, delimiter);
        let mut all = Vec::new();
        while let Some((start, record)) = records.next_record() {
            all.push((start, record.iter().map(str::to_string).collect()));
        }
        all
    }

    #[test]
    fn fields_are_split_unquoted_and_trimmed() {
        let text = "a,\"Smith, Jane\" ,\"say \"\"hi\"\"\"\nx;y,z\n";
        let got = read_all(text, b',');
        assert_eq!(
            got,
            [
                (
                    0,
                    vec!["a".into(), "Smith, Jane".into(), "say \"hi\"".into()]
                ),
                (text.find("x;y").unwrap(), vec!["x;y".into(), "z".into()]),
            ]
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_the_last_line_needs_no_newline() {
        let text = "a\r\n\r\n\nb;c";
        let got = read_all(text, b';');
        let fields: Vec<_> = got.iter().map(|(_, fields)| fields.clone()).collect();
        assert_eq!(fields, [vec!["a"], vec!["b", "c"]]);
        // A record's start may sit on the line ends before it, never past its first byte.
        let second = &text[got[1].0..];
        assert!(second.trim_start_matches(['\r', '\n']).starts_with("b;c"));
    }

    #[test]
    fn long_fields_and_many_columns_grow_the_buffers() {
        let long = "x".repeat(5000);
        let text = format!("{long},{}\n", vec!["y"; 40].join(","));
        let got = read_all(&text, b',');
        assert_eq!(got[0].1.len(), 41);
        assert_eq!(got[0].1[0], long);
    }

    #[test]
    fn oversized_records_are_skipped_whole_and_reading_goes_on() {
        let giant = "x".repeat(MAX_RECORD_BYTES * 3);
        let many = vec!["y"; MAX_FIELDS + 5].join(",");
        let text = format!("a,b\n\"{giant}\",c\n{many}\nd,e\n");
        let mut records = Records::new(&text, b',');
        let mut fits = Vec::new();
        while let Some((_, record)) = records.next_record() {
            fits.push((record.fits(), record.iter().collect::<Vec<_>>().join("|")));
        }
        assert_eq!(
            fits,
            [
                (true, "a|b".to_string()),
                (false, String::new()),
                (false, String::new()),
                (true, "d|e".to_string())
            ]
        );
        assert!(
            records.fields.len() <= MAX_RECORD_BYTES * 2,
            "buffer stays bounded"
        );
        assert!(records.ends.len() <= MAX_FIELDS * 2);
    }

    #[test]
    fn multibyte_text_survives() {
        let got = read_all("Zoë,\"Ünal, Ayşe\"\n", b',');
        assert_eq!(got[0].1, ["Zoë", "Ünal, Ayşe"]);
    }

    #[test]
    fn empty_text_has_no_records() {
        assert!(read_all("", b',').is_empty());
        assert!(read_all("\n\r\n", b',').is_empty());
    }
}
