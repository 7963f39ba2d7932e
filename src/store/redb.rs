//! The default backend: one redb file, one redb table per [`Table`], byte keys and values.
//!
//! redb commits with `Durability::Immediate` by default: when `commit` returns, the data is
//! on disk, and a crash never leaves a half-written transaction.

use super::kv::{Backend, Entries, KvStore, Table, WriteTx};
use super::{Error, Result};
use ::redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use std::ops::Bound;
use std::path::Path;

/// The file name of the store inside its folder.
const FILE_NAME: &str = "letsflow.redb";

/// The redb backend.
#[derive(Debug)]
pub struct RedbBackend {
    db: Database,
}

/// A store in a redb file (the default).
pub type RedbStore = KvStore<RedbBackend>;

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

fn def(table: Table) -> Def {
    TableDefinition::new(table.name())
}

impl RedbStore {
    /// Opens the store in `folder` (creating the folder and the store when missing), checks
    /// its format version and migrates an older one.
    pub fn open(folder: impl AsRef<Path>) -> Result<Self> {
        let folder = folder.as_ref();
        std::fs::create_dir_all(folder)?;
        let db = Database::create(folder.join(FILE_NAME)).map_err(redb_error)?;
        // Create every table up front, so that read transactions always find them.
        let txn = db.begin_write().map_err(redb_error)?;
        for table in Table::ALL {
            txn.open_table(def(table)).map_err(redb_error)?;
        }
        txn.commit().map_err(redb_error)?;
        KvStore::with_backend(RedbBackend { db })
    }
}

fn redb_error(e: impl Into<::redb::Error>) -> Error {
    Error::Redb(Box::new(e.into()))
}

struct RedbTx<'t> {
    txn: &'t WriteTransaction,
    open: Vec<Option<::redb::Table<'t, &'static [u8], &'static [u8]>>>,
}

impl<'t> RedbTx<'t> {
    fn table(
        &mut self,
        table: Table,
    ) -> Result<&mut ::redb::Table<'t, &'static [u8], &'static [u8]>> {
        let slot = self
            .open
            .get_mut(usize::from(table.tag()))
            .ok_or_else(|| Error::Corrupt(format!("unknown table '{}'", table.name())))?;
        if slot.is_none() {
            *slot = Some(self.txn.open_table(def(table)).map_err(redb_error)?);
        }
        slot.as_mut()
            .ok_or_else(|| Error::Corrupt(format!("table '{}' did not open", table.name())))
    }
}

impl WriteTx for RedbTx<'_> {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.table(table)?;
        let value = t.get(key).map_err(redb_error)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.table(table)?.insert(key, value).map_err(redb_error)?;
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.table(table)?.remove(key).map_err(redb_error)?;
        Ok(())
    }
}

impl Backend for RedbBackend {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(redb_error)?;
        let t = txn.open_table(def(table)).map_err(redb_error)?;
        let value = t.get(key).map_err(redb_error)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>) -> Result<Entries<'_>> {
        let txn = self.db.begin_read().map_err(redb_error)?;
        let t = txn.open_table(def(table)).map_err(redb_error)?;
        let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
        // The range keeps the read transaction alive on its own.
        let range = t
            .range::<&[u8]>((Bound::Included(from), upper))
            .map_err(redb_error)?;
        Ok(Box::new(range.map(|entry| {
            let (k, v) = entry.map_err(redb_error)?;
            Ok((k.value().to_vec(), v.value().to_vec()))
        })))
    }

    fn write(&self, f: &dyn Fn(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        let txn = self.db.begin_write().map_err(redb_error)?;
        {
            let mut tx = RedbTx {
                txn: &txn,
                open: (0..Table::ALL.len()).map(|_| None).collect(),
            };
            // On error the transaction is dropped uncommitted: nothing changes.
            f(&mut tx)?;
        }
        txn.commit().map_err(redb_error)?;
        Ok(())
    }
}
