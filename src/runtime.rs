//! The one async runtime of the library. webrtc-ice is tokio based; everything else runs on plain
//! threads or inline. Two named worker threads serve every session, so the thread count does not
//! grow with the number of sessions.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use once_cell::sync::Lazy;
use parking_lot::Mutex;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::error::{self, Result};

static RUNTIME: Lazy<Mutex<Option<Runtime>>> = Lazy::new(|| {
    let rt = Builder::new_multi_thread()
        .worker_threads(std::env::var("WRS_WORKERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2))
        .max_blocking_threads(4)
        .thread_name("wrs-runtime")
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the webrtc-session runtime: {e}"));
    Mutex::new(Some(rt))
});

static HANDLE: Lazy<Handle> = Lazy::new(|| match RUNTIME.lock().as_ref() {
    Some(rt) => rt.handle().clone(),
    None => panic!("the webrtc-session runtime was shut down"),
});

static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

pub fn handle() -> &'static Handle {
    &HANDLE
}

/// Fails once `shutdown` has run: nothing new may start on a stopped runtime.
pub fn check_running() -> Result<()> {
    if SHUT_DOWN.load(Ordering::Acquire) {
        Err(error::closed("the library was shut down (wrs_shutdown)"))
    } else {
        Ok(())
    }
}

/// Stops the runtime and joins its threads (waiting up to 1 s for tasks). For hosts that wait
/// at exit for every thread that ever called into them (Mono does, for threads that ran a
/// callback). Call from a thread of the host, never from a callback.
pub fn shutdown() {
    SHUT_DOWN.store(true, Ordering::Release);
    let rt = RUNTIME.lock().take();
    if let Some(rt) = rt {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
}

/// Runs a future to completion from any thread: a host thread, or a runtime thread that is
/// running a callback (where a plain `block_on` would panic).
pub fn block_on<F: Future>(future: F) -> F::Output {
    if Handle::try_current().is_ok() {
        tokio::task::block_in_place(|| handle().block_on(future))
    } else {
        handle().block_on(future)
    }
}

/// Starts a task on the library runtime.
pub fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    handle().spawn(future);
}
