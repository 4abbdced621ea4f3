//! The Prometheus text exposition of every slot, and the readiness decision.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::{alive, now_secs, unpack, Region, BUCKETS, DATABASE_FRESH, FREE, KEY_WORDS, SERVING};

fn resident_bytes(pid: u64) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(0) as u64)
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

type Series = std::collections::BTreeMap<(String, String, u16), (u64, u64, Vec<u64>)>;

pub(super) fn render(region: &Region) -> String {
    let layout = region.layout();
    let mut series = Series::new();
    let mut totals = [0u64; 8]; // requests, python, ws_opened, in, out, rate, auth, overflow
    let (mut in_flight, mut ws_open) = (0i64, 0i64);
    let mut workers: Vec<(u64, Option<u64>)> = Vec::new();
    for slot in &layout.slots {
        let pid = slot.pid.load(Ordering::Acquire);
        let live = pid != 0 && slot.state.load(Ordering::Acquire) != FREE && alive(pid);
        if live {
            in_flight += slot.in_flight.load(Ordering::Relaxed).max(0);
            ws_open += slot.ws_open.load(Ordering::Relaxed).max(0);
            workers.push((pid, resident_bytes(pid)));
        }
        let counters = [
            &slot.requests,
            &slot.python,
            &slot.ws_opened,
            &slot.ws_received,
            &slot.ws_sent,
            &slot.rate_limited,
            &slot.auth_refused,
            &slot.overflow,
        ];
        for (total, counter) in totals.iter_mut().zip(counters) {
            *total += counter.load(Ordering::Relaxed);
        }
        for entry in &slot.entries {
            if entry.state.load(Ordering::Acquire) != 2 {
                continue;
            }
            let key: [u64; KEY_WORDS] =
                std::array::from_fn(|i| entry.key[i].load(Ordering::Relaxed));
            let (status, method, route) = unpack(&key);
            let (count, sum, buckets) = series
                .entry((route, method, status))
                .or_insert_with(|| (0, 0, vec![0; BUCKETS.len() + 1]));
            *count += entry.count.load(Ordering::Relaxed);
            *sum += entry.sum_ns.load(Ordering::Relaxed);
            for (b, src) in buckets.iter_mut().zip(&entry.buckets) {
                *b += src.load(Ordering::Relaxed);
            }
        }
    }
    let mut out = String::with_capacity(4096);
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(
        &mut out,
        "django_bolt_requests_total",
        "counter",
        "Requests answered, by method, route pattern (or django, static) and status.",
    );
    for ((route, method, status), (count, _, _)) in &series {
        let _ = writeln!(
            out,
            "django_bolt_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
            escape_label(route)
        );
    }
    family(
        &mut out,
        "django_bolt_request_duration_seconds",
        "histogram",
        "Time from the request to its answer's head, in seconds.",
    );
    for ((route, method, status), (count, sum, buckets)) in &series {
        let labels = format!(
            "method=\"{method}\",route=\"{}\",status=\"{status}\"",
            escape_label(route)
        );
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += buckets[i];
            let _ = writeln!(
                out,
                "django_bolt_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "django_bolt_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n\
             django_bolt_request_duration_seconds_sum{{{labels}}} {}\n\
             django_bolt_request_duration_seconds_count{{{labels}}} {count}",
            *sum as f64 / 1e9
        );
    }
    let header = &layout.header;
    let plain: [(&str, &str, &str, String); 11] = [
        (
            "django_bolt_requests_in_flight",
            "gauge",
            "Requests received and not yet answered.",
            in_flight.to_string(),
        ),
        (
            "django_bolt_requests_python_total",
            "counter",
            "Requests handed to Python (handlers, Django).",
            totals[1].to_string(),
        ),
        (
            "django_bolt_requests_without_python_total",
            "counter",
            "Requests answered by Rust alone (static files, refusals, CORS preflights).",
            totals[0].saturating_sub(totals[1]).to_string(),
        ),
        (
            "django_bolt_websocket_connections",
            "gauge",
            "Open WebSocket connections.",
            ws_open.to_string(),
        ),
        (
            "django_bolt_websocket_connections_total",
            "counter",
            "WebSocket connections opened.",
            totals[2].to_string(),
        ),
        (
            "django_bolt_websocket_messages_received_total",
            "counter",
            "WebSocket messages from clients.",
            totals[3].to_string(),
        ),
        (
            "django_bolt_websocket_messages_sent_total",
            "counter",
            "WebSocket messages to clients.",
            totals[4].to_string(),
        ),
        (
            "django_bolt_rate_limited_total",
            "counter",
            "Requests refused by a rate limit (429).",
            totals[5].to_string(),
        ),
        (
            "django_bolt_auth_refused_total",
            "counter",
            "Requests refused by authentication or guards (401, 403).",
            totals[6].to_string(),
        ),
        (
            "django_bolt_worker_restarts_total",
            "counter",
            "Worker processes replaced (recycled or crashed).",
            header.restarts.load(Ordering::Relaxed).to_string(),
        ),
        (
            "django_bolt_workers",
            "gauge",
            "Worker processes serving or starting.",
            workers.len().to_string(),
        ),
    ];
    for (name, kind, help, value) in plain {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(
        &mut out,
        "django_bolt_series_overflow_total",
        "counter",
        "Requests not counted by series: a worker has more than 256 (method, route, status).",
    );
    let _ = writeln!(out, "django_bolt_series_overflow_total {}", totals[7]);
    family(
        &mut out,
        "django_bolt_process_resident_memory_bytes",
        "gauge",
        "Resident memory of each worker process.",
    );
    for (pid, rss) in workers {
        if let Some(rss) = rss {
            let _ = writeln!(
                out,
                "django_bolt_process_resident_memory_bytes{{pid=\"{pid}\"}} {rss}"
            );
        }
    }
    out
}

pub(super) fn readiness(region: &Region) -> (bool, String) {
    let layout = region.layout();
    if layout.header.stopping.load(Ordering::Acquire) != 0 {
        return (false, "draining".into());
    }
    if layout.header.started.load(Ordering::Acquire) == 0 {
        return (false, "starting".into());
    }
    let now = now_secs();
    let (mut serving, mut stale) = (0, 0);
    for slot in &layout.slots {
        let pid = slot.pid.load(Ordering::Acquire);
        if slot.state.load(Ordering::Acquire) != SERVING || !alive(pid) {
            continue;
        }
        serving += 1;
        if now.saturating_sub(slot.database_at.load(Ordering::Acquire)) > DATABASE_FRESH {
            stale += 1;
        }
    }
    if serving == 0 {
        return (false, "no worker serves".into());
    }
    if stale > 0 {
        return (
            false,
            format!("the database has not answered {stale} of {serving} workers"),
        );
    }
    (true, format!("{serving} workers serve"))
}
