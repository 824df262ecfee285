//! Starts the emulator (moto, single-threaded, made faithful; see emulator.py) as a child process.

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

/// Which failures the emulator injects (`EMULATOR_FAULTS`, e.g.
/// `transaction_conflict=0.3,throttling=0.05`) and the seed of its random choices (`EMULATOR_SEED`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    pub spec: String,
    pub seed: Option<u64>,
}

impl Faults {
    /// None injected.
    pub fn off() -> Faults {
        Faults::default()
    }

    /// As `EMULATOR_FAULTS` and `EMULATOR_SEED` say (off when unset).
    pub fn from_env() -> Faults {
        Faults {
            spec: std::env::var("EMULATOR_FAULTS").unwrap_or_default(),
            seed: std::env::var("EMULATOR_SEED")
                .ok()
                .and_then(|s| s.parse().ok()),
        }
    }
}

impl Emulator {
    /// The port it listens on (its URL's).
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default()
    }

    /// Starts on `port` (0: any free port) with the faults of the environment, and waits until it
    /// listens.
    pub fn start(port: u16) -> std::io::Result<Emulator> {
        Self::start_with(port, &Faults::from_env())
    }

    pub fn start_with(port: u16, faults: &Faults) -> std::io::Result<Emulator> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("emulator.py");
        let mut command = Command::new(python());
        command.env("EMULATOR_FAULTS", &faults.spec);
        match faults.seed {
            Some(seed) => command.env("EMULATOR_SEED", seed.to_string()),
            None => command.env_remove("EMULATOR_SEED"),
        };
        let mut child = command
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
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("the emulator's stdout is not piped"))?;
        BufReader::new(stdout).read_line(&mut line)?;
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
