//! The first rows of a CSV output, read with the `csv` crate within a byte and a row limit,
//! and what the preview does with them: find the numeric columns, sort. Leading `#` lines are
//! metadata ([`Meta`]), not the header.

use std::io::Read;
use std::path::Path;

use super::meta::Meta;

/// At most this much of the file is read...
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// ...and at most this many data rows are shown...
pub const MAX_ROWS: usize = 200;
/// ...and drawn (a hazard map has a point per site).
pub const MAX_DRAWN: usize = 2000;
/// The first rows of a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// What the leading `#` lines say.
    pub meta: Meta,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The file has more rows than shown (or more bytes than were read).
    pub more: bool,
}

/// Reads the start of a CSV file: the header and up to `max_rows` rows from at most
/// `max_bytes` bytes (a line cut off by that limit is dropped). Records may have different
/// lengths: the table is as wide as the widest, with the missing cells empty.
pub fn read_csv(path: &Path, max_bytes: usize, max_rows: usize) -> std::io::Result<Table> {
    read_csv_from(std::fs::File::open(path)?, max_bytes, max_rows)
}

/// [`read_csv`] from any reader (an entry of a zip).
pub fn read_csv_from(
    source: impl Read,
    max_bytes: usize,
    max_rows: usize,
) -> std::io::Result<Table> {
    let mut bytes = Vec::new();
    source.take(max_bytes as u64 + 1).read_to_end(&mut bytes)?;
    let cut = bytes.len() > max_bytes;
    if cut {
        bytes.truncate(max_bytes);
        let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut records = reader.byte_records();
    let mut next = || -> std::io::Result<Option<Vec<String>>> {
        match records.next() {
            None => Ok(None),
            Some(Err(e)) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Some(Ok(record)) => Ok(Some(
                record
                    .iter()
                    .map(|cell| String::from_utf8_lossy(cell).into_owned())
                    .collect(),
            )),
        }
    };
    let mut meta = Meta::default();
    let header = loop {
        match next()? {
            Some(r) if r.first().is_some_and(|c| c.trim_start().starts_with('#')) => {
                meta.add_record(&r)
            }
            other => break other.unwrap_or_default(),
        }
    };
    let mut rows = Vec::new();
    while rows.len() < max_rows {
        match next()? {
            Some(row) => rows.push(row),
            None => break,
        }
    }
    let more = rows.len() == max_rows && next()?.is_some();
    let width = rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(header.len()))
        .max()
        .unwrap_or(0);
    let mut header = header;
    for i in header.len()..width {
        header.push(format!("column {}", i + 1));
    }
    for row in &mut rows {
        row.resize(width, String::new());
    }
    Ok(Table {
        meta,
        header,
        rows,
        more: more || cut,
    })
}

pub(super) fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Table {
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
        assert_eq!(table.numeric_columns(), [0, 1]);
        // A byte limit in the middle of a line drops that line.
        let table = read_csv(&path, 20, 200).unwrap();
        assert_eq!(table.rows, vec![vec!["0", "0", "n0"]]);
        assert!(table.more);
    }

    #[test]
    fn sorting_is_numeric_when_it_can_be() {
        let mut t = Table {
            meta: Meta::default(),
            header: vec!["n".into()],
            rows: vec![vec!["10".into()], vec!["9".into()], vec!["x".into()]],
            more: false,
        };
        t.sort_by(0, false);
        assert_eq!(t.rows, vec![vec!["9"], vec!["10"], vec!["x"]]);
        t.sort_by(0, true);
        assert_eq!(t.rows[0], vec!["x"]);
    }
}
