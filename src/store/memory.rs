//! The in-memory backend: ordered maps behind one lock, for fast tests of upper layers.
//!
//! A write transaction holds the lock and collects its writes in an overlay that is applied
//! only when the transaction succeeds, so a failed transaction changes nothing. Clones share
//! the same data, so "reopening" a clone behaves like reopening a file.

use super::kv::{Backend, Entries, KvStore, Table, WriteTx};
use super::{Result, STORE_VERSION};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

type Tables = BTreeMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>;

/// The in-memory backend. Cloning it shares the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    tables: Arc<Mutex<Tables>>,
}

/// A store that lives in memory only.
pub type MemoryStore = KvStore<MemoryBackend>;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let backend = MemoryBackend::default();
        backend
            .lock()
            .entry(Table::Meta)
            .or_default()
            .insert(b"version".to_vec(), STORE_VERSION.to_string().into_bytes());
        Self::from_parts(backend)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // Writes are applied only after a transaction succeeded, in one go without calls
        // that can fail, so the data is consistent even if a thread panicked holding the lock.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct MemoryTx<'a> {
    tables: &'a Tables,
    overlay: BTreeMap<(Table, Vec<u8>), Option<Vec<u8>>>,
}

impl WriteTx for MemoryTx<'_> {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(value) = self.overlay.get(&(table, key.to_vec())) {
            return Ok(value.clone());
        }
        Ok(self.tables.get(&table).and_then(|t| t.get(key)).cloned())
    }

    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.overlay
            .insert((table, key.to_vec()), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.overlay.insert((table, key.to_vec()), None);
        Ok(())
    }
}

impl Backend for MemoryBackend {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().get(&table).and_then(|t| t.get(key)).cloned())
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>) -> Result<Entries<'_>> {
        let tables = self.lock();
        let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
        let entries: Vec<_> = tables
            .get(&table)
            .map(|t| {
                t.range::<[u8], _>((Bound::Included(from), upper))
                    .map(|(k, v)| Ok((k.clone(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Box::new(entries.into_iter()))
    }

    fn write(&self, f: &dyn Fn(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        let mut tables = self.lock();
        let mut tx = MemoryTx {
            tables: &tables,
            overlay: BTreeMap::new(),
        };
        f(&mut tx)?;
        let overlay = tx.overlay;
        for ((table, key), value) in overlay {
            let t = tables.entry(table).or_default();
            match value {
                Some(value) => t.insert(key, value),
                None => t.remove(&key),
            };
        }
        Ok(())
    }
}
