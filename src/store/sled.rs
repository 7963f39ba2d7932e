//! The sled backend (cargo feature `sled`): one sled tree, each [`Table`] a key prefix (its
//! tag byte), so that one sled transaction covers every table.
//!
//! sled makes writes durable only on `flush`, so [`Backend::write`] flushes before it
//! returns. sled may run a transaction more than once on conflict; the store's transaction
//! bodies allow that.

use super::kv::{Backend, Entries, KvStore, Table, WriteTx};
use super::{Error, Result};
use ::sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use ::sled::Db;
use std::path::Path;

/// The folder name of the sled database inside the store folder.
const FOLDER_NAME: &str = "letsflow.sled";

/// The sled backend.
#[derive(Debug)]
pub struct SledBackend {
    db: Db,
}

/// A store in a sled database.
pub type SledStore = KvStore<SledBackend>;

impl SledStore {
    /// Opens the store in `folder` (creating it when missing), checks its format version and
    /// migrates an older one.
    pub fn open(folder: impl AsRef<Path>) -> Result<Self> {
        let folder = folder.as_ref();
        std::fs::create_dir_all(folder)?;
        let path = folder.join(FOLDER_NAME);
        // sled releases its file lock only when its background flusher has let go of the
        // database, a moment after the last handle was dropped: a store closed and opened
        // again at once (a restart in-process, a test) may find it still held.
        let mut attempts = 0;
        let db = loop {
            match ::sled::open(&path) {
                Err(e) if is_lock_held(&e) && attempts < LOCK_ATTEMPTS => {
                    attempts += 1;
                    std::thread::sleep(LOCK_RETRY);
                }
                other => break other?,
            }
        };
        KvStore::with_backend(SledBackend { db })
    }
}

/// How often, and how long apart, opening waits for a lock that is still held.
const LOCK_ATTEMPTS: u32 = 150;
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// Whether opening failed because another handle (or one being closed) holds the lock.
fn is_lock_held(e: &::sled::Error) -> bool {
    matches!(e, ::sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("could not acquire lock"))
}

fn tagged(table: Table, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(table.tag());
    k.extend_from_slice(key);
    k
}

struct SledTx<'a> {
    tree: &'a TransactionalTree,
    /// A failure of sled itself, kept so that a conflict makes sled retry instead of aborting.
    failure: Option<UnabortableTransactionError>,
}

impl SledTx<'_> {
    /// Keeps sled's error for [`Backend::write`] and gives the transaction body an error to
    /// return; `write` reports the kept one, so the placeholder for a conflict never escapes.
    fn fail(&mut self, e: UnabortableTransactionError) -> Error {
        let error = match &e {
            UnabortableTransactionError::Storage(s) => Error::Sled(s.clone()),
            UnabortableTransactionError::Conflict => {
                Error::Sled(::sled::Error::Unsupported("transaction conflict".into()))
            }
        };
        self.failure = Some(e);
        error
    }
}

impl WriteTx for SledTx<'_> {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.tree.get(tagged(table, key)) {
            Ok(value) => Ok(value.map(|v| v.to_vec())),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        match self.tree.insert(tagged(table, key), value) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()> {
        match self.tree.remove(tagged(table, key)) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl Backend for SledBackend {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(tagged(table, key))?.map(|v| v.to_vec()))
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>) -> Result<Entries<'_>> {
        let start = tagged(table, from);
        let iter = match to {
            Some(to) => self.db.range(start..tagged(table, to)),
            // The end of a table is the start of the next tag.
            None => match table.tag().checked_add(1) {
                Some(next) => self.db.range(start..vec![next]),
                None => self.db.range(start..),
            },
        };
        Ok(Box::new(iter.map(|entry| {
            let (k, v) = entry?;
            Ok((k.get(1..).unwrap_or_default().to_vec(), v.to_vec()))
        })))
    }

    fn write(&self, f: &dyn Fn(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        let result = self.db.transaction(|tree| {
            let mut tx = SledTx {
                tree,
                failure: None,
            };
            match f(&mut tx) {
                Ok(()) => Ok(()),
                Err(error) => Err(match tx.failure {
                    Some(UnabortableTransactionError::Conflict) => {
                        ConflictableTransactionError::Conflict
                    }
                    Some(UnabortableTransactionError::Storage(e)) => {
                        ConflictableTransactionError::Storage(e)
                    }
                    None => ConflictableTransactionError::Abort(error),
                }),
            }
        });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(error)) => return Err(error),
            Err(TransactionError::Storage(e)) => return Err(Error::Sled(e)),
        }
        self.db.flush()?;
        Ok(())
    }
}
