//! SIGINT and SIGTERM during a run: what the run made for its scenarios — the temporary SQLite
//! folder, the PostgreSQL schemas, the MySQL databases it has open (every piece registered with
//! `user_engine::testing::scratch`) — is removed, and the process exits 130 or 143, as a shell
//! expects of a command ended by that signal. A second signal during the cleanup ends the process
//! at once.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use user_engine::testing::scratch;

/// Set when a signal arrived: the run is ending.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Stops the calling thread for good once a signal has arrived, so that a run being cleaned up
/// neither starts another scenario nor prints a report (nor exits with a status of its own)
/// before the signal's thread ends the process.
pub fn hold_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// Starts watching for the signals, on a thread of its own. Without the handlers (the system
/// refused them) a signal ends the process as it would have anyway, and the next run drops what it
/// left behind.
pub fn watch() {
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Some(signal) = signals.forever().next() else {
                return;
            };
            INTERRUPTED.store(true, Ordering::SeqCst);
            // From now on another signal means "stop cleaning, exit now".
            std::thread::spawn(move || {
                if let Some(again) = signals.forever().next() {
                    std::process::exit(128 + again);
                }
            });
            // Over the progress line, when there is one.
            let clear = if std::io::stderr().is_terminal() { "\r\x1b[2K" } else { "" };
            let _ = writeln!(
                std::io::stderr(),
                "{clear}interrupted: removing what this run made (press Ctrl-C again to quit at once)"
            );
            let dropped = scratch::drop_live();
            let _ = writeln!(
                std::io::stderr(),
                "interrupted: removed {} temporary {}",
                dropped.len(),
                if dropped.len() == 1 { "store" } else { "stores" }
            );
            std::process::exit(128 + signal);
        });
    // A thread that cannot start leaves the default behaviour, as above.
    drop(spawned);
}
