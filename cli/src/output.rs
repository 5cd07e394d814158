//! What leaves the process: the exit verdict, stdout writes that survive a closed pipe, the
//! `error: ...` line (or a pre-rendered diagnostic) on stderr, and a panic hook that keeps the
//! deliberate panics of conformance scenarios off the terminal.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// How a command that ran to the end came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing wrong: exit 0.
    Clean,
    /// It found something (a failure, not ready, spec problems): exit 1.
    Findings,
}

impl Verdict {
    /// `Findings` when `found`, else `Clean`.
    pub fn from_findings(found: bool) -> Self {
        if found {
            Verdict::Findings
        } else {
            Verdict::Clean
        }
    }
}

/// An error whose text is already the complete report (a multi-line spec diagnostic with source
/// excerpts); printed as it is, without the `error: ` prefix.
#[derive(Debug)]
pub struct Rendered(pub String);

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.trim_end())
    }
}

impl std::error::Error for Rendered {}

/// Writes `text` to stdout. A reader that went away (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// Prints a command's error on stderr: one `error: ...` line, or a rendered diagnostic.
pub fn report_error(error: &anyhow::Error) {
    let text = match error.downcast_ref::<Rendered>() {
        Some(rendered) if rendered.0.is_empty() => return,
        Some(rendered) => format!("{rendered}\n"),
        // `{:#}` joins the context chain on one line: "cannot open x: permission denied".
        None => format!("error: {error:#}\n"),
    };
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

static SCENARIO_RUNNING: AtomicBool = AtomicBool::new(false);

/// Replaces the default panic message (and backtrace hint) with one `error:` line, and with
/// nothing at all while a scenario runs: the runner catches those panics (some scenarios panic on
/// purpose, inside a transaction) and reports them as located failures.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if SCENARIO_RUNNING.load(Ordering::Relaxed) {
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("a non-text panic payload");
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            io::stderr(),
            "error: internal error: {message}{place} (this is a bug in user-engine)"
        );
    }));
}

/// Silences the panic hook until the guard drops.
pub struct QuietPanics(());

impl QuietPanics {
    /// Starts a quiet stretch.
    pub fn begin() -> Self {
        SCENARIO_RUNNING.store(true, Ordering::Relaxed);
        QuietPanics(())
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        SCENARIO_RUNNING.store(false, Ordering::Relaxed);
    }
}

/// A one-line `[done/total] what` counter on stderr, drawn only when stderr is a terminal (never
/// in logs or pipes) and at most every 50 ms.
pub struct ProgressLine {
    total: usize,
    done: usize,
    enabled: bool,
    last_draw: Option<std::time::Instant>,
}

impl ProgressLine {
    /// A counter that will count to `total`.
    pub fn new(total: usize) -> Self {
        use std::io::IsTerminal;
        Self {
            total,
            done: 0,
            enabled: io::stderr().is_terminal(),
            last_draw: None,
        }
    }

    /// Counts one more done, and shows `line`.
    pub fn step(&mut self, line: &str) {
        self.done += 1;
        self.show(line);
    }

    /// Shows `line` without counting.
    pub fn show(&mut self, line: &str) {
        if !self.enabled
            || self
                .last_draw
                .is_some_and(|t| t.elapsed() < std::time::Duration::from_millis(50))
        {
            return;
        }
        self.last_draw = Some(std::time::Instant::now());
        let width = self.total.to_string().len();
        let _ = write!(
            io::stderr(),
            "\r\x1b[2K[{:>width$}/{}] {line}",
            self.done,
            self.total
        );
    }

    /// Clears the line, if one was drawn.
    pub fn finish(&self) {
        if self.enabled && self.last_draw.is_some() {
            let _ = write!(io::stderr(), "\r\x1b[2K");
        }
    }
}
