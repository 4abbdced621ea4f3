//! HTTP/1 framing, observed: the bytes a connection receives are read alongside Actix's
//! parser to know where each request head starts and ends and where each body ends. The
//! server uses it to time every head of a keep-alive connection (Actix times only the
//! first) and to refuse an absurd chunk size before its data is awaited.
//!
//! The observer never decides what a request is: Actix's parser does. Whenever the bytes
//! are not plainly what the observer expects (a head it cannot parse, an upgrade, a
//! framing Actix would refuse anyway) it stops observing that connection for good.

/// A head still incomplete after this many bytes is left to Actix (which refuses it).
const MAX_HEAD: usize = 64 * 1024;
/// A chunk declaring more than this (1 TiB) is refused at once: no client sends one.
pub const MAX_CHUNK: u64 = 1 << 40;
/// What a refused chunk size is overwritten with: no hexadecimal digit, so Actix's
/// parser answers 400 for the request and closes the connection.
const REFUSED: u8 = b'!';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests: the next byte starts a head.
    Idle,
    /// Inside a head; `scanned` bytes of it were searched for its end already.
    Head {
        scanned: usize,
    },
    /// Inside a body of known length.
    Body {
        left: u64,
    },
    /// Inside a chunk-size line (`ext`: past the digits).
    ChunkSize {
        size: u64,
        ext: bool,
    },
    ChunkData {
        left: u64,
    },
    /// The line end after a chunk's data.
    ChunkEnd,
    /// Trailer lines after the last chunk, up to an empty line.
    Trailers {
        line_start: bool,
    },
    /// Not observed any more.
    Off,
}

/// Where a connection's request stream stands.
#[derive(Debug)]
pub struct Framing {
    phase: Phase,
    /// The bytes of a head that spans reads.
    head: Vec<u8>,
    /// Heads started so far.
    heads: u64,
}

impl Default for Framing {
    fn default() -> Self {
        Self::new()
    }
}

impl Framing {
    pub fn new() -> Self {
        Self {
            phase: Phase::Idle,
            head: Vec::new(),
            heads: 0,
        }
    }

    /// Heads begun on this connection so far (the one in progress included).
    pub fn heads(&self) -> u64 {
        self.heads
    }

    /// True while a head has begun and not ended.
    pub fn in_head(&self) -> bool {
        matches!(self.phase, Phase::Head { .. })
    }

    /// True once the observer has given up on this connection.
    pub fn off(&self) -> bool {
        self.phase == Phase::Off
    }

    /// Reads the bytes just received. A chunk size over [`MAX_CHUNK`] is overwritten in
    /// `bytes` so that Actix refuses it; returns true then.
    pub fn feed(&mut self, bytes: &mut [u8]) -> bool {
        let mut at = 0;
        while at < bytes.len() {
            match self.phase {
                Phase::Off => return false,
                Phase::Idle => {
                    self.heads += 1;
                    self.head.clear();
                    self.phase = Phase::Head { scanned: 0 };
                }
                Phase::Head { .. } => at += self.head_bytes(&bytes[at..]),
                Phase::Body { left } => {
                    let take = left.min((bytes.len() - at) as u64);
                    at += take as usize;
                    self.phase = if take == left {
                        Phase::Idle
                    } else {
                        Phase::Body { left: left - take }
                    };
                }
                Phase::ChunkData { left } => {
                    let take = left.min((bytes.len() - at) as u64);
                    at += take as usize;
                    self.phase = if take == left {
                        Phase::ChunkEnd
                    } else {
                        Phase::ChunkData { left: left - take }
                    };
                }
                Phase::ChunkSize { size, ext } => {
                    let byte = bytes[at];
                    let digit = (byte as char).to_digit(16);
                    self.phase = match (byte, digit) {
                        (b'\n', _) if size == 0 => Phase::Trailers { line_start: true },
                        (b'\n', _) => Phase::ChunkData { left: size },
                        (_, Some(d)) if !ext => {
                            let size = size.saturating_mul(16).saturating_add(d as u64);
                            if size > MAX_CHUNK {
                                bytes[at] = REFUSED;
                                self.phase = Phase::Off;
                                return true;
                            }
                            Phase::ChunkSize { size, ext }
                        }
                        _ => Phase::ChunkSize { size, ext: true },
                    };
                    at += 1;
                }
                Phase::ChunkEnd => {
                    if bytes[at] == b'\n' {
                        self.phase = Phase::ChunkSize {
                            size: 0,
                            ext: false,
                        };
                    }
                    at += 1;
                }
                Phase::Trailers { line_start } => {
                    self.phase = match bytes[at] {
                        b'\n' if line_start => Phase::Idle,
                        b'\n' => Phase::Trailers { line_start: true },
                        b'\r' => Phase::Trailers { line_start },
                        _ => Phase::Trailers { line_start: false },
                    };
                    at += 1;
                }
            }
        }
        false
    }

    /// Takes bytes of the head in progress; returns how many of `bytes` it used.
    fn head_bytes(&mut self, bytes: &[u8]) -> usize {
        let Phase::Head { scanned } = self.phase else {
            return 0;
        };
        if self.head.is_empty() {
            // The usual case: the whole head arrives in one read, read where it lies.
            if let Some((end, next)) = read_head(bytes) {
                self.phase = next;
                return end;
            }
            if bytes.len() > MAX_HEAD {
                self.phase = Phase::Off;
            } else {
                self.head.extend_from_slice(bytes);
                self.phase = Phase::Head {
                    scanned: bytes.len(),
                };
            }
            return bytes.len();
        }
        let before = self.head.len();
        self.head.extend_from_slice(bytes);
        // Only the new bytes are searched for the end (from a few bytes back, where the
        // empty line may have begun); the head is read once, when it is whole.
        if !ends_after(&self.head, scanned.saturating_sub(3)) {
            let len = self.head.len();
            self.phase = if len > MAX_HEAD {
                Phase::Off
            } else {
                Phase::Head { scanned: len }
            };
            return bytes.len();
        }
        let head = std::mem::take(&mut self.head);
        match read_head(&head) {
            Some((end, next)) => {
                self.phase = next;
                end - before
            }
            None => {
                self.phase = Phase::Off;
                bytes.len()
            }
        }
    }
}

