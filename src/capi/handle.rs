//! Opaque handles. A handle the host holds is a token: the library keeps the object in a
//! registry and looks the token up on every call, so a freed (or never valid) handle is
//! reported as `WRS_RESULT_INVALID_HANDLE` instead of being dereferenced, and an object stays
//! alive while a call on another thread still uses it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::error::{wrs_result, FfiError, FfiResult};

/// Tokens are addresses of live objects: a multiply-shift of the address spreads them well, and
/// costs less than SipHash on a lookup made by every call (every sent packet).
#[derive(Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_right(29);
    }
}

type Tokens<T> = HashMap<usize, Arc<T>, std::hash::BuildHasherDefault<AddressHasher>>;

pub(crate) struct Registry<T> {
    live: RwLock<Tokens<T>>,
    what: &'static str,
}

impl<T> Registry<T> {
    pub fn new(what: &'static str) -> Self {
        Registry { live: RwLock::new(Tokens::default()), what }
    }

    /// Registers `value` and returns its token (the address of the shared object, which stays
    /// allocated, and so unique, while registered).
    pub fn insert<H>(&self, value: Arc<T>) -> *mut H {
        let token = Arc::as_ptr(&value) as usize;
        self.live.write().insert(token, value);
        token as *mut H
    }

    pub fn get<H>(&self, handle: *const H) -> FfiResult<Arc<T>> {
        if handle.is_null() {
            return Err(FfiError::new(wrs_result::NullArgument, format!("the {} handle is NULL", self.what)));
        }
        self.live.read().get(&(handle as usize)).cloned().ok_or_else(|| {
            FfiError::new(
                wrs_result::InvalidHandle,
                format!("{:p} is not a live {} handle (already freed?)", handle, self.what),
            )
        })
    }

    pub fn remove<H>(&self, handle: *const H) -> Option<Arc<T>> {
        self.live.write().remove(&(handle as usize))
    }
}
