//! Cold-start benchmark (`make bench`): runs each function's release binary against a minimal Lambda
//! Runtime API on 127.0.0.1, hands it its events/ fixture, and measures from process start to the first
//! `/next` (init), to the posted response (first response), and the peak resident memory (VmHWM). Each
//! round uses a freshly provisioned stack in the emulator, so every run does the same DynamoDB work.
//!
//! `floor` is the least such a function can be (lambda_runtime + aws-sdk-dynamodb, one GetItem), built
//! from the same workspace and profile: the budget is every function within 1.5x of it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use local::emulator::Emulator;
use local::stack::Stack;
use local::template::Template;

#[derive(Default)]
struct Run {
    next_at: Option<Duration>,
    response_at: Option<Duration>,
    response: String,
    served: bool,
}

/// Serves one invocation of `event`, then holds further `/next` calls open until the process is killed.
async fn runtime_api(event: String, started: Instant, run: Arc<Mutex<Run>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (event, run) = (event.clone(), run.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (event, run) = (event.clone(), run.clone());
                        async move {
                            let path = req.uri().path().to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let elapsed = started.elapsed();
                            let ok = |body: String| {
                                hyper::Response::builder()
                                    .status(202)
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap()
                            };
                            if path.ends_with("/invocation/next") {
                                let first = {
                                    let mut r = run.lock().unwrap();
                                    r.next_at.get_or_insert(elapsed);
                                    !std::mem::replace(&mut r.served, true)
                                };
                                if !first {
                                    std::future::pending::<()>().await;
                                }
                                let deadline = jiff::Timestamp::now().as_millisecond() + 10_000;
                                return Ok::<_, Infallible>(
                                    hyper::Response::builder()
                                        .status(200)
                                        .header("lambda-runtime-aws-request-id", "bench-1")
                                        .header("lambda-runtime-deadline-ms", deadline.to_string())
                                        .header(
                                            "lambda-runtime-invoked-function-arn",
                                            "arn:aws:lambda:us-east-1:123456789012:function:bench",
                                        )
                                        .header(
                                            "lambda-runtime-trace-id",
                                            "Root=1-00000000-000000000000000000000000",
                                        )
                                        .body(Full::new(Bytes::from(event)))
                                        .unwrap(),
                                );
                            }
                            let mut r = run.lock().unwrap();
                            r.response_at.get_or_insert(elapsed);
                            r.response = format!("{path}: {}", String::from_utf8_lossy(&body));
                            Ok(ok(String::new()))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Sample {
    init: Duration,
    first: Duration,
    rss_kib: u64,
    response: String,
}

async fn measure(binary: &PathBuf, env: &HashMap<String, String>, event: &str) -> Sample {
    let run = Arc::new(Mutex::new(Run::default()));
    let api_started = Instant::now();
    let port = runtime_api(event.to_owned(), api_started, run.clone()).await;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (build with `cargo build --release -p functions -p local`)",
                binary.display()
            )
        });
    let pid = child.id().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rss = 0;
    while run.lock().unwrap().response_at.is_none() && Instant::now() < deadline {
        rss = rss.max(peak_rss_kib(pid));
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    rss = rss.max(peak_rss_kib(pid));
    let _ = child.kill().await;
    let r = run.lock().unwrap();
    let spawned_after = started.duration_since(api_started);
    Sample {
        init: r
            .next_at
            .unwrap_or(Duration::MAX)
            .saturating_sub(spawned_after),
        first: r
            .response_at
            .unwrap_or(Duration::MAX)
            .saturating_sub(spawned_after),
        rss_kib: rss,
        response: r.response.chars().take(160).collect(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // The release build `make bench` made, in CARGO_TARGET_DIR when it is set, as cargo builds there.
    let release = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("release");
    let emulator = Emulator::start(0).expect("emulator");
    let sdk = local::sdk_config(&emulator.url);
    let template = Template::load(&local::template_path()).unwrap();
    let functions = template.functions().unwrap();
    let mut names: Vec<String> = functions.iter().map(|f| f.binary.clone()).collect();
    names.push("floor".into());
    let mut samples: HashMap<String, Vec<Sample>> = HashMap::new();
    for round in 0..rounds {
        let stack = Stack::provision(template.clone(), &format!("bench{round}"), sdk.clone())
            .await
            .unwrap();
        local::seed_fixture_slot(&stack, &sdk).await.expect("seed");
        for name in &names {
            let mut env: HashMap<String, String> = HashMap::from([
                ("AWS_REGION".into(), "us-east-1".into()),
                ("AWS_ACCESS_KEY_ID".into(), "bench".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "bench".into()),
                ("AWS_ENDPOINT_URL".into(), emulator.url.clone()),
                ("AWS_LAMBDA_FUNCTION_NAME".into(), name.clone()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "128".into()),
                ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
                ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
            ]);
            let fixture = match functions.iter().find(|f| &f.binary == name) {
                Some(f) => {
                    env.extend(stack.environment(f).unwrap());
                    std::fs::read_to_string(root.join(format!("events/{name}.json"))).unwrap()
                }
                None => {
                    env.insert("TABLE_NAME".into(), stack.table_name().unwrap().clone());
                    "{}".into()
                }
            };
            let binary = if name == "floor" {
                release.join("coldstart-floor")
            } else {
                release.join(name)
            };
            let s = measure(&binary, &env, &fixture).await;
            samples.entry(name.clone()).or_default().push(s);
        }
    }
    println!(
        "{:<20} {:>10} {:>14} {:>12} {:>10}",
        "function", "init ms", "first resp ms", "peak RSS MB", "size MB"
    );
    for name in &names {
        let s = &samples[name];
        let size = std::fs::metadata(if name == "floor" {
            release.join("coldstart-floor")
        } else {
            release.join(name)
        })
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);
        println!(
            "{:<20} {:>10.1} {:>14.1} {:>12.1} {:>10.2}",
            name,
            median(s.iter().map(|x| x.init).collect()).as_secs_f64() * 1e3,
            median(s.iter().map(|x| x.first).collect()).as_secs_f64() * 1e3,
            s.iter().map(|x| x.rss_kib).max().unwrap_or(0) as f64 / 1024.0,
            size
        );
    }
    println!("(median of {rounds} cold starts; peak RSS is the highest VmHWM seen)");
    for name in &names {
        println!("{name}: {}", samples[name][0].response);
    }
}
