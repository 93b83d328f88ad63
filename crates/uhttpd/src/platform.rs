//! Linux system calls the engine prefers, and the switch to their portable
//! fallbacks. `openat2` (opens confined beneath root by the kernel),
//! `sendfile` and the socket's unsent-bytes ioctl are Linux's. Elsewhere, and
//! on Linux when the environment variable `UHTTPD_PORTABLE=1` is set (so the
//! test suite runs the fallbacks too), the engine opens paths one component
//! at a time with `openat` and `O_NOFOLLOW`, sends files with `pread` and
//! `write`, and counts a write that waits a whole stall timeout as stalled.

use std::sync::OnceLock;

/// True where the Linux-only calls are used.
pub(crate) fn linux_fast_paths() -> bool {
    static FAST: OnceLock<bool> = OnceLock::new();
    *FAST.get_or_init(|| {
        let forced = std::env::var_os("UHTTPD_PORTABLE").is_some_and(|v| !v.is_empty() && v != "0");
        cfg!(target_os = "linux") && !forced
    })
}
