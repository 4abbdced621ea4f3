//! The text of access-log lines: numbers, addresses, escaped request text and dates,
//! written straight into the line.

use std::fmt::Write as _;

use actix_web::http::header::HeaderValue;
use actix_web::http::Version;

/// Writes `n` in decimal (what `write!` does, without the formatting machinery).
pub(super) fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Writes an address as `Display` does; IPv4 without the formatting machinery.
pub(super) fn push_ip(out: &mut String, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(octet));
            }
        }
        std::net::IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// Writes `value` for a text line: quotes, backslashes and bytes outside printable ASCII
/// escaped, so a header cannot forge log fields.
pub(super) fn push_escaped(out: &mut String, value: &[u8]) {
    let plain = |b: &u8| (0x20..=0x7e).contains(b) && *b != b'"' && *b != b'\\';
    if value.iter().all(plain) {
        // Printable ASCII is valid UTF-8: the common case, copied whole.
        out.push_str(std::str::from_utf8(value).unwrap_or_default());
        return;
    }
    for &b in value {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

pub(super) fn push_or_dash(out: &mut String, value: Option<&HeaderValue>) {
    match value {
        Some(v) if !v.is_empty() => push_escaped(out, v.as_bytes()),
        _ => out.push('-'),
    }
}

pub(super) fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// (year, month, day, hour, minute, second) in UTC of a Unix time.
pub(super) fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to a proleptic Gregorian date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

thread_local! {
    /// The last second formatted for `%(t)s`: lines of the same second reuse it.
    static CLF_TIME: std::cell::RefCell<(u64, String)> = const {
        std::cell::RefCell::new((u64::MAX, String::new()))
    };
}

pub(super) fn push_clf_time(out: &mut String, secs: u64) {
    CLF_TIME.with_borrow_mut(|(at, text)| {
        if *at != secs {
            let (y, mo, d, h, mi, s) = civil(secs);
            let month = MONTHS[(mo - 1) as usize];
            text.clear();
            let _ = write!(text, "[{d:02}/{month}/{y}:{h:02}:{mi:02}:{s:02} +0000]");
            *at = secs;
        }
        out.push_str(text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_are_written_as_display_does() {
        for n in [0u64, 7, 10, 99, 404, 65_535, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "203.0.113.255",
            "2001:db8::5",
            "::1",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_796_131_445), (2026, 12, 1, 13, 24, 5));
    }

    #[test]
    fn escapes_what_could_forge_fields() {
        let mut out = String::new();
        push_escaped(&mut out, b"a\"b\\c\x01\xff");
        assert_eq!(out, "a\\\"b\\\\c\\x01\\xff");
    }
}
