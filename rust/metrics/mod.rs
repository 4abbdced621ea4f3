//! Prometheus metrics summed over every worker process (`--metrics-port`). The counters
//! live in one shared memory mapping: a file unlinked at creation, mapped by the process
//! that creates it, inherited by forked workers and passed by descriptor to workers in
//! fresh interpreters. Each worker writes its own slot with atomic adds (no lock, no
//! Python); whichever process answers a scrape reads every slot.
//!
//! A slot's counters outlive the worker that wrote them (a recycled worker's successor
//! continues them), so the sums never go back; gauges belong to the living process.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

mod render;
use render::{readiness, render};

const MAGIC: u64 = 0x3154_454d_544c_4f42; // "BOLTMET1"
/// Worker processes that can be counted at once (a reload runs two generations).
pub const SLOTS: usize = 64;
/// Distinct (method, route, status) series per worker; more are counted as overflow.
const ENTRIES: usize = 256;
const PROBES: usize = 32;
/// Key words: status and lengths, the method, then the route (112 bytes).
const KEY_WORDS: usize = 16;
const ROUTE_BYTES: usize = (KEY_WORDS - 2) * 8;
/// Upper bounds of the duration histogram, in seconds (then +Inf).
pub const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// A worker whose last database check is older than this is not ready.
const DATABASE_FRESH: u64 = 15;

const FREE: u64 = 0;
const STARTING: u64 = 1;
const SERVING: u64 = 2;
const DRAINING: u64 = 3;

#[repr(C)]
struct Header {
    magic: AtomicU64,
    /// Workers the supervisor replaced (recycled or crashed).
    restarts: AtomicU64,
    /// Set once the first workers all serve.
    started: AtomicU64,
    /// Set when the server is stopping: not ready any more.
    stopping: AtomicU64,
    _pad: [u64; 4],
}

#[repr(C)]
struct Entry {
    /// 0 free, 1 being written, 2 ready to read.
    state: AtomicU64,
    key: [AtomicU64; KEY_WORDS],
    count: AtomicU64,
    sum_ns: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len() + 1],
    _pad: [u64; 1],
}

#[repr(C)]
struct Slot {
    pid: AtomicU64,
    state: AtomicU64,
    /// Unix seconds of the last database check that answered.
    database_at: AtomicU64,
    in_flight: AtomicI64,
    ws_open: AtomicI64,
    requests: AtomicU64,
    python: AtomicU64,
    ws_opened: AtomicU64,
    ws_received: AtomicU64,
    ws_sent: AtomicU64,
    rate_limited: AtomicU64,
    auth_refused: AtomicU64,
    overflow: AtomicU64,
    _pad: [u64; 3],
    entries: [Entry; ENTRIES],
}

#[repr(C)]
struct Layout {
    header: Header,
    slots: [Slot; SLOTS],
}

const SIZE: usize = std::mem::size_of::<Layout>();

/// The mapping; unmapped when the last handle goes.
struct Region {
    base: *mut Layout,
    file: File,
}

// SAFETY: the mapping is only reached through atomics.
unsafe impl Send for Region {}
unsafe impl Sync for Region {}

