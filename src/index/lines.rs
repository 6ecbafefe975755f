//! The line index: the byte offset of every line start, so that line `N`
//! of a log of any size is found with one positional read. Line 1 starts
//! at 0; the index holds the start of every later line (one past each
//! `\n`), in a [`Spilled`] array, so memory stays bounded.

use std::io;
use std::path::Path;

use crate::store::Spilled;

/// The start offsets of a log's lines, as far as it has been indexed.
#[derive(Debug)]
pub struct LineIndex {
    /// The starts of lines 2, 3, ...: one per `\n` indexed.
    starts: Spilled,
}

impl LineIndex {
    /// An empty index, its file in `dir`.
    ///
    /// # Errors
    /// The I/O error from creating the file.
    pub fn create_in(dir: &Path) -> io::Result<Self> {
        Ok(LineIndex {
            starts: Spilled::create_in(dir, 1)?,
        })
    }

    /// Newlines indexed so far.
    pub fn newlines(&self) -> u64 {
        self.starts.len()
    }

    /// Appends line starts (one past each newline found, in order).
    ///
    /// # Errors
    /// The index file's write error.
    pub fn push(&self, starts: &[u64]) -> io::Result<()> {
        self.starts.push(starts)
    }

    /// Where line `line` (1-based) starts, if it has been indexed.
    ///
    /// # Errors
    /// The index file's read error.
    pub fn start_of(&self, line: u64) -> io::Result<Option<u64>> {
        match line {
            0 => Ok(None),
            1 => Ok(Some(0)),
            n => {
                let mut start = [0];
                Ok(self.starts.get(n - 2, &mut start)?.then_some(start[0]))
            }
        }
    }

    /// The number (1-based) of the line holding byte `offset`.
    ///
    /// # Errors
    /// The index file's read error.
    pub fn line_at(&self, offset: u64) -> io::Result<u64> {
        Ok(1 + self.starts.partition_point(0, offset)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_by_number_and_by_offset() {
        let dir = tempfile::tempdir().unwrap();
        let index = LineIndex::create_in(dir.path()).unwrap();
        // "ab\ncd\n\nef": lines start at 0, 3, 6, 7.
        index.push(&[3, 6]).unwrap();
        index.push(&[7]).unwrap();
        assert_eq!(index.newlines(), 3);
        let starts: Vec<_> = (0..=5).map(|n| index.start_of(n).unwrap()).collect();
        assert_eq!(starts, [None, Some(0), Some(3), Some(6), Some(7), None]);
        let lines: Vec<_> = [0, 2, 3, 6, 7, 100]
            .iter()
            .map(|&o| index.line_at(o).unwrap())
            .collect();
        assert_eq!(lines, [1, 1, 2, 3, 4, 4]);
    }
}
