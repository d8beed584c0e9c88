//! Read and write transactions.
//!
//! A [`ReadTxn`] holds the store lock (shared, or exclusive when it is the
//! read side of a [`WriteTxn`]); record and index readers take one. A
//! [`WriteTxn`] holds the exclusive lock; record writers take one. A write
//! transaction dereferences to its read side, so a mutation reads what it
//! changes under the same lock. Dropping the transaction releases the lock.

use std::ops::Deref;

use crate::fs::{FileLock, LockMode};
use crate::store::{Layout, Store};

/// The store seen under its lock.
#[derive(Debug)]
pub struct ReadTxn<'s> {
    store: &'s Store,
    lock: FileLock,
}

impl<'s> ReadTxn<'s> {
    pub(super) fn new(store: &'s Store, lock: FileLock) -> ReadTxn<'s> {
        ReadTxn { store, lock }
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    pub fn layout(&self) -> &'s Layout {
        self.store.layout()
    }

    /// True when this transaction may write (it holds the exclusive lock).
    pub fn is_exclusive(&self) -> bool {
        self.lock.mode() == LockMode::Exclusive
    }
}

/// The store under its exclusive lock: the only way to change a record.
#[derive(Debug)]
pub struct WriteTxn<'s> {
    read: ReadTxn<'s>,
}

impl<'s> WriteTxn<'s> {
    pub(super) fn new(read: ReadTxn<'s>) -> WriteTxn<'s> {
        WriteTxn { read }
    }
}

impl<'s> Deref for WriteTxn<'s> {
    type Target = ReadTxn<'s>;
    fn deref(&self) -> &ReadTxn<'s> {
        &self.read
    }
}
