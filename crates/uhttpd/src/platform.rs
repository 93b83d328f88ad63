//! Linux system calls the engine prefers, and the switch to their portable
//! fallbacks. `openat2` (opens confined beneath root by the kernel),
//! `sendfile`, the socket's unsent-bytes ioctl and `renameat2`'s
//! `RENAME_NOREPLACE` are Linux's. Elsewhere, and on Linux when the
//! environment variable `UHTTPD_PORTABLE=1` is set (so the test suite runs
//! the fallbacks too), the engine opens paths one component at a time with
//! `openat` and `O_NOFOLLOW`, sends files with `pread` and `write`, counts a
//! write that waits a whole stall timeout as stalled, and moves a file
//! without replacing one with `linkat` and `unlinkat` (a directory: a look
//! at the destination, then `renameat`).
//! The process's resident memory is read where Linux shows it, and unknown
//! (0) elsewhere.

use std::sync::OnceLock;

/// True where the Linux-only calls are used.
pub(crate) fn linux_fast_paths() -> bool {
    static FAST: OnceLock<bool> = OnceLock::new();
    *FAST.get_or_init(|| {
        let forced = std::env::var_os("UHTTPD_PORTABLE").is_some_and(|v| !v.is_empty() && v != "0");
        cfg!(target_os = "linux") && !forced
    })
}

/// Asks the kernel to acknowledge the next segments at once rather than
/// after the delayed-ACK timer (40 ms or more). webrepl_cli.py sends each
/// small frame as two writes with Nagle on, so its second write waits for
/// the ACK of its first: without this, every 16 KiB chunk of a `get` costs
/// a delayed ACK (0.4 MB/s). Asked right after a read that got bytes, it
/// also sends an ACK the kernel was holding back; the kernel leaves
/// quick-ack mode by itself (when the server writes), so it is asked after
/// every read. Elsewhere (and where it fails) nothing.
pub(crate) fn quick_ack(fd: std::os::fd::RawFd) {
    #[cfg(target_os = "linux")]
    {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads one int through the pointer; a bad fd only fails.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    let _ = fd;
}

/// The process's resident set size in bytes: resident pages (the second
/// field of Linux's `/proc/self/statm`) times the page size; 0 elsewhere or
/// when it cannot be read.
pub(crate) fn resident_bytes() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages = statm
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok());
        // SAFETY: sysconf only reads a configuration value.
        let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) });
        if let (Some(pages), Ok(page_size)) = (pages, page_size) {
            return pages * page_size;
        }
    }
    0
}
