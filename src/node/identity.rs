//! The node's key file: `node.key` in the data folder, the 32-byte ed25519 secret as hex,
//! created at first start with mode 0600 (owner only). The same key is the libp2p identity.

use crate::chain::NodeKey;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name in the data folder.
pub const KEY_FILE: &str = "node.key";

/// Why the key file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("node key {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("node key {}: expected 64 hex digits (an ed25519 secret key)", .0.display())]
    Malformed(PathBuf),
}

/// The key in `data`'s key file, created (with a fresh random key) when there is none.
/// Returns the key and whether it was created.
pub fn load_or_create(data: &Path) -> Result<(NodeKey, bool), KeyFileError> {
    let path = data.join(KEY_FILE);
    let io = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    match load(data)? {
        Some(key) => {
            warn_if_readable_by_others(&path);
            Ok((key, false))
        }
        None => {
            std::fs::create_dir_all(data).map_err(io)?;
            let key = generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).map_err(io)?;
            writeln!(file, "{}", hex::encode(key.secret_bytes())).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::info!(node = %key.id(), file = %path.display(), "node key created");
            Ok((key, true))
        }
    }
}

/// The key in `data`'s key file, or `None` when there is no key file yet. Reads only.
pub fn load(data: &Path) -> Result<Option<NodeKey>, KeyFileError> {
    let path = data.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| KeyFileError::Malformed(path.clone()))?;
            Ok(Some(NodeKey::from_bytes(&secret)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyFileError::Io { path, source }),
    }
}

/// A new random key (for nodes without a data folder, and for new key files).
pub fn generate() -> NodeKey {
    let secret: [u8; 32] = rand::random();
    NodeKey::from_bytes(&secret)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "the node key can be read by others: chmod 600 it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (key, created) = load_or_create(dir.path()).expect("create");
        assert!(created);
        let (again, created) = load_or_create(dir.path()).expect("read");
        assert!(!created);
        assert_eq!(again.id(), key.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(KEY_FILE), "nonsense").expect("write");
        assert!(matches!(
            load_or_create(dir.path()),
            Err(KeyFileError::Malformed(_))
        ));
        assert!(matches!(load(dir.path()), Err(KeyFileError::Malformed(_))));
        let empty = tempfile::tempdir().expect("temp dir");
        assert!(load(empty.path()).expect("no key file").is_none());
        assert!(
            !empty.path().join(KEY_FILE).exists(),
            "load creates nothing"
        );
    }
}
