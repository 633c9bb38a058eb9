//! The one place where C meets Rust: inputs, outputs, panics.

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use fieldmerge_json::Error;

/// What a call did.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FmStatus {
    /// It succeeded; `*out` holds the result.
    Ok = 0,
    /// It failed and changed nothing; `*out` holds the error.
    Error = 1,
}

/// Runs `body`, writes its text (or its error's) to `out`, and turns a
/// panic into the error `panic`.
pub(crate) fn call(
    out: *mut *mut c_char,
    body: impl FnOnce() -> fieldmerge_json::Result,
) -> FmStatus {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Err(Error::new(
            "panic",
            &format!("the library panicked: {message}"),
        ))
    });
    let (status, text) = match result {
        Ok(text) => (FmStatus::Ok, text),
        Err(e) => (FmStatus::Error, e.text),
    };
    if !out.is_null() {
        // Canonical JSON text escapes every control character, so it holds
        // no NUL byte; the fallback is never taken.
        let text = CString::new(text).unwrap_or_default();
        // SAFETY: `out` is non-null and, by the caller's contract, points to
        // writable storage for one pointer.
        unsafe { *out = text.into_raw() };
    }
    status
}

/// The bytes of an input buffer.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that stay valid and
/// unchanged for the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::new(
                "null_pointer",
                "an input is NULL with a nonzero length",
            ))
        };
    }
    // SAFETY: non-null, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An input buffer that must be UTF-8 (a name or a timestamp).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize) -> Result<&'a str, Error> {
    // SAFETY: forwarded to the caller.
    let bytes = unsafe { bytes(ptr, len) }?;
    std::str::from_utf8(bytes)
        .map_err(|e| Error::new("bad_utf8", &format!("input is not UTF-8: {e}")))
}

/// Frees a text the library returned. NULL is allowed and does nothing.
///
/// # Safety
/// `text` is NULL or a pointer the library wrote to an `out` argument, not
/// freed before; it must not be used after.
#[no_mangle]
pub unsafe extern "C" fn fm_string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: the pointer came from `CString::into_raw` in `call`, and
        // the caller frees it once.
        drop(unsafe { CString::from_raw(text) });
    }
}

/// The library's version, a static NUL-terminated string (never freed).
///
/// # Safety
/// None: the string is static.
#[no_mangle]
pub extern "C" fn fm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
