//! `make dev`: the emulator, every template.yaml resource and route, on 127.0.0.1:3000.

use local::{emulator::Emulator, LocalStack, Options};

#[tokio::main]
async fn main() {
    // What went wrong, in words (a parameter out of its range, a port taken), not as a debug dump.
    if let Err(e) = run().await {
        eprintln!("make dev: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), local::Error> {
    tracing_subscriber_init();
    let port = local::env_parsed("PORT", 3000u16, PORT_NUMBER)?;
    let emulator_port = local::env_parsed("EMULATOR_PORT", 0u16, PORT_NUMBER)?;
    // The template's parameters as `sam deploy --parameter-overrides` takes them, checked as
    // CloudFormation checks them: PARAMETER_OVERRIDES='OfferTtlSeconds=90 ReminderOffsets=2h,30m'.
    let parameters = local::template::parameter_overrides(
        &std::env::var("PARAMETER_OVERRIDES").unwrap_or_default(),
    )
    .map_err(|e| format!("PARAMETER_OVERRIDES: {e}"))?;
    let emulator = Emulator::start(emulator_port)?;
    let sdk = local::sdk_config(&emulator.url);
    let stack = LocalStack::start(Options {
        prefix: local::LOCAL_STACK.into(),
        sdk,
        api_db: None,
        clock: Default::default(),
        parameters,
        addr: ([127, 0, 0, 1], port).into(),
    })
    .await?;
    println!("emulator on {}", emulator.url);
    println!(
        "table {}",
        stack.stack.table_name().map(String::as_str).unwrap_or("?")
    );
    let written = local::write_env_json(&stack.stack, &local::local_dir(), emulator.port())?;
    println!("wrote {} (sam local --env-vars)", written.display());
    println!("serving template.yaml's routes on {}", stack.url());
    tokio::signal::ctrl_c().await?;
    drop(emulator);
    Ok(())
}

/// What a port from the environment must be.
const PORT_NUMBER: &str = "a port number (0 to 65535)";

fn tracing_subscriber_init() {
    shared::lambda::init_local_logging();
}
