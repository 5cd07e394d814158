//! Idle-class spinners: one busy process per core at the lowest scheduling class, so no core of
//! the machine ever sits idle while a measurement runs.
//!
//! A round trip to a local server is two wake-ups: the server's session wakes when the request
//! arrives, the benchmark when the answer does. A wake-up on a core that is idle costs what
//! waking that core costs (on a virtual machine, the hypervisor bringing a halted virtual CPU
//! back), and which core each side's session sleeps on is the scheduler's choice, kept for the
//! session's life. Without spinners the same `get` measured 0.28× and 0.42× against itself
//! between two fresh stores; with them 1.00×. They are for reads only: on this machine they
//! also slow the disk's answer (a PostgreSQL commit 3.9 ms with them, 0.97 ms without), so a
//! write measured with them would bury the adapter's own cost under the shared one. A spinner runs only when nothing else wants its
//! core (`SCHED_IDLE`, set by `chrt --idle 0`; `nice -n 19` where `chrt` is missing) and gives
//! the core up at once when a session wakes, so the wake-up costs the same whichever core it
//! lands on.
//!
//! Each spinner is this binary started with `--spin`; it spins on one thread and exits when its
//! standard input closes, so it cannot outlive the benchmark, however the benchmark ends.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The flag that makes this binary a spinner.
pub const SPIN_FLAG: &str = "--spin";

/// The running spinners; dropping them stops them.
pub struct Spinners {
    children: Vec<Child>,
}

impl Spinners {
    /// One spinner per core, at the lowest class this machine offers; the reason when none
    /// could be started.
    pub fn start() -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let launchers: [(&str, &[&str]); 2] = [("chrt", &["--idle", "0"]), ("nice", &["-n", "19"])];
        let mut last_error = String::new();
        for (program, args) in launchers {
            let mut children = Vec::with_capacity(cores);
            for _ in 0..cores {
                let spawned = Command::new(program)
                    .args(args)
                    .arg(&exe)
                    .arg(SPIN_FLAG)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn();
                match spawned {
                    Ok(child) => children.push(child),
                    Err(err) => {
                        last_error = format!("{program}: {err}");
                        break;
                    }
                }
            }
            let mut spinners = Self { children };
            if spinners.children.len() == cores {
                // A launcher that cannot set the class exits at once.
                std::thread::sleep(Duration::from_millis(50));
                if spinners.all_running() {
                    return Ok(spinners);
                }
                last_error = format!("{program} exited");
            }
            spinners.stop();
        }
        Err(last_error)
    }

    fn all_running(&mut self) -> bool {
        self.children
            .iter_mut()
            .all(|child| matches!(child.try_wait(), Ok(None)))
    }

    fn stop(&mut self) {
        for mut child in self.children.drain(..) {
            // Closing its input ends a spinner; kill is for one that does not read it.
            drop(child.stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A spinner's life: spin on one thread until standard input closes (the benchmark ended).
pub fn spin() -> ! {
    std::thread::spawn(|| {
        loop {
            std::hint::spin_loop();
        }
    });
    let mut sink = [0_u8; 64];
    let mut input = std::io::stdin().lock();
    while matches!(input.read(&mut sink), Ok(1..)) {}
    std::process::exit(0)
}
