//! What the Rust side reports, and the access log: records go to Python logging through a
//! bounded queue a Python thread drains (once `attach_logging()` was called), else to
//! stderr. Access lines bound for stderr are written by one thread in batches, so a
//! request costs a queue push, not a write.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use pyo3::prelude::*;

pub const INFO: u8 = 20;
pub const WARNING: u8 = 30;
pub const ERROR: u8 = 40;

/// Records waiting for Python; past this many, new ones are counted and dropped.
const QUEUE: usize = 65_536;
/// Records handed to Python per call.
const BATCH: usize = 1024;

pub struct Record {
    pub logger: &'static str,
    pub level: u8,
    pub message: String,
}

struct Pipe {
    tx: Sender<Record>,
    rx: Receiver<Record>,
    attached: AtomicBool,
    dropped: AtomicU64,
}

static PIPE: LazyLock<Pipe> = LazyLock::new(|| {
    let (tx, rx) = crossbeam_channel::bounded(QUEUE);
    Pipe {
        tx,
        rx,
        attached: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
    }
});

/// Reports through Python logging (`logger` at `level`), or on stderr when no Python
/// thread drains the queue.
pub fn log(logger: &'static str, level: u8, message: String) {
    let pipe = &*PIPE;
    if !pipe.attached.load(Ordering::Acquire) {
        eprintln!("{logger}: {message}");
        return;
    }
    push(
        pipe,
        Record {
            logger,
            level,
            message,
        },
    );
}

fn push(pipe: &Pipe, record: Record) {
    if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = pipe.tx.try_send(record) {
        pipe.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// True once Python drains the queue (the access log may then go through it).
pub fn attached() -> bool {
    PIPE.attached.load(Ordering::Acquire)
}

/// An access-log line, written by `write` (without its newline): through Python logging
/// (`django_bolt.access`) when `python`, else appended to this thread's buffer, which the
/// writer thread takes every few milliseconds and writes to stderr. A line then costs no
/// allocation and no queue: the thread's buffer is locked only by it and, briefly, by
/// the writer.
pub fn access(python: bool, write: impl FnOnce(&mut String)) {
    if python && attached() {
        let mut line = String::with_capacity(256);
        write(&mut line);
        push(
            &PIPE,
            Record {
                logger: "django_bolt.access",
                level: INFO,
                message: line,
            },
        );
        return;
    }
    LOCAL_LINES.with(|lines| {
        let mut buf = lines.lock();
        if buf.len() >= LOCAL_LIMIT {
            // stderr does not keep up (a blocked pipe): drop rather than grow.
            PIPE.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        write(&mut buf);
        buf.push('\n');
    });
}

/// Bytes of lines a thread may hold before the writer takes them; beyond, lines drop.
const LOCAL_LIMIT: usize = 8 * 1024 * 1024;

type Lines = Arc<parking_lot::Mutex<String>>;

/// Every thread's buffer of access lines, for the writer.
static BUFFERS: LazyLock<parking_lot::Mutex<Vec<Lines>>> = LazyLock::new(|| {
    let spawned = std::thread::Builder::new()
        .name("bolt-access-log".into())
        .spawn(write_batches);
    if let Err(e) = spawned {
        eprintln!("django_bolt: cannot start the access log writer: {e}");
    }
    parking_lot::Mutex::new(Vec::new())
});

thread_local! {
    static LOCAL_LINES: Lines = {
        let lines: Lines = Arc::new(parking_lot::Mutex::new(String::with_capacity(64 * 1024)));
        BUFFERS.lock().push(Arc::clone(&lines));
        lines
    };
}

/// Writes what the threads buffered every few milliseconds. Polling, not a wake-up per
/// line: a request then never pays for waking this thread.
fn write_batches() {
    let mut spare = String::with_capacity(64 * 1024);
    loop {
        std::thread::sleep(POLL);
        let buffers: Vec<Lines> = BUFFERS.lock().clone();
        for lines in &buffers {
            {
                let mut buf = lines.lock();
                if buf.is_empty() {
                    continue;
                }
                std::mem::swap(&mut *buf, &mut spare);
            }
            let _ = std::io::stderr().lock().write_all(spare.as_bytes());
            spare.clear();
        }
        drop(buffers);
        // Threads that ended (only this list holds their buffer) and whose lines are
        // written are forgotten.
        BUFFERS
            .lock()
            .retain(|lines| Arc::strong_count(lines) > 1 || !lines.lock().is_empty());
    }
}

/// How often queued lines are written (and records looked for).
const POLL: Duration = Duration::from_millis(10);

/// From now on records go to Python: a thread calls `take_log_records` in a loop.
#[pyfunction]
pub fn attach_logging() {
    PIPE.attached.store(true, Ordering::Release);
}

/// Records go to stderr again (the draining thread is stopping).
#[pyfunction]
pub fn detach_logging() {
    PIPE.attached.store(false, Ordering::Release);
}

/// Waits up to `timeout` seconds (GIL released) for records, then returns those queued as
/// (logger, level, message) tuples; a note on records dropped while the queue was full
/// comes first.
#[pyfunction]
#[pyo3(signature = (timeout=1.0))]
pub fn take_log_records(py: Python<'_>, timeout: f64) -> Vec<(&'static str, u8, String)> {
    let pipe = &*PIPE;
    let wait = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    py.detach(|| {
        let mut out = Vec::new();
        let dropped = pipe.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            out.push((
                "django_bolt",
                WARNING,
                format!("{dropped} log records were dropped (the log queue was full)"),
            ));
        }
        // Polled like the stderr writer, so that senders never wake this thread.
        let deadline = std::time::Instant::now() + wait;
        loop {
            out.extend(
                pipe.rx
                    .try_iter()
                    .take(BATCH)
                    .map(|r| (r.logger, r.level, r.message)),
            );
            if !out.is_empty() || std::time::Instant::now() >= deadline {
                return out;
            }
            std::thread::sleep(POLL.min(deadline - std::time::Instant::now()));
        }
    })
}

/// A panic on any Rust thread (an Actix worker, the server thread) is reported on the
/// `django_bolt.server` logger, with a backtrace when `RUST_BACKTRACE` asks for one,
/// instead of going to stderr past the project's logging.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let thread = std::thread::current();
    let mut message = format!(
        "panic on thread {}: {info}",
        thread.name().unwrap_or("unnamed")
    );
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        message.push_str(&format!("\n{backtrace}"));
    }
    log("django_bolt.server", ERROR, message);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    std::panic::set_hook(Box::new(report_panic));
    m.add_function(wrap_pyfunction!(attach_logging, m)?)?;
    m.add_function(wrap_pyfunction!(detach_logging, m)?)?;
    m.add_function(wrap_pyfunction!(take_log_records, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_reported_through_the_log_queue() {
        std::panic::set_hook(Box::new(report_panic));
        PIPE.attached.store(true, Ordering::Release);
        let crashed = std::thread::Builder::new()
            .name("bolt-test-worker".into())
            .spawn(|| panic!("the handler state is gone"))
            .unwrap()
            .join();
        let _ = std::panic::take_hook();
        PIPE.attached.store(false, Ordering::Release);
        assert!(crashed.is_err());
        let record = PIPE
            .rx
            .try_iter()
            .find(|r| r.message.contains("the handler state is gone"))
            .expect("the panic was queued for Python logging");
        assert_eq!((record.logger, record.level), ("django_bolt.server", ERROR));
        assert!(
            record
                .message
                .starts_with("panic on thread bolt-test-worker: panicked at "),
            "{}",
            record.message
        );
    }
}
