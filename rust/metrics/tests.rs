//! The metrics region: keys, sums over slots, overflow, readiness, sharing.

use super::*;

fn metrics() -> Metrics {
    Metrics::new().unwrap()
}

#[test]
fn keys_round_trip_and_long_routes_are_cut() {
    let (status, method, route) = unpack(&key_of("PATCH", "/api/items/{item_id}", 204));
    assert_eq!(
        (status, method.as_str(), route.as_str()),
        (204, "PATCH", "/api/items/{item_id}")
    );
    let long = "/x".repeat(100);
    let (_, _, route) = unpack(&key_of("GET", &long, 200));
    assert_eq!(route, long[..ROUTE_BYTES]);
}

#[test]
fn two_processes_worth_of_slots_are_summed() {
    let m = metrics();
    let a = m.recorder(m.claim(1).unwrap()).unwrap();
    let b = m
        .recorder(m.claim(std::process::id() as u64).unwrap())
        .unwrap();
    assert_ne!(a.slot, b.slot);
    for _ in 0..3 {
        a.request("GET", "/api/hello", 200, Duration::from_micros(300));
    }
    b.request("GET", "/api/hello", 200, Duration::from_millis(30));
    b.request("BREW", "/api/hello", 404, Duration::from_millis(3));
    let text = m.render();
    assert!(
        text.contains(
            "django_bolt_requests_total{method=\"GET\",route=\"/api/hello\",status=\"200\"} 4"
        ),
        "{text}"
    );
    assert!(text.contains(
        "django_bolt_requests_total{method=\"OTHER\",route=\"/api/hello\",status=\"404\"} 1"
    ));
    assert!(text.contains(
        "django_bolt_request_duration_seconds_bucket{method=\"GET\",route=\"/api/hello\",status=\"200\",le=\"0.001\"} 3"
    ));
    assert!(text.contains(
        "django_bolt_request_duration_seconds_bucket{method=\"GET\",route=\"/api/hello\",status=\"200\",le=\"0.05\"} 4"
    ));
    assert!(text.contains("django_bolt_requests_without_python_total 5"));
}

#[test]
fn a_full_slot_counts_overflow_instead_of_new_series() {
    let m = metrics();
    let r = m
        .recorder(m.claim(std::process::id() as u64).unwrap())
        .unwrap();
    for i in 0..(ENTRIES + 10) {
        r.request("GET", &format!("/r/{i}"), 200, Duration::from_millis(1));
    }
    let text = m.render();
    let series = text
        .lines()
        .filter(|l| l.starts_with("django_bolt_requests_total{"))
        .count();
    assert!(series <= ENTRIES && series > ENTRIES / 2, "{series}");
    let overflow: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("django_bolt_series_overflow_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(series + overflow, ENTRIES + 10);
}

#[test]
fn readiness_needs_a_start_a_serving_worker_and_the_database() {
    let m = metrics();
    let slot = m.claim(std::process::id() as u64).unwrap();
    let r = m.recorder(slot).unwrap();
    assert_eq!(m.readiness(), (false, "starting".to_string()));
    m.set_started();
    assert_eq!(m.readiness(), (false, "no worker serves".to_string()));
    r.serving();
    assert!(!m.readiness().0);
    m.database_answered(slot);
    assert_eq!(m.readiness(), (true, "1 workers serve".to_string()));
    m.set_stopping();
    assert_eq!(m.readiness(), (false, "draining".to_string()));
}

#[test]
fn a_region_is_shared_through_its_descriptor() {
    let m = metrics();
    let other = Metrics::attach(m.fd()).unwrap();
    let r = other
        .recorder(other.claim(std::process::id() as u64).unwrap())
        .unwrap();
    r.request("GET", "/", 200, Duration::from_millis(1));
    assert!(m.render().contains("route=\"/\",status=\"200\"} 1"));
    let file = tempfile::tempfile().unwrap();
    assert!(Metrics::attach(file.as_raw_fd()).is_err());
}
