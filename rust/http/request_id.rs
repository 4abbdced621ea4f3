//! Request ids: the one a trusted proxy sent (`X-Request-ID`), or a new one, unique across
//! processes; set in the request's own headers before it is served, so every hand-over
//! to Python sees it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use actix_web::http::header::{HeaderName, HeaderValue};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

static SEED: LazyLock<(u64, u64)> = LazyLock::new(|| {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer it is given.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    let (mut a, mut b) = (
        u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default()),
        u64::from_le_bytes(bytes[8..].try_into().unwrap_or_default()),
    );
    if got != bytes.len() as isize {
        // No entropy source: the clock and the process id still tell processes apart.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        a ^= now;
        b ^= now.rotate_left(32);
    }
    (a ^ u64::from(std::process::id()), b)
});
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A bijection on u64 (SplitMix64's finaliser): distinct inputs give distinct outputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A new id: 32 hex digits, never repeated within a process.
pub fn new_request_id() -> HeaderValue {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (a, b) = *SEED;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 32];
    for (half, value) in [mix(a ^ n), mix(b.wrapping_add(n))].into_iter().enumerate() {
        for i in 0..16 {
            text[half * 16 + i] = HEX[((value >> (60 - 4 * i)) & 0xf) as usize];
        }
    }
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// An incoming id worth keeping: 1 to 200 visible ASCII characters.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 200 && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_hex_and_distinct() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 32 && id.as_bytes().iter().all(u8::is_ascii_hexdigit)));
    }

    #[test]
    fn only_plain_ids_are_kept() {
        assert!(acceptable(&HeaderValue::from_static("abc-123_XY")));
        assert!(!acceptable(&HeaderValue::from_static("two words")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(
            &HeaderValue::from_str(&"x".repeat(201)).unwrap()
        ));
    }
}
