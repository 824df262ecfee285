//! What a benchmark measures of this process: its CPU time and its peak memory (`make bench-largest`,
//! `make bench-search`, `make bench-feed`).

/// User plus system CPU of this process so far, in milliseconds.
pub fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) * 10.0 // fields 14 and 15 of proc(5), at 100 ticks a second
}

/// Peak resident memory (VmHWM) in MB since the last reset.
pub fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

extern "C" {
    /// glibc: gives freed heap memory back to the system, so that what an earlier step freed does not
    /// count in the next step's peak.
    fn malloc_trim(pad: usize) -> i32;
}

pub fn reset_peak() {
    // SAFETY: malloc_trim only releases free memory of the allocator; it has no preconditions.
    unsafe { malloc_trim(0) };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// What a stretch of this process took: wall and CPU time, its peak memory, and the DynamoDB requests
/// a counted client sent.
pub struct Measured {
    pub wall_ms: f64,
    pub cpu_ms: f64,
    pub peak_mb: f64,
    pub requests: u32,
}

/// A stretch of this process being measured: [`Stretch::start`] resets the counter and the peak,
/// [`Stretch::end`] reads them.
pub struct Stretch<'a> {
    counter: &'a crate::counter::RequestCounter,
    cpu: f64,
    wall: std::time::Instant,
}

impl<'a> Stretch<'a> {
    pub fn start(counter: &'a crate::counter::RequestCounter) -> Stretch<'a> {
        counter.take();
        reset_peak();
        Stretch {
            counter,
            cpu: cpu_ms(),
            wall: std::time::Instant::now(),
        }
    }

    pub fn end(self) -> Measured {
        Measured {
            wall_ms: self.wall.elapsed().as_secs_f64() * 1e3,
            cpu_ms: cpu_ms() - self.cpu,
            peak_mb: peak_mb(),
            requests: self.counter.take().values().sum(),
        }
    }
}
