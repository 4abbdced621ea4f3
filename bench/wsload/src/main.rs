//! Opens many WebSocket connections to an echo endpoint and measures echoed messages.
//!
//! wsload --url ws://127.0.0.1:8000/ws/echo --connections 5000 --source 127.0.0.2
//!        --start-at <unix seconds> --duration 10 [--rate 1.0] [--payload 32]
//!
//! Every connection is opened from one of the given source addresses (so one client
//! process is not limited to one address's ephemeral ports), then all of them wait for
//! `--start-at` and echo for `--duration` seconds: back to back (`--rate 0`), or `--rate`
//! messages per second each. Prints one JSON line.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    url: String,
    connections: usize,
    sources: Vec<IpAddr>,
    start_at: f64,
    duration: f64,
    rate: f64,
    payload: usize,
    connect_concurrency: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        url: String::new(),
        connections: 100,
        sources: Vec::new(),
        start_at: 0.0,
        duration: 10.0,
        rate: 0.0,
        payload: 32,
        connect_concurrency: 256,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value,
            "--connections" => a.connections = value.parse().expect("--connections"),
            "--source" => a.sources.push(value.parse().expect("--source")),
            "--start-at" => a.start_at = value.parse().expect("--start-at"),
            "--duration" => a.duration = value.parse().expect("--duration"),
            "--rate" => a.rate = value.parse().expect("--rate"),
            "--payload" => a.payload = value.parse().expect("--payload"),
            "--connect-concurrency" => {
                a.connect_concurrency = value.parse().expect("--connect-concurrency")
            }
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.url.is_empty(), "--url is required");
    if a.sources.is_empty() {
        a.sources.push("127.0.0.1".parse().unwrap());
    }
    a
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn open(url: &str, target: SocketAddr, source: IpAddr) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| e.to_string())?;
    let stream = socket.connect(target).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    // Small buffers: tungstenite's 128 KiB defaults would make the client, not the
    // server, the bottleneck with thousands of connections.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Waits until `at` while answering the server's keep-alive pings, as a real client does.
async fn idle_until(ws: &mut Ws, at: Instant) -> Result<(), String> {
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(at.into()) => return Ok(()),
            msg = ws.next() => match msg {
                // tungstenite queues the pong; flushing sends it.
                Some(Ok(Message::Ping(_))) => ws.flush().await.map_err(|e| e.to_string())?,
                Some(Ok(Message::Pong(_))) => {}
                Some(Ok(other)) => return Err(format!("unexpected {other:?}")),
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("connection ended".into()),
            },
        }
    }
}

#[derive(Default)]
struct Tally {
    messages: u64,
    errors: u64,
    late: u64,
    /// What ended connections early, by kind.
    error_kinds: std::collections::BTreeMap<String, u64>,
    latencies_us: Vec<u32>,
    /// (milliseconds into the window when sent, latency in microseconds)
    timeline: Vec<(u32, u32)>,
}

async fn echo(
    mut ws: Ws,
    start: Instant,
    end: Instant,
    rate: f64,
    payload: String,
    phase: f64,
) -> Tally {
    let mut tally = Tally::default();
    if let Err(e) = idle_until(&mut ws, start).await {
        tally.errors += 1;
        *tally
            .error_kinds
            .entry(format!("before start: {e}"))
            .or_default() += 1;
        return tally;
    }
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
    let mut next = start + interval.map_or(Duration::ZERO, |i| i.mul_f64(phase));
    loop {
        if let Some(i) = interval {
            if next >= end {
                break;
            }
            if let Err(e) = idle_until(&mut ws, next).await {
                tally.errors += 1;
                *tally.error_kinds.entry(format!("idle: {e}")).or_default() += 1;
                break;
            }
            next += i;
        }
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        if let Err(e) = ws.send(Message::text(payload.clone())).await {
            tally.errors += 1;
            *tally.error_kinds.entry(format!("send: {e}")).or_default() += 1;
            break;
        }
        // Keep-alive pings (answered by tungstenite) are not echoes.
        let reply = loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) | Some(Ok(Message::Pong(_))) => continue,
                other => break other,
            }
        };
        match reply {
            Some(Ok(Message::Text(_))) | Some(Ok(Message::Binary(_))) => {
                let done = Instant::now();
                if done > end {
                    tally.late += 1;
                }
                if done <= end {
                    tally.messages += 1;
                    let us = done.duration_since(sent).as_micros().min(u32::MAX as u128) as u32;
                    tally.latencies_us.push(us);
                    if std::env::var_os("WSLOAD_TIMELINE").is_some() {
                        let at = sent.saturating_duration_since(start).as_millis() as u32;
                        tally.timeline.push((at, us));
                    }
                }
            }
            other => {
                tally.errors += 1;
                let kind = match other {
                    Some(Ok(m)) => format!("unexpected {m:?}"),
                    Some(Err(e)) => format!("receive: {e}"),
                    None => "connection ended".into(),
                };
                *tally.error_kinds.entry(kind).or_default() += 1;
                break;
            }
        }
    }
    // Close only after the window, so early finishers do not load the server while the
    // others are still measured.
    tokio::time::sleep_until(end.into()).await;
    let _ = ws.close(None).await;
    tally
}

