//! The media receive thread: one thread for every session's socket, blocking in `epoll_wait`,
//! reading what is ready with `recvmmsg` and dispatching it inline (RFC 7983: DTLS and SRTP to
//! the session, STUN to the ICE agent through a channel). One thread however many sessions; it
//! starts with the first socket and stops with `shutdown`.
//!
//! Why not the async runtime: a datagram read through tokio costs a task wake-up, a scheduler
//! pass and often a wake-up of the other worker on top of the kernel's work; with one blocking
//! thread the cost per datagram is the kernel's (`WRS_BENCH_ONLY=receive ./build/bench`), and
//! with many sessions one `epoll_wait` returns many ready sockets.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use once_cell::sync::Lazy;
use parking_lot::{Mutex, RwLock};

use super::Socket;
use crate::fasthash::FastMap;

/// The token of the eventfd that wakes the thread to stop.
const WAKE: u64 = 0;

struct Poller {
    epoll: OwnedFd,
    wake: OwnedFd,
    sockets: RwLock<FastMap<u64, Weak<Socket>>>,
    next_token: AtomicU64,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

static POLLER: Lazy<Mutex<Option<Arc<Poller>>>> = Lazy::new(|| Mutex::new(None));

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Poller {
    fn start() -> io::Result<Arc<Poller>> {
        // SAFETY: plain syscalls; each returned descriptor is owned right away.
        let epoll = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        let wake = unsafe { OwnedFd::from_raw_fd(cvt(libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?) };
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: WAKE };
        // SAFETY: valid descriptors and event.
        cvt(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, wake.as_raw_fd(), &mut ev) })?;
        let poller = Arc::new(Poller {
            epoll,
            wake,
            sockets: RwLock::new(FastMap::default()),
            next_token: AtomicU64::new(WAKE + 1),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let p = Arc::clone(&poller);
        let thread = std::thread::Builder::new().name("wrs-media".into()).spawn(move || p.run())?;
        *poller.thread.lock() = Some(thread);
        Ok(poller)
    }

    fn run(&self) {
        let mut buffers = super::RecvBuffers::new();
        // SAFETY: epoll_event is plain data; all-zero is a valid value.
        let mut events: [libc::epoll_event; 64] = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: a valid epoll descriptor and an array of 64 events.
            let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 64, -1) };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            for ev in &events[..n as usize] {
                let token = ev.u64;
                if token == WAKE {
                    if self.stop.load(Ordering::Acquire) {
                        return;
                    }
                    continue;
                }
                let socket = self.sockets.read().get(&token).and_then(Weak::upgrade);
                if let Some(socket) = socket {
                    socket.receive_batch(&mut buffers);
                }
            }
        }
    }
}

fn poller() -> io::Result<Arc<Poller>> {
    let mut slot = POLLER.lock();
    if let Some(p) = slot.as_ref() {
        return Ok(Arc::clone(p));
    }
    let p = Poller::start()?;
    *slot = Some(Arc::clone(&p));
    Ok(p)
}

/// Watches `fd` (level-triggered) for `socket`; returns the token to `unregister` with.
pub(crate) fn register(fd: RawFd, socket: Weak<Socket>) -> io::Result<u64> {
    let p = poller()?;
    let token = p.next_token.fetch_add(1, Ordering::Relaxed);
    p.sockets.write().insert(token, socket);
    let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
    // SAFETY: valid descriptors and event.
    if let Err(e) = cvt(unsafe { libc::epoll_ctl(p.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) }) {
        p.sockets.write().remove(&token);
        return Err(e);
    }
    Ok(token)
}

/// Stops watching; after it returns the thread no longer starts a read for this token (one
/// already running finishes: it holds its own reference to the socket).
pub(crate) fn unregister(fd: RawFd, token: u64) {
    let p = POLLER.lock().as_ref().map(Arc::clone);
    if let Some(p) = p {
        // SAFETY: valid epoll descriptor; a descriptor that is not registered gives ENOENT.
        unsafe { libc::epoll_ctl(p.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
        p.sockets.write().remove(&token);
    }
}

/// Stops and joins the thread (for hosts that wait at exit for every thread that ran their
/// code, as Mono does). A later socket starts a new one.
pub(crate) fn shutdown() {
    let p = POLLER.lock().take();
    if let Some(p) = p {
        p.stop.store(true, Ordering::Release);
        let one: u64 = 1;
        // SAFETY: an 8-byte write to our eventfd.
        unsafe { libc::write(p.wake.as_raw_fd(), &one as *const u64 as *const libc::c_void, 8) };
        let thread = p.thread.lock().take();
        if let Some(t) = thread {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}
