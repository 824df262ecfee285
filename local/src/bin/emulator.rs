//! `make emulator`: the emulator alone, with every resource of template.yaml provisioned (tables,
//! queues, the bus and its rules, schedule groups) and the events/ fixtures' items seeded, but no HTTP
//! server and no stream or queue pollers. It writes `local/env.json` for `sam local --env-vars` and
//! serves `make invoke` (`local/src/bin/invoke.rs`) until Ctrl-C. Each function's IAM policies are
//! enforced for its key (`local::iam`), as under `make dev`.
//!
//! EMULATOR_PORT (default 4010) is where it listens; CONTAINER_EMULATOR_URL overrides the endpoint
//! env.json gives the functions (default `http://host.docker.internal:<port>`); POLLERS=1 also runs
//! the stream and queue pollers, Scheduler's firing and the bus tap, as `make dev` does (publish and the
//! worker in this process), so that what an invoked function writes has its effects.

use local::emulator::Emulator;
use local::stack::Stack;
use local::template::Template;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("make emulator: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), local::Error> {
    let port = local::env_parsed("EMULATOR_PORT", local::EMULATOR_PORT, "a port number")?;
    let emulator = Emulator::start(port)
        .map_err(|e| format!("the emulator does not start on port {port}: {e} (another `make emulator`? set EMULATOR_PORT)"))?;
    let sdk = local::sdk_config(&emulator.url);
    let stack = std::sync::Arc::new(
        Stack::provision(
            Template::load(&local::template_path())?,
            local::LOCAL_STACK,
            sdk.clone(),
        )
        .await?,
    );
    local::seed_fixtures(&stack, &sdk).await?;
    // From here on each function's key may do only what its policies allow, as under `make dev`:
    // `make invoke` signs as the function it runs.
    local::iam::enforce(&stack).await?;
    let pollers = std::env::var("POLLERS").is_ok_and(|v| v == "1");
    if pollers {
        local::sources::start(&stack)?;
    }
    let written = local::write_env_json(&stack, &local::local_dir(), emulator.port())?;
    println!("emulator on {}", emulator.url);
    println!(
        "table {}",
        stack.table_name().map(String::as_str).unwrap_or("?")
    );
    println!(
        "wrote {} ({} functions)",
        written.display(),
        stack.functions.len()
    );
    if pollers {
        println!("pollers on: the stream feeds publish, the jobs queue the worker");
    }
    println!(
        "IAM: each function's policies hold for its key, local-<LogicalId> (make invoke signs with it; \
         sam local signs with your shell's AWS_ACCESS_KEY_ID)"
    );
    println!("ready: make invoke FUNCTION=<name>, or sam local invoke <LogicalId> --env-vars local/env.json");
    tokio::signal::ctrl_c().await?;
    drop(emulator);
    Ok(())
}
