//! The first rows of a CSV output, read with the `csv` crate within a byte and a row limit,
//! and what the preview does with them: find the numeric columns, sort. Leading `#` lines are
//! metadata ([`Meta`]), not the header.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::meta::Meta;

/// At most this much of the file is read...
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// ...and at most this many data rows are shown...
pub const MAX_ROWS: usize = 200;
/// ...and drawn (a hazard map has a point per site).
pub const MAX_DRAWN: usize = 2000;
/// The rows of the rest of the file are counted (not kept) within this many bytes...
pub const COUNT_BYTES: u64 = 32 * 1024 * 1024;
/// ...and this long, so that the page says "of 15,320 rows" rather than "the first 2,000".
const COUNT_TIME: Duration = Duration::from_millis(500);
/// The file is read up to a line longer than this: the csv reader holds a whole record in
/// memory, a bound per cell, and one line of 32 MiB of commas is 32 million cells.
pub const MAX_LINE: usize = 256 * 1024;

/// A reader that ends before the first line longer than [`MAX_LINE`].
struct LineGuard<R> {
    inner: R,
    /// Bytes since the last line break.
    run: usize,
    tripped: bool,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tripped {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        let n = self.inner.read(buf)?;
        for byte in &buf[..n] {
            if *byte == b'\n' {
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > MAX_LINE {
                    // An error, not the end of the file: the csv reader would keep the part
                    // read as a last record; `read_record` takes it as the end.
                    self.tripped = true;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::FileTooLarge,
                        "a line too long to preview",
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// The first rows of a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// What the leading `#` lines say.
    pub meta: Meta,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The file has more rows than shown (or more bytes than were read).
    pub more: bool,
    /// The data rows of the whole file counted (at least `rows.len()`)...
    pub total: usize,
    /// ...all of them, or only those within [`COUNT_BYTES`] and [`COUNT_TIME`].
    pub counted_all: bool,
}

/// Reads the start of a CSV file: the header and up to `max_rows` rows from at most
/// `max_bytes` bytes (a line cut off by that limit is dropped), and counts the rows of the
/// rest. Records may have different lengths: the table is as wide as the widest, with the
/// missing cells empty.
pub fn read_csv(path: &Path, max_bytes: usize, max_rows: usize) -> std::io::Result<Table> {
    read_csv_from(std::fs::File::open(path)?, max_bytes, max_rows)
}

/// [`read_csv`] from any reader (an entry of a zip).
pub fn read_csv_from(
    source: impl Read,
    max_bytes: usize,
    max_rows: usize,
) -> std::io::Result<Table> {
    let started = Instant::now();
    let mut source = LineGuard {
        inner: source.take(COUNT_BYTES),
        run: 0,
        tripped: false,
    };
    // A byte order mark is not part of the first header.
    let mut head = Vec::with_capacity(3);
    (&mut source).take(3).read_to_end(&mut head)?;
    let bom = head == "\u{feff}".as_bytes();
    let skipped: u64 = if bom { 3 } else { 0 };
    let head: &[u8] = if bom { &[] } else { &head };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(head.chain(&mut source));
    let mut record = csv::ByteRecord::new();
    let limit = (max_bytes as u64).saturating_sub(skipped);
    let mut meta = Meta::default();
    let mut header = Vec::new();
    let mut cut = false;
    while let Some((r, within)) = next_record(&mut reader, &mut record, limit)? {
        if !within {
            cut = true;
            break;
        }
        if r.first().is_some_and(|c| c.trim_start().starts_with('#')) {
            meta.add_record(&r);
        } else {
            header = r;
            break;
        }
    }
    let mut rows = Vec::new();
    let mut total = 0;
    let mut counted_all = true;
    if !cut {
        // The first rows are kept...
        while rows.len() < max_rows {
            match next_record(&mut reader, &mut record, limit)? {
                Some((row, true)) => rows.push(row),
                Some((_, false)) => {
                    cut = true;
                    total += 1;
                    break;
                }
                None => break,
            }
        }
        total += rows.len();
        // ...and the others counted, to the end of the file or of the count's bounds.
        while read_record(&mut reader, &mut record)? {
            total += 1;
            if total % 4096 == 0 && started.elapsed() > COUNT_TIME {
                counted_all = false;
                break;
            }
        }
    }
    drop(reader);
    // The count stopped at a line too long, or at its byte bound when there is more to read.
    if source.tripped {
        counted_all = false;
        cut = true;
    } else if counted_all && source.inner.limit() == 0 {
        counted_all = source.inner.into_inner().read(&mut [0u8; 1])? == 0;
    }
    let width = rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(header.len()))
        .max()
        .unwrap_or(0);
    for i in header.len()..width {
        header.push(format!("column {}", i + 1));
    }
    for row in &mut rows {
        row.resize(width, String::new());
    }
    let more = total > rows.len() || !counted_all || cut;
    Ok(Table {
        meta,
        header,
        total: total.max(rows.len()),
        rows,
        more,
        counted_all,
    })
}

/// The next record of `reader` and whether it ends within `limit` bytes of the file (a
/// record cut by the limit is not kept, as if the file stopped at the line break before it).
fn next_record<R: Read>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
    limit: u64,
) -> std::io::Result<Option<(Vec<String>, bool)>> {
    if !read_record(reader, record)? {
        return Ok(None);
    }
    let cells = record
        .iter()
        .map(|cell| String::from_utf8_lossy(cell).into_owned())
        .collect();
    Ok(Some((cells, reader.position().byte() <= limit)))
}

fn read_record<R: Read>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
) -> std::io::Result<bool> {
    match reader.read_byte_record(record) {
        Ok(more) => Ok(more),
        // [`LineGuard`]'s end: the record it cut is not kept.
        Err(e)
            if matches!(e.kind(), csv::ErrorKind::Io(io)
                if io.kind() == std::io::ErrorKind::FileTooLarge) =>
        {
            Ok(false)
        }
        Err(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
    }
}

pub(super) fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `n` with its thousands apart: 15320 -> "15,320".
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl Table {
    /// The table of a whole file of these rows.
    pub fn of(header: Vec<String>, rows: Vec<Vec<String>>) -> Table {
        Table {
            meta: Meta::default(),
            header,
            total: rows.len(),
            rows,
            more: false,
            counted_all: true,
        }
    }

    /// How many data rows the file has, in words: "15,320", or "at least 1,200,000" when the
    /// count stopped at its bounds.
    pub fn total_text(&self) -> String {
        if self.counted_all {
            grouped(self.total)
        } else {
            format!("at least {}", grouped(self.total))
        }
    }

    /// Columns whose every non-empty cell is a number (and that have at least one).
    pub fn numeric_columns(&self) -> Vec<usize> {
        (0..self.header.len())
            .filter(|&j| {
                let mut seen = false;
                for row in &self.rows {
                    let cell = row[j].trim();
                    if cell.is_empty() {
                        continue;
                    }
                    if number(cell).is_none() {
                        return false;
                    }
                    seen = true;
                }
                seen
            })
            .collect()
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        if self.rows.len() > n {
            self.rows.truncate(n);
            self.more = true;
        }
    }

    /// Sorts the rows by a column: numbers by value, text alphabetically (stable).
    pub fn sort_by(&mut self, column: usize, descending: bool) {
        if column >= self.header.len() {
            return;
        }
        self.rows.sort_by(|a, b| {
            let ord = match (number(&a[column]), number(&b[column])) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a[column].to_lowercase().cmp(&b[column].to_lowercase()),
            };
            if descending { ord.reverse() } else { ord }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_with_quotes_and_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "a,b\r\n1,\"x, \"\"y\"\"\"\n\n2,\n").unwrap();
        let table = read_csv(&path, MAX_BYTES, 10).unwrap();
        assert_eq!(table.header, ["a", "b"]);
        assert_eq!(
            table.rows,
            vec![
                vec!["1".to_string(), "x, \"y\"".into()],
                vec!["2".into(), "".into()]
            ]
        );
        assert!(!table.more);
        std::fs::write(&path, "h\n1\n2\n3\n").unwrap();
        let table = read_csv(&path, MAX_BYTES, 2).unwrap();
        assert_eq!(table.rows.len(), 2);
        assert!(table.more);
        std::fs::write(&path, "h\n1").unwrap();
        let table = read_csv(&path, MAX_BYTES, 10).unwrap();
        assert_eq!(table.rows, vec![vec!["1".to_string()]]);
        assert!(!table.more);
        // Ragged records: the table is as wide as the widest record.
        std::fs::write(&path, "a\n1,2,3\n").unwrap();
        let table = read_csv(&path, MAX_BYTES, 10).unwrap();
        assert_eq!(table.header, ["a", "column 2", "column 3"]);
    }

    #[test]
    fn leading_hash_lines_are_metadata_not_header() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openquake");
        let table = read_csv(&fixtures.join("hazard_curve-mean-PGA.csv"), MAX_BYTES, 200).unwrap();
        assert_eq!(table.meta.get("imt"), Some("PGA"));
        assert_eq!(
            table.meta.get("generated_by"),
            Some("OpenQuake engine 3.26.2")
        );
        assert_eq!(table.header[..4], ["lon", "lat", "depth", "poe-0.0050000"]);
        assert!(table.rows.iter().all(|r| !r[0].starts_with('#')));
        assert!(table.header.iter().all(|h| !h.contains('\r')), "CRLF");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(
            &path,
            "# a note\r\n#,\"k=1\"\r\nx,y\r\n1,2\r\n# not metadata\r\n",
        )
        .unwrap();
        let table = read_csv(&path, MAX_BYTES, 10).unwrap();
        assert_eq!(table.meta.notes, ["a note"]);
        assert_eq!(table.meta.get("k"), Some("1"));
        assert_eq!(table.header, ["x", "y"]);
        assert_eq!(table.rows.len(), 2, "a later # line is data");
    }

    #[test]
    fn files_are_read_within_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let mut text = String::from("\u{feff}t,v,name\n");
        for i in 0..300 {
            text.push_str(&format!("{i},{},n{i}\n", i * 2));
        }
        std::fs::write(&path, &text).unwrap();
        let table = read_csv(&path, MAX_BYTES, 200).unwrap();
        assert_eq!(table.header, ["t", "v", "name"]);
        assert_eq!(table.rows.len(), 200);
        assert!(table.more);
        // The rows beyond are counted.
        assert_eq!((table.total, table.counted_all), (300, true));
        assert_eq!(table.total_text(), "300");
        assert_eq!(table.numeric_columns(), [0, 1]);
        // A byte limit in the middle of a line drops that line.
        let table = read_csv(&path, 20, 200).unwrap();
        assert_eq!(table.rows, vec![vec!["0", "0", "n0"]]);
        assert!(table.more);
        assert_eq!(table.total, 300, "counted beyond the byte limit too");
        // A header cut by the limit: nothing to show, nothing counted.
        let table = read_csv(&path, 5, 200).unwrap();
        assert!(table.header.is_empty() && table.rows.is_empty() && table.more);
    }