fn main() {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let hostport = args
            .url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let target: SocketAddr = hostport.parse().expect("ws://ip:port/... expected");
        let connect_started = Instant::now();
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(args.connect_concurrency));
        let mut pending = Vec::with_capacity(args.connections);
        for i in 0..args.connections {
            let url = args.url.clone();
            let source = args.sources[i % args.sources.len()];
            let limit = limit.clone();
            pending.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                tokio::time::timeout(Duration::from_secs(30), open(&url, target, source))
                    .await
                    .unwrap_or_else(|_| Err("connect timed out".into()))
            }));
        }
        let mut sockets = Vec::with_capacity(args.connections);
        let mut failures: std::collections::BTreeMap<String, u64> = Default::default();
        for p in pending {
            match p.await.unwrap() {
                Ok(ws) => sockets.push(ws),
                Err(e) => *failures.entry(e).or_default() += 1,
            }
        }
        let connect_seconds = connect_started.elapsed().as_secs_f64();
        let connected = sockets.len();
        let wait = (args.start_at - unix_now()).max(0.0);
        let start = Instant::now() + Duration::from_secs_f64(wait);
        let end = start + Duration::from_secs_f64(args.duration);
        let payload = "m".repeat(args.payload);
        let n = sockets.len().max(1) as f64;
        let tasks: Vec<_> = sockets
            .into_iter()
            .enumerate()
            .map(|(i, ws)| {
                tokio::spawn(echo(ws, start, end, args.rate, payload.clone(), i as f64 / n))
            })
            .collect();
        let mut total = Tally::default();
        for t in tasks {
            let t = t.await.unwrap();
            total.messages += t.messages;
            total.errors += t.errors;
            total.late += t.late;
            for (k, v) in t.error_kinds {
                *failures.entry(k).or_default() += v;
            }
            total.latencies_us.extend(t.latencies_us);
            total.timeline.extend(t.timeline);
        }
        total.latencies_us.sort_unstable();
        if !total.timeline.is_empty() {
            let mut worst: std::collections::BTreeMap<u32, u32> = Default::default();
            for (at, us) in &total.timeline {
                let slot = worst.entry(at / 250).or_default();
                *slot = (*slot).max(*us);
            }
            for (slot, us) in worst {
                eprintln!("{:>6} ms: worst {:>8.1} ms", slot * 250, us as f64 / 1000.0);
            }
        }
        let pct = |p: f64| -> f64 {
            if total.latencies_us.is_empty() {
                return f64::NAN;
            }
            let idx = ((total.latencies_us.len() - 1) as f64 * p).round() as usize;
            total.latencies_us[idx] as f64 / 1000.0
        };
        let failures: Vec<String> = failures
            .iter()
            .map(|(e, c)| format!("{{\"error\":{:?},\"count\":{c}}}", e))
            .collect();
        println!(
            "{{\"connections\":{},\"connected\":{},\"connect_seconds\":{:.3},\"late_start\":{},\"messages\":{},\"errors\":{},\"late\":{},\"duration\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"failures\":[{}]}}",
            args.connections,
            connected,
            connect_seconds,
            wait == 0.0,
            total.messages,
            total.errors,
            total.late,
            args.duration,
            pct(0.5),
            pct(0.99),
            failures.join(",")
        );
    });
}
