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
/// Headers per head: more is left to Actix (which refuses it).
const MAX_HEADERS: usize = 128;
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
            // The usual case: the whole head arrives in one read, parsed where it lies.
            if let Some(end) = head_end(bytes, 0) {
                self.phase = self.after_head(&bytes[..end]);
                return end;
            }
            self.keep(bytes);
            return bytes.len();
        }
        let before = self.head.len();
        self.head.extend_from_slice(bytes);
        // The end marker may straddle the previous read: look from a few bytes back.
        match head_end(&self.head, scanned.saturating_sub(3)) {
            Some(end) => {
                let head = std::mem::take(&mut self.head);
                self.phase = self.after_head(&head[..end]);
                end - before
            }
            None => {
                let len = self.head.len();
                if len > MAX_HEAD {
                    self.phase = Phase::Off;
                } else {
                    self.phase = Phase::Head { scanned: len };
                }
                bytes.len()
            }
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if bytes.len() > MAX_HEAD {
            self.phase = Phase::Off;
            return;
        }
        self.head.extend_from_slice(bytes);
        self.phase = Phase::Head {
            scanned: bytes.len(),
        };
    }

    /// What follows a complete head: its body's framing, as Actix reads it.
    fn after_head(&self, head: &[u8]) -> Phase {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            _ => return Phase::Off,
        }
        if request.method == Some("CONNECT") {
            return Phase::Off;
        }
        let mut length: Option<u64> = None;
        let mut chunked = false;
        for header in request.headers.iter() {
            let name = header.name;
            if name.eq_ignore_ascii_case("upgrade") {
                // The connection may become something else: not HTTP to observe.
                return Phase::Off;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                let value = std::str::from_utf8(header.value).unwrap_or("").trim();
                if chunked || !value.eq_ignore_ascii_case("chunked") {
                    return Phase::Off;
                }
                chunked = true;
            } else if name.eq_ignore_ascii_case("content-length") {
                let value = std::str::from_utf8(header.value).unwrap_or("").trim();
                if length.is_some()
                    || value.is_empty()
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Phase::Off;
                }
                match value.parse() {
                    Ok(n) => length = Some(n),
                    Err(_) => return Phase::Off,
                }
            }
        }
        match (chunked, length) {
            (true, Some(_)) => Phase::Off,
            (true, None) => Phase::ChunkSize {
                size: 0,
                ext: false,
            },
            (false, Some(0)) | (false, None) => Phase::Idle,
            (false, Some(n)) => Phase::Body { left: n },
        }
    }
}

/// The length of the head at the start of `bytes` (up to and including the empty line
/// that ends it), searching from `from`.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'\n') {
        let nl = at + offset;
        // The line that this newline ends is empty ("\n" or "\r\n") and is not the
        // first line of the head.
        let empty = (nl >= 1 && bytes[nl - 1] == b'\n')
            || (nl >= 2 && bytes[nl - 1] == b'\r' && bytes[nl - 2] == b'\n');
        if empty {
            return Some(nl + 1);
        }
        at = nl + 1;
    }
    None
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
            "GE T / HTTP/1.1\r\n\r\n",
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
