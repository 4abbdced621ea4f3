//! The in-process response cache of `cache_page` routes: a GET answer Python marked as
//! cacheable is kept here until it expires and served again without Python.
//!
//! Entries are keyed by route, path with query, and (for per-user caching) who asked; each
//! holds the variants of the request headers its answer's `Vary` names. Python marks an
//! answer with the `MARKER` header (seconds it stays fresh); the marker never reaches a
//! client. Memory is bounded: expired entries go first, then arbitrary ones.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, VARY};
use bytes::Bytes;
use parking_lot::Mutex;

/// The header by which Python marks an answer as cacheable for that many seconds.
pub const MARKER: &str = "x-bolt-cache-ttl";

/// Who a cached answer belongs to: everyone (None) or one credential.
pub type Owner = Option<String>;

pub struct Cached {
    pub status: u16,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    stored: Instant,
    expires: Instant,
}

impl Cached {
    /// Seconds since it was stored (the `Age` header of a hit).
    pub fn age(&self, now: Instant) -> HeaderValue {
        HeaderValue::from(now.saturating_duration_since(self.stored).as_secs())
    }
}

/// The request's values of the headers an answer varies on: every field of a repeated
/// header, joined (a second `Accept-Language` or `Cookie` field makes another key).
type VaryValues = Vec<Option<Vec<u8>>>;

struct Variant {
    values: VaryValues,
    answer: std::sync::Arc<Cached>,
}

/// At most this many variants per path: the oldest goes first beyond it (a client that
/// sends a new `User-Agent` each time cannot grow one entry without bound).
const MAX_VARIANTS: usize = 32;
/// What an entry and a variant cost beyond the bytes they hold (allocations, the maps).
const OVERHEAD: usize = 256;

struct Entry {
    route: u32,
    target: Box<str>,
    owner: Owner,
    vary: Vec<HeaderName>,
    variants: Vec<Variant>,
    bytes: usize,
}

struct Inner {
    entries: HashMap<u64, Entry>,
    bytes: usize,
}

pub struct ResponseCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

fn key(route: u32, target: &str, owner: &Owner) -> u64 {
    let mut h = DefaultHasher::new();
    (route, target, owner).hash(&mut h);
    h.finish()
}

fn values(vary: &[HeaderName], headers: &HeaderMap) -> VaryValues {
    vary.iter()
        .map(|name| {
            let mut fields = headers.get_all(name);
            let first = fields.next()?;
            let mut joined = first.as_bytes().to_vec();
            for more in fields {
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(more.as_bytes());
            }
            Some(joined)
        })
        .collect()
}