    #[test]
    fn counts_stop_at_their_byte_bound() {
        // A source longer than COUNT_BYTES: its rows are counted up to the bound (of bytes,
        // or of time in a debug build), and said to be at least that many.
        let line = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28\n";
        let rows = COUNT_BYTES as usize / line.len() + 10;
        let source = std::io::Cursor::new(format!("h\n{}", line.repeat(rows)));
        let table = read_csv_from(source, MAX_BYTES, MAX_ROWS).unwrap();
        assert!(!table.counted_all && table.more);
        assert!(
            table.total < rows && table.total > MAX_ROWS,
            "{}",
            table.total
        );
        assert!(table.total_text().starts_with("at least "));
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(999), "999");
    }

    #[test]
    fn a_line_too_long_ends_the_read_before_it() {
        // A line of commas would be a cell per comma held at once: the read stops before it,
        // with the rows before it kept and the count said to be incomplete.
        let text = format!("a,b\n1,2\n3,4\n{}\n5,6\n", ",".repeat(MAX_LINE + 1));
        let table = read_csv_from(std::io::Cursor::new(text), MAX_BYTES, MAX_ROWS).unwrap();
        assert_eq!(table.header, ["a", "b"]);
        assert_eq!(table.rows, [["1", "2"], ["3", "4"]]);
        assert!(!table.counted_all && table.more);
        assert!(table.total_text().starts_with("at least "));
        // A long line within the bound is read as any other.
        let text = format!("a\n{}\n", "x".repeat(MAX_LINE - 1));
        let table = read_csv_from(std::io::Cursor::new(text), MAX_BYTES, MAX_ROWS).unwrap();
        assert!(table.counted_all && !table.more && table.rows.len() == 1);
    }

    #[test]
    fn sorting_is_numeric_when_it_can_be() {
        let mut t = Table::of(
            vec!["n".into()],
            vec![vec!["10".into()], vec!["9".into()], vec!["x".into()]],
        );
        t.sort_by(0, false);
        assert_eq!(t.rows, vec![vec!["9"], vec!["10"], vec!["x"]]);
        t.sort_by(0, true);
        assert_eq!(t.rows[0], vec!["x"]);
    }
}
