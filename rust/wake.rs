//! How Rust wakes the Python event loop: an eventfd the loop watches, written once per
//! batch of work, plus the streams and WebSockets that became ready since the last drain.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Ids of HTTP streams and WebSocket connections: one id space, so the event loop wakes
/// both by id.
static NEXT_STREAM_ID: AtomicU64 = AtomicU64::new(1);

#[inline]
pub fn next_stream_id() -> u64 {
    NEXT_STREAM_ID.fetch_add(1, Ordering::Relaxed)
}

pub struct Wakeup {
    event_fd: libc::c_int,
    scheduled: AtomicBool,
    /// Streams whose consumer made room (or went away) since the last drain.
    ready_streams: Mutex<Vec<u64>>,
}

impl Wakeup {
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; the descriptor is owned by this struct and closed in Drop.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self {
            event_fd: fd,
            scheduled: AtomicBool::new(false),
            ready_streams: Mutex::new(Vec::new()),
        })
    }

    /// The descriptor the event loop watches.
    pub fn fd(&self) -> libc::c_int {
        self.event_fd
    }

    /// Wakes the loop unless a wake-up is already on its way.
    #[inline]
    pub fn schedule(&self) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.signal();
        }
    }

    /// Tells the event loop that stream `id` can take more data or has ended.
    pub fn notify_stream(&self, id: u64) {
        self.ready_streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id);
        self.schedule();
    }

    /// Wakes the loop unconditionally.
    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our own eventfd.
        unsafe {
            libc::write(
                self.event_fd,
                &one as *const u64 as *const libc::c_void,
                std::mem::size_of::<u64>(),
            );
        }
    }

    /// Consumes the wake-up: the next `schedule` signals again.
    pub fn drain(&self) {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our own non-blocking eventfd.
        unsafe {
            libc::read(
                self.event_fd,
                &mut counter as *mut u64 as *mut libc::c_void,
                std::mem::size_of::<u64>(),
            );
        }
        self.scheduled.store(false, Ordering::Release);
    }

    /// Ids of the streams notified since the last call.
    pub fn take_ready_streams(&self) -> Vec<u64> {
        std::mem::take(&mut *self.ready_streams.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        // SAFETY: the descriptor was opened in `new` and is closed exactly once.
        unsafe {
            libc::close(self.event_fd);
        }
    }
}
