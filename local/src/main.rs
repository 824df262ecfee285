//! `make dev`: the emulator, every template.yaml resource and route, on 127.0.0.1:3000.

use local::{emulator::Emulator, LocalStack, Options};

#[tokio::main]
async fn main() -> Result<(), local::Error> {
    tracing_subscriber_init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let emulator_port: u16 = std::env::var("EMULATOR_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let emulator = Emulator::start(emulator_port)?;
    let sdk = local::sdk_config(&emulator.url);
    let stack = LocalStack::start(Options {
        prefix: "local".into(),
        sdk,
        api_db: None,
        clock: Default::default(),
        parameters: vec![],
        addr: ([127, 0, 0, 1], port).into(),
    })
    .await?;
    println!("emulator on {}", emulator.url);
    println!(
        "table {}",
        stack.stack.table_name().map(String::as_str).unwrap_or("?")
    );
    println!("serving template.yaml's routes on {}", stack.url());
    tokio::signal::ctrl_c().await?;
    drop(emulator);
    Ok(())
}

fn tracing_subscriber_init() {
    shared::lambda::init_local_logging();
}