impl Region {
    fn map(file: File, fresh: bool) -> std::io::Result<Self> {
        if fresh {
            file.set_len(SIZE as u64)?;
        } else if file.metadata()?.len() != SIZE as u64 {
            return Err(std::io::Error::other("not a django_bolt metrics region"));
        }
        // SAFETY: a shared mapping of the whole file, which is SIZE bytes long.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let region = Self {
            base: base.cast(),
            file,
        };
        let magic = &region.layout().header.magic;
        if fresh {
            magic.store(MAGIC, Ordering::Release);
        } else if magic.load(Ordering::Acquire) != MAGIC {
            return Err(std::io::Error::other("not a django_bolt metrics region"));
        }
        Ok(region)
    }

    fn layout(&self) -> &Layout {
        // SAFETY: mapped for the region's lifetime; every field is atomic (or padding)
        // and the zeroed file is a valid initial state.
        unsafe { &*self.base }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`; no reference outlives the region.
        unsafe {
            libc::munmap(self.base.cast(), SIZE);
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn alive(pid: u64) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid != 0 && (unsafe { libc::kill(pid as libc::pid_t, 0) } == 0 || errno_is_eperm())
}

fn errno_is_eperm() -> bool {
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The method label: the standard methods, else "OTHER" (so no client can add series).
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

fn key_of(method: &str, route: &str, status: u16) -> [u64; KEY_WORDS] {
    let mut key = [0u64; KEY_WORDS];
    let route = &route.as_bytes()[..route.len().min(ROUTE_BYTES)];
    let method = method.as_bytes();
    key[0] = u64::from(status) | (method.len() as u64) << 16 | (route.len() as u64) << 24;
    let mut word = [0u8; 8];
    word[..method.len()].copy_from_slice(method);
    key[1] = u64::from_le_bytes(word);
    for (i, chunk) in route.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        key[2 + i] = u64::from_le_bytes(word);
    }
    key
}

fn hash(key: &[u64; KEY_WORDS]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in key {
        h = (h ^ w).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    }
    h as usize
}

fn unpack(key: &[u64; KEY_WORDS]) -> (u16, String, String) {
    let status = key[0] as u16;
    let method_len = ((key[0] >> 16) & 0xff) as usize;
    let route_len = ((key[0] >> 24) & 0xff) as usize;
    let bytes: Vec<u8> = key[1..].iter().flat_map(|w| w.to_le_bytes()).collect();
    let method = String::from_utf8_lossy(&bytes[..method_len.min(8)]).into_owned();
    let route = String::from_utf8_lossy(&bytes[8..8 + route_len.min(ROUTE_BYTES)]).into_owned();
    (status, method, route)
}

/// What the Rust side counts for one worker: its slot in the region.
#[derive(Clone)]
pub struct Recorder {
    region: Arc<Region>,
    slot: usize,
}

impl Recorder {
    fn slot(&self) -> &Slot {
        &self.region.layout().slots[self.slot]
    }

    /// One answered request.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let slot = self.slot();
        slot.requests.fetch_add(1, Ordering::Relaxed);
        let key = key_of(method_label(method), route, status);
        let Some(entry) = self.entry(&key) else {
            slot.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        entry.count.fetch_add(1, Ordering::Relaxed);
        entry
            .sum_ns
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        entry.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    fn entry(&self, key: &[u64; KEY_WORDS]) -> Option<&Entry> {
        let entries = &self.slot().entries;
        let start = hash(key);
        for probe in 0..PROBES {
            let entry = &entries[(start + probe) % ENTRIES];
            let matches = || {
                entry
                    .key
                    .iter()
                    .zip(key)
                    .all(|(a, b)| a.load(Ordering::Relaxed) == *b)
            };
            match entry.state.load(Ordering::Acquire) {
                2 if matches() => return Some(entry),
                // Claim, fill, publish. The process's threads may race for a key: one
                // being written is skipped, and a second entry for it is summed with the
                // first when rendered.
                0 if entry
                    .state
                    .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok() =>
                {
                    for (a, b) in entry.key.iter().zip(key) {
                        a.store(*b, Ordering::Relaxed);
                    }
                    entry.state.store(2, Ordering::Release);
                    return Some(entry);
                }
                _ => {}
            }
        }
        None
    }

    /// A request entered (or left, `delta` -1) the server.
    pub fn in_flight(&self, delta: i64) {
        self.slot().in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// A request handed to Python.
    pub fn to_python(&self) {
        self.slot().python.fetch_add(1, Ordering::Relaxed);
    }

    /// A refusal by a route's gate: rate limit (429) or authentication/guards.
    pub fn refused(&self, status: u16) {
        let slot = self.slot();
        match status {
            429 => slot.rate_limited.fetch_add(1, Ordering::Relaxed),
            401 | 403 => slot.auth_refused.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// A WebSocket connection opened (`1`) or closed (`-1`).
    pub fn websocket(&self, delta: i64) {
        let slot = self.slot();
        slot.ws_open.fetch_add(delta, Ordering::Relaxed);
        if delta > 0 {
            slot.ws_opened.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn ws_received(&self) {
        self.slot().ws_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ws_sent(&self) {
        self.slot().ws_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn serving(&self) {
        self.slot().state.store(SERVING, Ordering::Release);
    }

    pub fn draining(&self) {
        self.slot().state.store(DRAINING, Ordering::Release);
    }
}

/// The shared metrics of a server (all its worker processes).
#[pyclass(frozen, module = "django_bolt._core")]
pub struct Metrics {
    region: Arc<Region>,
}

#[pymethods]
impl Metrics {
    /// A new region (the supervisor, or a single process, makes one before serving).
    #[new]
    fn new() -> PyResult<Self> {
        let file = tempfile::tempfile()
            .map_err(|e| PyOSError::new_err(format!("cannot create the metrics region: {e}")))?;
        let region = Region::map(file, true)
            .map_err(|e| PyOSError::new_err(format!("cannot map the metrics region: {e}")))?;
        Ok(Self {
            region: Arc::new(region),
        })
    }

    /// The region another process made, from its descriptor (inherited across exec).
    #[staticmethod]
    fn attach(fd: i32) -> PyResult<Self> {
        // SAFETY: dup gives this process its own descriptor, or -1.
        let own = unsafe { libc::dup(fd) };
        if own < 0 {
            return Err(PyOSError::new_err(format!(
                "descriptor {fd}: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: `own` is a descriptor nothing else owns.
        let file = unsafe { File::from_raw_fd(own) };
        let region = Region::map(file, false)
            .map_err(|e| PyValueError::new_err(format!("descriptor {fd}: {e}")))?;
        Ok(Self {
            region: Arc::new(region),
        })
    }

    /// The descriptor to pass to a worker started in a fresh interpreter.
    #[getter]
    fn fd(&self) -> i32 {
        self.region.file.as_raw_fd()
    }

    /// A slot for process `pid` (this process): a free one, or one whose process is gone.
    /// Its counters carry on; its gauges start from zero.
    fn claim(&self, pid: u64) -> PyResult<usize> {
        let slots = &self.region.layout().slots;
        for (index, slot) in slots.iter().enumerate() {
            let current = slot.pid.load(Ordering::Acquire);
            if current == pid
                || ((current == 0 || !alive(current))
                    && slot
                        .pid
                        .compare_exchange(current, pid, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok())
            {
                slot.in_flight.store(0, Ordering::Relaxed);
                slot.ws_open.store(0, Ordering::Relaxed);
                slot.database_at.store(0, Ordering::Relaxed);
                slot.state.store(STARTING, Ordering::Release);
                return Ok(index);
            }
        }
        Err(PyOSError::new_err(format!(
            "every one of the {SLOTS} metrics slots is taken"
        )))
    }

    /// The slot of process `pid` is free again (the process ended).
    fn release(&self, pid: u64) {
        for slot in &self.region.layout().slots {
            if slot.pid.load(Ordering::Acquire) == pid {
                slot.state.store(FREE, Ordering::Release);
                slot.in_flight.store(0, Ordering::Relaxed);
                slot.ws_open.store(0, Ordering::Relaxed);
                slot.pid.store(0, Ordering::Release);
            }
        }
    }

    /// The database answered a check from the worker in `slot`.
    fn database_answered(&self, slot: usize) {
        if let Some(slot) = self.region.layout().slots.get(slot) {
            slot.database_at.store(now_secs(), Ordering::Release);
        }
    }

    /// A worker was replaced.
    fn count_restart(&self) {
        self.region
            .layout()
            .header
            .restarts
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The first workers all serve (or, with `false`, the server is stopping).
    fn set_started(&self) {
        self.region
            .layout()
            .header
            .started
            .store(1, Ordering::Release);
    }

    fn set_stopping(&self) {
        self.region
            .layout()
            .header
            .stopping
            .store(1, Ordering::Release);
    }

    /// The Prometheus text exposition of every worker's counters.
    fn render(&self) -> String {
        render(&self.region)
    }

    /// (ready, explanation) as /readyz decides.
    fn readiness(&self) -> (bool, String) {
        readiness(&self.region)
    }
}

impl Metrics {
    pub fn recorder(&self, slot: usize) -> PyResult<Recorder> {
        if slot >= SLOTS {
            return Err(PyValueError::new_err(format!("no metrics slot {slot}")));
        }
        Ok(Recorder {
            region: Arc::clone(&self.region),
            slot,
        })
    }
}

/// The answer of the metrics listener: /metrics, /healthz, /readyz.
pub fn answer(path: &str, recorder: &Recorder) -> (u16, &'static str, String) {
    match path {
        "/metrics" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            render(&recorder.region),
        ),
        "/healthz" => (200, "text/plain; charset=utf-8", "ok\n".into()),
        "/readyz" => {
            let (ready, why) = readiness(&recorder.region);
            (
                if ready { 200 } else { 503 },
                "text/plain; charset=utf-8",
                format!("{why}\n"),
            )
        }
        _ => (
            404,
            "text/plain; charset=utf-8",
            "not found: /metrics, /healthz, /readyz\n".into(),
        ),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Metrics>()
}

#[cfg(test)]
mod tests;
