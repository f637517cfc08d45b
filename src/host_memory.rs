//! How the process's C allocator treats freed memory.
//!
//! A CKKS workload frees and allocates polynomials of megabytes all the
//! time (every key switch makes a 26-limb product at n15, 3.4 MB a
//! polynomial). glibc serves such blocks with `mmap` by default and unmaps
//! them when freed, and trims the top of its heap past 128 KiB free; the
//! next block then comes from the OS as new pages, each written for the
//! first time through a page fault. `hetl profile --setup 1` at n15 (one
//! layer, one thread) took 4.7 million page faults and 29 s of kernel time
//! in its 132 s on a 2-core VM; a key switch whose output was fresh pages
//! there took 10.5 ms, one reusing freed memory 2.7 ms.

/// Keeps freed memory in the process for reuse: blocks up to 32 MiB (the
/// most glibc allows) come from its heap instead of their own mappings, and
/// the heap is never trimmed. Resident memory then stays at the peak
/// working set instead of following it down and faulting it back in.
///
/// Call it once, early, in a process that runs CKKS work (the `hetl` CLI
/// does). A no-op where the C library is not glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; both values are
    // in the documented ranges (M_MMAP_THRESHOLD ≤ 32 MiB on 64-bit
    // targets; M_TRIM_THRESHOLD −1 disables trimming).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
    }
}

/// Host-memory counters of the process, as the OS reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostMemoryUsage {
    /// Peak resident set size so far, bytes (`VmHWM`).
    pub peak_resident_bytes: u64,
    /// Minor page faults so far: mostly first touches of fresh memory.
    pub minor_faults: u64,
}

/// The counters now, from `/proc/self` (Linux); `None` where it is missing
/// or unreadable, so that reports leave the figures out.
#[must_use]
pub fn usage() -> Option<HostMemoryUsage> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let peak_kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse().ok()?;
    // `pid (command) state ppid ...`: the command may hold spaces, so count
    // from its closing parenthesis; minflt is the 10th field.
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let minor_faults = stat.get(stat.rfind(')')? + 2..)?.split(' ').nth(7)?.parse().ok()?;
    Some(HostMemoryUsage { peak_resident_bytes: peak_kib * 1024, minor_faults })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::usage;

    #[test]
    fn touching_fresh_memory_shows_in_faults_and_peak() {
        let before = usage().expect("/proc/self on Linux");
        // 64 MiB of a fresh mapping (no keep_freed_memory in tests), one
        // byte written per 4 KiB page.
        let mut block = vec![0u8; 64 << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        std::hint::black_box(&mut block);
        let after = usage().expect("/proc/self on Linux");
        // At least one fault per page touched: 16384 with 4 KiB pages, 32 if
        // transparent huge pages back the mapping.
        assert!(after.minor_faults >= before.minor_faults + 32, "{before:?} → {after:?}");
        assert!(after.peak_resident_bytes >= 64 << 20, "{after:?}");
        drop(block);
    }
}
