//! What the notifier tells readers each time the log changes: its stored
//! length and the upload's phase. Plain data with no dependencies, so the
//! fuzz target (`fuzz/`) compiles it with the range code alone.

/// Where the upload stands. Readers decide how to end their response from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No upload has started yet; readers wait for one.
    AwaitingUpload,
    /// The upload is running; the log may still grow.
    Uploading,
    /// The upload ended cleanly: the log is complete and its length final.
    Complete,
    /// The upload broke (client gone, bad framing, storage error), or none
    /// will ever come (livelog is stopping). The stored bytes stay readable,
    /// but every response must end *incomplete*.
    Broken,
}

impl Phase {
    /// The log's state as readers are told it (the `Livelog-State` header,
    /// `/status`, `/metrics`): `waiting` for the upload, `live` while it
    /// runs, `complete`, or `incomplete` when it broke.
    pub fn name(self) -> &'static str {
        match self {
            Phase::AwaitingUpload => "waiting",
            Phase::Uploading => "live",
            Phase::Complete => "complete",
            Phase::Broken => "incomplete",
        }
    }

    /// Every phase, in the order a log goes through them.
    pub const ALL: [Phase; 4] = [
        Phase::AwaitingUpload,
        Phase::Uploading,
        Phase::Complete,
        Phase::Broken,
    ];
}

/// What readers are told each time the log changes: the stored length in bytes
/// and the upload's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes stored so far (in the file, and readable).
    pub len: u64,
    /// Where the upload stands.
    pub phase: Phase,
}
