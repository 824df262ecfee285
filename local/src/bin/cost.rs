//! `make bench-cost`: every operation's DynamoDB units, Lambda invocations and GB-seconds, events,
//! SQS requests and schedules, what they cost at us-east-1's on-demand prices, a million bookings'
//! month, and the reference design's always-on stack beside it (`local::cost`).

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), local::Error> {
    let (_emulator, _stack, bench) = local::cost::deploy().await?;
    let ops = local::cost::run(&bench).await?;
    let series = local::cost::series(&bench.stack.metrics.all());
    print!("{}", local::cost::report(&ops, series)?);
    Ok(())
}
