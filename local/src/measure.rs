//! What a benchmark measures of this process: its CPU time and its peak memory (`make bench-largest`,
//! `make bench-search`).

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
