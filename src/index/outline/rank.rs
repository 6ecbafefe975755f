//! How much an error line says about the job's failure: the rank both the
//! general rules (`errors.rs`) and Treeherder's for Firefox CI logs
//! (`treeherder.rs`) give a line.

use serde::Serialize;

/// How much an error line says about the job's failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// The job's own failure line: the CI system's verdict or annotation,
    /// a test harness's failure, a step's non-zero exit.
    Failure = 1,
    /// A tool's error report.
    Tool = 2,
}

impl Serialize for Rank {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}
