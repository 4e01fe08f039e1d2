//! The one async runtime of the library. webrtc-ice is tokio based; everything else runs on plain
//! threads or inline. Two named worker threads serve every session, so the thread count does not
//! grow with the number of sessions.

use std::future::Future;

use once_cell::sync::Lazy;
use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: Lazy<Runtime> = Lazy::new(|| {
    Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_name("wrs-runtime")
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the webrtc-session runtime: {e}"))
});

pub fn handle() -> &'static Handle {
    RUNTIME.handle()
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
