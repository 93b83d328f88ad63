//! The seed's `file_acl`: a callback asked before every file read or write.

/// Read-only grant: reads and listings (the Python `ACL_RO`).
pub const ACL_RO: u8 = 1;
/// Write-only grant: uploads, mkdirs and deletes (the Python `ACL_WO`).
pub const ACL_WO: u8 = 2;
/// Read-write grant: both of the above (the Python `ACL_RW`).
pub const ACL_RW: u8 = ACL_RO | ACL_WO;

/// What a file access is about to do, checked against the ACL's grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A file read or a directory listing.
    Read,
    /// An upload, a mkdir or a delete.
    Write,
}

/// What the ACL callback answered for one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclDecision {
    /// `ACL_RO`, `ACL_WO` or `ACL_RW`.
    Grant(u8),
    /// Answer with this status (an int >= 400 from the callback; 403 for
    /// anything unexpected; 500 when the callback failed).
    Deny(u16),
}

impl AclDecision {
    /// Ok when the grant covers `access`; else the status to answer with.
    pub fn permits(self, access: Access) -> Result<(), u16> {
        let needed = match access {
            Access::Read => ACL_RO,
            Access::Write => ACL_WO,
        };
        match self {
            AclDecision::Grant(bits) if bits & needed != 0 => Ok(()),
            AclDecision::Grant(_) => Err(403),
            AclDecision::Deny(code) => Err(code),
        }
    }
}

/// The server's current ACL callback, shared with the REPL's file transfers.
pub type AclSlot = std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<dyn FileAcl>>>>;

/// Asked with the device path (directories end with `/`); may block.
pub trait FileAcl: Send + Sync + 'static {
    /// The decision for `path`, a device path such as `/www/index.html`.
    fn check(&self, path: &str) -> AclDecision;
}

impl<F> FileAcl for F
where
    F: Fn(&str) -> AclDecision + Send + Sync + 'static,
{
    fn check(&self, path: &str) -> AclDecision {
        self(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_cover_only_their_access() {
        assert_eq!(AclDecision::Grant(ACL_RO).permits(Access::Read), Ok(()));
        assert_eq!(AclDecision::Grant(ACL_RO).permits(Access::Write), Err(403));
        assert_eq!(AclDecision::Grant(ACL_WO).permits(Access::Read), Err(403));
        assert_eq!(AclDecision::Grant(ACL_RW).permits(Access::Write), Ok(()));
        assert_eq!(AclDecision::Grant(0).permits(Access::Read), Err(403));
        assert_eq!(AclDecision::Deny(451).permits(Access::Read), Err(451));
    }
}
