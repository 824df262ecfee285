//! Starts the emulator (moto, single-threaded; see emulator.py) as a child process.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Emulator {
    pub url: String,
    child: Child,
}

/// The Python of the project's venv (made by `make venv`), unless `EMULATOR_PYTHON` names another.
pub fn python() -> PathBuf {
    std::env::var_os("EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"))
}

impl Emulator {
    /// Starts on `port` (0: any free port) and waits until it listens.
    pub fn start(port: u16) -> std::io::Result<Emulator> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("emulator.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot start {} ({e}); run `make venv`", python().display()),
                )
            })?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other(format!("emulator did not start: {line:?}")))?;
        Ok(Emulator {
            url: format!("http://127.0.0.1:{port}"),
            child,
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
