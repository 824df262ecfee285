//! `make invoke FUNCTION=<name> [EVENT=events/<name>.json]`: one function's binary run under
//! cargo-lambda's Lambda runtime emulator (`cargo lambda watch --only-lambda-apis`, then `cargo lambda
//! invoke`), against the resources `make emulator` provisioned, with the environment `local/env.json`
//! gives it; prints the function's response on stdout (its log lines on stderr) and exits non-zero
//! when the invocation fails. The function signs as itself (`local::iam::key`), so the emulator holds
//! it to its IAM policies as `make emulator` gave them: a call they do not allow is AccessDenied, and
//! `make invoke` names each one and fails.
//!
//! `invoke <function> [event file]`. ENV_JSON (default `local/env.json`), EMULATOR_URL (default
//! `http://127.0.0.1:<EMULATOR_PORT or 4010>`: the functions run on this machine, not in a container),
//! INVOKE_PORT (default 9010, cargo-lambda's), FUNCTIONS_DIR (where the function binaries are: default
//! the workspace's `target/debug`, or CARGO_TARGET_DIR's), CARGO_LAMBDA (default the venv's) and
//! STACK (default `local`, `make emulator`'s: the stack whose keys the function signs with).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("make invoke: {e}");
            std::process::exit(2);
        }
    }
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_or(name: &str, default: impl FnOnce() -> String) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(default)
}

fn run() -> Result<i32, local::Error> {
    let root = local::local_dir().join("..");
    let mut args = std::env::args().skip(1);
    let name = args
        .next()
        .ok_or("name the function: make invoke FUNCTION=get-appointment")?;
    let event = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(format!("events/{name}.json")));
    let template = local::template::Template::load(&local::template_path())?;
    let function = template
        .functions()?
        .into_iter()
        .find(|f| f.binary == name)
        .ok_or_else(|| format!("template.yaml has no function {name}"))?;
    let env_json = PathBuf::from(env_or("ENV_JSON", || {
        local::local_dir().join("env.json").display().to_string()
    }));
    let text = std::fs::read_to_string(&env_json).map_err(|e| {
        format!(
            "{}: {e}; start `make emulator` first (it writes that file)",
            env_json.display()
        )
    })?;
    let all: serde_json::Value = serde_json::from_str(&text)?;
    let vars = all
        .get(&function.logical_id)
        .and_then(|v| v.as_object())
        .ok_or_else(|| {
            format!(
                "{} names no {}: run `make emulator` again",
                env_json.display(),
                function.logical_id
            )
        })?;
    let emulator = env_or("EMULATOR_URL", || {
        let port = env_or("EMULATOR_PORT", || local::EMULATOR_PORT.to_string());
        format!("http://127.0.0.1:{port}")
    });
    let port: u16 = env_or("INVOKE_PORT", || "9010".into())
        .parse()
        .map_err(|_| "INVOKE_PORT is not a port number")?;
    let binary = PathBuf::from(env_or("FUNCTIONS_DIR", || {
        std::env::var("CARGO_TARGET_DIR")
            .map_or_else(|_| root.join("target"), PathBuf::from)
            .join("debug")
            .display()
            .to_string()
    }))
    .join(&name);
    if !binary.exists() {
        return Err(format!(
            "{} is not built: cargo build -p functions --bin {name}",
            binary.display()
        )
        .into());
    }
    let cargo_lambda = env_or("CARGO_LAMBDA", || {
        root.join(".venv/bin/cargo-lambda").display().to_string()
    });

    // The runtime API: cargo-lambda's control plane, serving the function's invocations at
    // /.rt/<function> (it prints the variables a function started elsewhere must have).
    let _watch = Running(
        Command::new(&cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{cargo_lambda}: {e} (run `make venv`)"))?,
    );
    wait_for_port(port, Duration::from_secs(30))?;
    let mut function_env: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    function_env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    let key = local::iam::key(&env_or("STACK", || local::LOCAL_STACK.into()), &function);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let refused_before = runtime.block_on(local::iam::refused(&emulator))?.len();
    let _function = Running(
        Command::new(&binary)
            .envs(function_env)
            .env("AWS_ENDPOINT_URL", &emulator)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                function.memory_mb.to_string(),
            )
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{name}"),
            )
            // Its logs (and metric and audit lines) to stderr: stdout is the response alone.
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?,
    );
    let answer = Command::new(&cargo_lambda)
        .args(["lambda", "invoke", &name, "--data-file"])
        .arg(&event)
        .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
        .arg(port.to_string())
        .args(["--output-format", "json"])
        .current_dir(&root)
        .output()?;
    print!("{}", String::from_utf8_lossy(&answer.stdout));
    eprint!("{}", String::from_utf8_lossy(&answer.stderr));
    // Refusals show in the response only as the function reports them (a 500, or nothing at all for a
    // call whose failure it tolerates): name each one.
    let refused: Vec<_> = runtime
        .block_on(local::iam::refused(&emulator))?
        .into_iter()
        .skip(refused_before)
        .filter(|r| r["key"] == key.as_str())
        .collect();
    for r in &refused {
        let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        eprintln!(
            "make invoke: IAM refused {key} {} on {} {}: {}'s policies in template.yaml do not allow it",
            text("action"),
            text("resource"),
            r["context"],
            function.logical_id
        );
    }
    if !refused.is_empty() {
        return Ok(1);
    }
    Ok(answer.status.code().unwrap_or(1))
}

fn wait_for_port(port: u16, within: Duration) -> Result<(), local::Error> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("cargo lambda watch did not listen on {port} within {within:?}").into())
}
