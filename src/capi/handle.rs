//! Opaque handles. A handle the host holds is a token: the library keeps the object in a
//! registry and looks the token up on every call, so a freed (or never valid) handle is
//! reported as `WRS_RESULT_INVALID_HANDLE` instead of being dereferenced, and an object stays
//! alive while a call on another thread still uses it.

use std::sync::Arc;

use parking_lot::RwLock;

use super::error::{wrs_result, FfiError, FfiResult};

/// Looked up by every call (every sent packet): a multiply-shift of the address, not SipHash.
type Tokens<T> = crate::fasthash::FastMap<usize, Arc<T>>;

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