/// The length of the head at the start of `bytes` (up to and including the empty line
/// that ends it) and the framing of what follows it, as Actix reads it; None while the
/// head is incomplete. Only the lines that can change the framing are looked at: a head
/// Actix finds malformed is refused and its connection closed, whatever is read here.
fn read_head(bytes: &[u8]) -> Option<(usize, Phase)> {
    let mut off = bytes.starts_with(b"CONNECT ");
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut line_start = 0;
    for nl in memchr::memchr_iter(b'\n', bytes) {
        let mut line = &bytes[line_start..nl];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        let request_line = line_start == 0;
        line_start = nl + 1;
        if request_line {
            continue;
        }
        let Some(&first) = line.first() else {
            let next = match (off, chunked, length) {
                (true, _, _) | (false, true, Some(_)) => Phase::Off,
                (false, true, None) => Phase::ChunkSize {
                    size: 0,
                    ext: false,
                },
                (false, false, Some(0) | None) => Phase::Idle,
                (false, false, Some(n)) => Phase::Body { left: n },
            };
            return Some((nl + 1, next));
        };
        // Content-Length, Transfer-Encoding, Upgrade: no other header matters.
        if off || !matches!(first | 0x20, b'c' | b't' | b'u') {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            off = true;
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        match colon {
            // The connection may become something else: not HTTP to observe.
            7 if name.eq_ignore_ascii_case(b"upgrade") => off = true,
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                off |= chunked || !value.eq_ignore_ascii_case(b"chunked");
                chunked = true;
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => match parse_length(value) {
                Some(n) if length.is_none() => length = Some(n),
                _ => off = true,
            },
            _ => {}
        }
    }
    None
}

/// A Content-Length value: digits only.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// True when `bytes` holds an empty line (the end of a head) after its first line,
/// searching newlines from `from`.
fn ends_after(bytes: &[u8], from: usize) -> bool {
    memchr::memchr_iter(b'\n', &bytes[from..]).any(|offset| {
        let nl = from + offset;
        (nl >= 1 && bytes[nl - 1] == b'\n')
            || (nl >= 2 && bytes[nl - 1] == b'\r' && bytes[nl - 2] == b'\n')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(framing: &mut Framing, text: &str) -> (bool, Vec<u8>) {
        let mut bytes = text.as_bytes().to_vec();
        let refused = framing.feed(&mut bytes);
        (refused, bytes)
    }

    #[test]
    fn whole_requests_leave_it_idle() {
        let mut f = Framing::new();
        fed(&mut f, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(f.phase, Phase::Idle);
        fed(
            &mut f,
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
        );
        assert_eq!((f.phase, f.heads()), (Phase::Idle, 3));
    }

    #[test]
    fn a_head_split_anywhere_is_followed() {
        let text =
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /y HTTP/1.1\r\n\r\n";
        for cut in 1..text.len() {
            let mut f = Framing::new();
            fed(&mut f, &text[..cut]);
            fed(&mut f, &text[cut..]);
            assert_eq!((f.phase, f.heads()), (Phase::Idle, 2), "cut at {cut}");
        }
        // One byte at a time.
        let mut f = Framing::new();
        for i in 0..text.len() {
            fed(&mut f, &text[i..i + 1]);
        }
        assert_eq!((f.phase, f.heads()), (Phase::Idle, 2));
    }

    #[test]
    fn a_partial_head_is_in_progress() {
        let mut f = Framing::new();
        fed(
            &mut f,
            "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nX-A: ",
        );
        assert!(f.in_head());
        assert_eq!(f.heads(), 2);
        fed(&mut f, "b\r\n\r\n");
        assert!(!f.in_head());
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let mut f = Framing::new();
        fed(
            &mut f,
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        );
        assert_eq!((f.phase, f.heads()), (Phase::Idle, 1));
        fed(&mut f, "GET / HTTP/1.1\r\n\r\n");
        assert_eq!((f.phase, f.heads()), (Phase::Idle, 2));
    }

    #[test]
    fn an_absurd_chunk_size_is_overwritten_for_actix_to_refuse() {
        let mut f = Framing::new();
        let (refused, bytes) = fed(
            &mut f,
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n",
        );
        assert!(refused);
        assert!(f.off());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with("\r\n\r\nFFFFFFFFFF!FFFFF\r\n"), "{text}");
        // A large but possible chunk passes.
        let mut f = Framing::new();
        let (refused, _) = fed(
            &mut f,
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000\r\n",
        );
        assert!(!refused);
        assert_eq!(f.phase, Phase::ChunkData { left: 1 << 28 });
    }

    #[test]
    fn what_it_cannot_follow_turns_it_off() {
        for head in [
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length 3\r\n\r\n",
        ] {
            let mut f = Framing::new();
            fed(&mut f, head);
            assert!(f.off(), "{head}");
        }
    }

    #[test]
    fn a_head_that_never_ends_is_left_to_actix() {
        let mut f = Framing::new();
        fed(&mut f, "GET / HTTP/1.1\r\n");
        let line = format!("X-Pad: {}\r\n", "a".repeat(1000));
        for _ in 0..70 {
            fed(&mut f, &line);
        }
        assert!(f.off());
    }
}
