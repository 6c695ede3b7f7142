//! What commands print on stdout goes through here: a write error (a closed pipe, as in
//! `xx-info env | head -1`) becomes an error value instead of `println!`'s panic, and
//! `report` in lib.rs, the one place errors become exit codes, ends a broken pipe
//! quietly with 0, as ripgrep does.

use std::fmt::Display;
use std::io::{self, Write};

/// `text` and a newline, flushed.
pub fn line(text: impl Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// `text` as it is (no newline added), flushed.
pub fn text(text: impl Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    write!(out, "{text}")?;
    out.flush()
}

/// A line on stderr; a closed stderr is ignored (eprintln! would panic).
pub fn err_line(text: impl Display) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// Whether the error is (or was caused by) a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// An error whose text is printed as it is, without the `prog: ` prefix: the messages
/// tonistiigi/xx's scripts print (scripts match them), with our `help:` line after.
#[derive(Debug)]
pub struct AsXx(pub String);

impl Display for AsXx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AsXx {}

/// `anyhow::Error` of [`AsXx`].
pub fn as_xx(text: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(AsXx(text.into()))
}
