//! Virtual paths: whatever parses stays a list of plain names, and resolving
//! it against a real root never leaves the root.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use uhttpd::{DeviceFs, VirtualPath};

fn device() -> &'static DeviceFs {
    static FS: OnceLock<DeviceFs> = OnceLock::new();
    FS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("uhttpd-fuzz-root-{}", std::process::id()));
        std::fs::create_dir_all(root.join("www/sub")).unwrap();
        let _ = std::os::unix::fs::symlink("/etc", root.join("www/out"));
        let _ = std::os::unix::fs::symlink("sub", root.join("www/in"));
        DeviceFs::new(&root, Some("/sd")).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for parsed in [VirtualPath::from_url(&text), VirtualPath::from_device(&text)] {
        let Ok(vpath) = parsed else { continue };
        for name in vpath.components() {
            assert!(!name.is_empty() && name != "." && name != "..");
            assert!(!name.contains(['/', '\\', '\0']));
        }
        if let Ok(host) = device().resolve(&vpath) {
            let root: PathBuf = device().root().to_path_buf();
            assert!(host.starts_with(&root), "{host:?} outside {root:?}");
        }
    }
});
