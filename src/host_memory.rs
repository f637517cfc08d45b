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