/// The memory one variant holds: its answer, its key, its headers.
fn cost(variant: &Variant) -> usize {
    let answer = &variant.answer;
    OVERHEAD
        + answer.body.len()
        + answer
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum::<usize>()
        + variant
            .values
            .iter()
            .map(|v| v.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
}

fn entry_cost(target: &str, owner: &Owner, variants: &[Variant]) -> usize {
    OVERHEAD
        + target.len()
        + owner.as_ref().map_or(0, String::len)
        + variants.iter().map(cost).sum::<usize>()
}

/// The header names an answer's `Vary` lists; None for `Vary: *` (never reusable).
fn vary_names(headers: &[(HeaderName, HeaderValue)]) -> Option<Vec<HeaderName>> {
    let mut names = Vec::new();
    for (name, value) in headers {
        if name != VARY {
            continue;
        }
        for item in value.to_str().ok()?.split(',') {
            let item = item.trim();
            if item == "*" {
                return None;
            }
            if let Ok(name) = HeaderName::try_from(item) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Some(names)
}

impl ResponseCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    /// The fresh answer for this request, if one is kept.
    pub fn get(
        &self,
        route: u32,
        target: &str,
        owner: &Owner,
        headers: &HeaderMap,
    ) -> Option<std::sync::Arc<Cached>> {
        let now = Instant::now();
        let inner = self.inner.lock();
        let entry = inner.entries.get(&key(route, target, owner))?;
        if entry.route != route || &*entry.target != target || &entry.owner != owner {
            return None;
        }
        let wanted = values(&entry.vary, headers);
        entry
            .variants
            .iter()
            .find(|v| v.values == wanted && v.answer.expires > now)
            .map(|v| v.answer.clone())
    }

    /// Keeps an answer for `ttl`. The marker is taken out of `headers` by the caller.
    #[allow(clippy::too_many_arguments)]
    pub fn put(
        &self,
        route: u32,
        target: &str,
        owner: Owner,
        request: &HeaderMap,
        status: u16,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
        ttl: Duration,
    ) {
        let Some(vary) = vary_names(&headers) else {
            return;
        };
        let size = body.len()
            + target.len()
            + headers
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len())
                .sum::<usize>();
        if ttl.is_zero() || size > self.max_bytes / 8 {
            return;
        }
        let now = Instant::now();
        let answer = std::sync::Arc::new(Cached {
            status,
            headers,
            body,
            stored: now,
            expires: now + ttl,
        });
        let values = values(&vary, request);
        let k = key(route, target, &owner);
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let entry = inner.entries.entry(k).or_insert_with(|| Entry {
            route,
            target: target.into(),
            owner: owner.clone(),
            vary: vary.clone(),
            variants: Vec::new(),
            bytes: 0,
        });
        if entry.route != route || &*entry.target != target || entry.owner != owner {
            return; // a hash collision: the first owner keeps the slot
        }
        if entry.vary != vary {
            // The answer now varies on other headers: the old variants cannot be matched.
            inner.bytes -= entry.bytes;
            entry.bytes = 0;
            entry.variants.clear();
            entry.vary = vary;
        }
        entry
            .variants
            .retain(|v| v.values != values && v.answer.expires > now);
        if entry.variants.len() >= MAX_VARIANTS {
            entry.variants.remove(0);
        }
        entry.variants.push(Variant { values, answer });
        let before = entry.bytes;
        entry.bytes = entry_cost(target, &entry.owner, &entry.variants);
        inner.bytes = inner.bytes + entry.bytes - before;
        if inner.bytes > self.max_bytes {
            Self::evict(inner, self.max_bytes, now);
        }
    }

    fn evict(inner: &mut Inner, max_bytes: usize, now: Instant) {
        inner.entries.retain(|_, e| {
            e.variants.retain(|v| v.answer.expires > now);
            e.bytes = entry_cost(&e.target, &e.owner, &e.variants);
            !e.variants.is_empty()
        });
        let mut total: usize = inner.entries.values().map(|e| e.bytes).sum();
        if total > max_bytes {
            let doomed: Vec<u64> = inner
                .entries
                .iter()
                .scan(total, |left, (k, e)| {
                    (*left > max_bytes * 3 / 4).then(|| {
                        *left -= e.bytes;
                        *k
                    })
                })
                .collect();
            for k in doomed {
                if let Some(e) = inner.entries.remove(&k) {
                    total -= e.bytes;
                }
            }
        }
        inner.bytes = total;
    }

    /// Takes the marker out of an answer's headers: the seconds it may be kept.
    pub fn take_marker(headers: &mut Vec<(HeaderName, HeaderValue)>) -> Option<Duration> {
        let at = headers.iter().position(|(k, _)| k == MARKER)?;
        let (_, value) = headers.remove(at);
        let secs: f64 = value.to_str().ok()?.trim().parse().ok()?;
        (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(vary: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = vec![(
            HeaderName::from_static("content-type"),
            HeaderValue::from_static("application/json"),
        )];
        if let Some(v) = vary {
            headers.push((VARY, HeaderValue::from_str(v).unwrap()));
        }
        headers
    }

    fn request(lang: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(l) = lang {
            h.insert(
                HeaderName::from_static("accept-language"),
                HeaderValue::from_str(l).unwrap(),
            );
        }
        h
    }

    #[test]
    fn keeps_variants_per_vary_header_and_owner() {
        let cache = ResponseCache::new(1 << 20);
        let ttl = Duration::from_secs(60);
        let fr = request(Some("fr"));
        let de = request(Some("de"));
        let body = Bytes::from_static(b"bonjour");
        let vary = answer(Some("Accept-Language"));
        cache.put(1, "/a?x=1", None, &fr, 200, vary.clone(), body, ttl);
        assert_eq!(cache.get(1, "/a?x=1", &None, &fr).unwrap().body, "bonjour");
        assert!(cache.get(1, "/a?x=1", &None, &de).is_none());
        assert!(cache.get(1, "/a?x=2", &None, &fr).is_none());
        assert!(cache.get(2, "/a?x=1", &None, &fr).is_none());
        let owner = Some("jwt:7".to_owned());
        assert!(cache.get(1, "/a?x=1", &owner, &fr).is_none());
        cache.put(
            1,
            "/a?x=1",
            None,
            &de,
            200,
            vary,
            Bytes::from_static(b"hallo"),
            ttl,
        );
        assert_eq!(cache.get(1, "/a?x=1", &None, &de).unwrap().body, "hallo");
        assert_eq!(cache.get(1, "/a?x=1", &None, &fr).unwrap().body, "bonjour");
        // Vary: * is never stored.
        cache.put(
            3,
            "/b",
            None,
            &fr,
            200,
            answer(Some("*")),
            Bytes::new(),
            ttl,
        );
        assert!(cache.get(3, "/b", &None, &fr).is_none());
    }

    #[test]
    fn expires_and_stays_within_its_memory() {
        let cache = ResponseCache::new(64 * 1024);
        let req = request(None);
        cache.put(
            1,
            "/gone",
            None,
            &req,
            200,
            answer(None),
            Bytes::from_static(b"x"),
            Duration::from_millis(1),
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(1, "/gone", &None, &req).is_none());
        let chunk = Bytes::from(vec![b'x'; 4000]);
        for i in 0..200 {
            let target = format!("/big/{i}");
            cache.put(
                1,
                &target,
                None,
                &req,
                200,
                answer(None),
                chunk.clone(),
                Duration::from_secs(60),
            );
        }
        assert!(cache.inner.lock().bytes <= 64 * 1024);
        let kept = (0..200)
            .filter(|i| cache.get(1, &format!("/big/{i}"), &None, &req).is_some())
            .count();
        assert!(kept > 0 && kept < 200, "{kept}");
        // Too big for one slot: not kept.
        cache.put(
            1,
            "/huge",
            None,
            &req,
            200,
            answer(None),
            Bytes::from(vec![0; 9000]),
            Duration::from_secs(60),
        );
        assert!(cache.get(1, "/huge", &None, &req).is_none());
    }

    #[test]
    fn repeated_header_fields_are_part_of_the_key() {
        let cache = ResponseCache::new(1 << 20);
        let ttl = Duration::from_secs(60);
        let fr = request(Some("fr"));
        let mut fr_and_more = request(Some("fr"));
        fr_and_more.append(
            HeaderName::from_static("accept-language"),
            HeaderValue::from_static("<script>"),
        );
        let vary = answer(Some("Accept-Language"));
        cache.put(
            1,
            "/a",
            None,
            &fr_and_more,
            200,
            vary,
            Bytes::from_static(b"both"),
            ttl,
        );
        assert!(cache.get(1, "/a", &None, &fr).is_none());
        assert_eq!(
            cache.get(1, "/a", &None, &fr_and_more).unwrap().body,
            "both"
        );
    }

    #[test]
    fn variants_per_path_are_bounded() {
        let cache = ResponseCache::new(64 << 20);
        let ttl = Duration::from_secs(60);
        let vary = answer(Some("User-Agent"));
        for i in 0..100 {
            let mut h = HeaderMap::new();
            h.insert(
                HeaderName::from_static("user-agent"),
                HeaderValue::from_str(&format!("agent {i}")).unwrap(),
            );
            cache.put(
                1,
                "/ua",
                None,
                &h,
                200,
                vary.clone(),
                Bytes::from_static(b"x"),
                ttl,
            );
        }
        let inner = cache.inner.lock();
        let entry = inner.entries.values().next().unwrap();
        assert_eq!(entry.variants.len(), MAX_VARIANTS);
        assert_eq!(inner.bytes, entry.bytes);
    }

    #[test]
    fn the_marker_is_taken_out() {
        let mut headers = answer(None);
        headers.push((
            HeaderName::from_static(MARKER),
            HeaderValue::from_static("30"),
        ));
        assert_eq!(
            ResponseCache::take_marker(&mut headers),
            Some(Duration::from_secs(30))
        );
        assert!(headers.iter().all(|(k, _)| k != MARKER));
        assert_eq!(ResponseCache::take_marker(&mut headers), None);
    }
}
