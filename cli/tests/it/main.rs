//! Tests of the `user-engine` binary, run as a user runs it: the built executable in a sandbox
//! directory (its working directory and `TMPDIR`), with insta pinning what it prints. Paths of the
//! sandbox and timings are normalized before pinning.

mod bad_input;
mod conformance;
mod explore;
mod fixtures;
mod help;
mod json_schema;
mod mysql;
mod postgres;
mod spec;
mod store_ops;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// Exit status (`-1` if killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A scratch directory: `work/` is the binary's working directory, `tmp/` its `TMPDIR`.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh, empty sandbox.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("user-engine-cli-it-")
            .tempdir()
            .expect("create a sandbox");
        std::fs::create_dir(dir.path().join("work")).unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Self { dir }
    }

    /// The binary's working directory.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The binary's temporary directory.
    pub fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// Runs `user-engine ARGS...`.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_user-engine"))
            .args(args)
            .current_dir(self.work())
            .env("TMPDIR", self.tmp())
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .expect("run the user-engine binary");
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Starts `user-engine ARGS...` without waiting for it, its output captured.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_user-engine"))
            .args(args)
            .current_dir(self.work())
            .env("TMPDIR", self.tmp())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the user-engine binary")
    }

    /// Sends `signal` (`INT`, `TERM`) to a started run once `started` holds (polled for up to 60
    /// s), then waits for it to end.
    pub fn interrupt(
        &self,
        child: std::process::Child,
        signal: &str,
        mut started: impl FnMut() -> bool,
    ) -> Run {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !started() {
            assert!(
                std::time::Instant::now() < deadline,
                "the run never reached the point to interrupt it at"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
        let output = child.wait_with_output().expect("wait for the run");
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// `text` with the sandbox's path as `[SANDBOX]` and durations as `[TIME]`.
    pub fn normalize(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for path in [self.dir.path().to_path_buf(), canonical(self.dir.path())] {
            text = text.replace(&path.display().to_string(), "[SANDBOX]");
        }
        normalize_timings(&text)
    }

    /// Every file and directory under the sandbox, for checking that a command wrote nothing.
    pub fn listing(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                found.push(
                    path.strip_prefix(self.dir.path())
                        .unwrap()
                        .display()
                        .to_string(),
                );
                if path.is_dir() {
                    pending.push(path);
                }
            }
        }
        found.sort();
        found
    }
}

/// SIGINT, then SIGTERM, in the middle of `user-engine conformance --store STORE` on a server:
/// each run exits 128 + the signal and leaves none of its scratch, which `scratch(prefix)` lists
/// (a run's schemas or databases all start `ue_test_<pid>t`). After the first run the leftovers
/// `ue_test_1t1_0` and `ue_test_99_0_00000000` of runs that are gone must be gone too.
pub fn interrupted_runs_leave_nothing(
    sandbox: &Sandbox,
    store: &str,
    mut scratch: impl FnMut(&str) -> Vec<String>,
) {
    for (signal, status) in [("INT", 130), ("TERM", 143)] {
        let child = sandbox.spawn(&["conformance", "--store", store]);
        let ours = format!("ue_test_{}t", child.id());
        // Mid-run: the probe is `_0`, scenarios' stores come after it.
        let run = sandbox.interrupt(child, signal, || {
            scratch(&ours)
                .iter()
                .any(|name| name.rsplit('_').next().and_then(|n| n.parse::<u32>().ok()) >= Some(3))
        });
        assert_eq!(run.status, status, "SIG{signal}: {}", run.stderr);
        assert_eq!(scratch(&ours), Vec::<String>::new(), "SIG{signal}");
        if signal == "INT" {
            // The run drops the leftovers of runs that are gone as it starts. Another test's run
            // on the same server, started meanwhile, sees the same dead runs and may drop them
            // first, so what is checked is that they are gone, not who said so.
            for name in ["ue_test_1t1_0", "ue_test_99_0_00000000"] {
                assert!(
                    scratch(name).is_empty(),
                    "{name} is left after a run: {}",
                    run.stderr
                );
            }
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// ` in 1.23s` → ` in [TIME]`, `time="0.004"` → `time="[TIME]"`.
pub fn normalize_timings(text: &str) -> String {
    let text = replace_number_between(text, " in ", "s");
    replace_number_between(&text, "time=\"", "\"")
}

/// Replaces every decimal number that directly follows `before` and precedes `after`.
fn replace_number_between(text: &str, before: &str, after: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(before) {
        let start = i + before.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits > 0 && rest[digits..].starts_with(after) {
            out.push_str("[TIME]");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// The workspace root (for the committed generated files).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ sits in the workspace")
        .to_path_buf()
}

#[test]
fn timings_are_normalized() {
    assert_eq!(
        normalize_timings("ok. 3 passed in 0.52s\n"),
        "ok. 3 passed in [TIME]s\n"
    );
    assert_eq!(
        normalize_timings("<a time=\"12.345\"/> in memory"),
        "<a time=\"[TIME]\"/> in memory"
    );
}
