//! The panic boundary and the argument conversions every exported function uses.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::error::{clear_last_error, set_last_error, wrs_result, FfiError, FfiResult};

/// Runs an exported function's body: clears the last error, catches panics, and turns errors
/// into a result code plus the thread's last-error message.
pub(crate) fn guard(body: impl FnOnce() -> FfiResult<()>) -> wrs_result {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => wrs_result::Ok,
        Ok(Err(e)) => {
            set_last_error(e.code, &e.message);
            e.code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(wrs_result::Panic, &format!("internal error (please report): {what}"));
            wrs_result::Panic
        }
    }
}

/// Like [`guard`] for functions without a result (free functions): panics are swallowed.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

pub(crate) fn null(name: &str) -> FfiError {
    FfiError::new(wrs_result::NullArgument, format!("argument '{name}' is NULL"))
}

/// A borrowed C string argument as `&str`.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|e| FfiError::new(wrs_result::InvalidUtf8, format!("argument '{name}' is not valid UTF-8 ({e})")))
}

/// An optional C string argument (NULL allowed).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        str_arg(p, name).map(Some)
    }
}

/// A borrowed byte buffer argument.
///
/// # Safety
/// `p` must be NULL or point to `len` readable bytes valid for the call.
pub(crate) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> FfiResult<&'a [u8]> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(null(name));
    }
    if len > isize::MAX as usize {
        return Err(FfiError::new(wrs_result::InvalidArgument, format!("argument '{name}' length is too large")));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// Writes `value` through an out-pointer (only on success, by the caller's ordering).
///
/// # Safety
/// `out` must be NULL (rejected) or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, name: &str) -> FfiResult<()> {
    if out.is_null() {
        return Err(null(name));
    }
    out.write(value);
    Ok(())
}

/// Checks an out-pointer before doing work whose result it receives.
pub(crate) fn check_out<T>(out: *mut T, name: &str) -> FfiResult<()> {
    if out.is_null() {
        Err(null(name))
    } else {
        Ok(())
    }
}

/// A library-allocated string for the caller, released with `wrs_string_free`.
pub(crate) fn out_string(s: String) -> *mut c_char {
    CString::new(s.replace('\0', " ")).unwrap_or_default().into_raw()
}
