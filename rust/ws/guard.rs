//! Checks each WebSocket frame's header as the bytes arrive, before the codec buffers the
//! frame: a frame (or a fragmented message) declaring more than the message limit ends the
//! connection with 1009 without its payload being read, and RSV bits (no extension is
//! negotiated) with 1002. Bytes pass through unchanged otherwise.

use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;

/// Where the reader is in the client's byte stream.
enum At {
    /// Inside a frame header: the bytes seen so far.
    Header { seen: [u8; 14], len: usize },
    /// Inside a payload: bytes still to skip.
    Payload(u64),
}

/// The frame-header reader; `verdict` holds the close code once it refuses.
pub struct FrameCheck {
    limit: u64,
    at: At,
    /// Bytes of the fragmented data message under way (None: none under way).
    message: Option<u64>,
}

/// Why a stream was refused: the close code (1009 too big, 1002 protocol error).
pub type Verdict = Arc<AtomicU16>;

impl FrameCheck {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit as u64,
            at: At::Header {
                seen: [0; 14],
                len: 0,
            },
            message: None,
        }
    }

    /// Reads `chunk`; the close code if a frame in it must be refused.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), u16> {
        while !chunk.is_empty() {
            match &mut self.at {
                At::Payload(left) => {
                    let take = (*left).min(chunk.len() as u64);
                    *left -= take;
                    chunk = &chunk[take as usize..];
                    if *left == 0 {
                        self.at = At::Header {
                            seen: [0; 14],
                            len: 0,
                        };
                    }
                }
                At::Header { seen, len } => {
                    seen[*len] = chunk[0];
                    *len += 1;
                    chunk = &chunk[1..];
                    if let Some(payload) = self.header_done()? {
                        self.at = if payload == 0 {
                            At::Header {
                                seen: [0; 14],
                                len: 0,
                            }
                        } else {
                            At::Payload(payload)
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// With the whole header seen, checks it and returns the payload length.
    fn header_done(&mut self) -> Result<Option<u64>, u16> {
        let At::Header { seen, len } = &self.at else {
            return Ok(None);
        };
        let (seen, len) = (*seen, *len);
        if len < 2 {
            return Ok(None);
        }
        let (first, second) = (seen[0], seen[1]);
        if first & 0x70 != 0 {
            return Err(1002); // RSV bits without a negotiated extension
        }
        let extra = match second & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if len < 2 + extra {
            return Ok(None);
        }
        let length = match extra {
            0 => u64::from(second & 0x7f),
            2 => u64::from(u16::from_be_bytes([seen[2], seen[3]])),
            _ => u64::from_be_bytes(seen[2..10].try_into().unwrap_or_default()),
        };
        let fin = first & 0x80 != 0;
        let opcode = first & 0x0f;
        let total = match (opcode, self.message) {
            (0, Some(so_far)) => so_far.saturating_add(length),
            _ => length,
        };
        // Refused as soon as the length is known, before the mask and the payload.
        if opcode < 8 && total > self.limit {
            return Err(1009);
        }
        let masked = second & 0x80 != 0;
        if len < 2 + extra + if masked { 4 } else { 0 } {
            return Ok(None);
        }
        if opcode >= 8 {
            return Ok(Some(length)); // control frames: the codec bounds them (125 bytes)
        }
        self.message = if fin { None } else { Some(total) };
        Ok(Some(length))
    }
}

/// The request's body stream, checked frame by frame.
pub struct Guarded<S> {
    inner: S,
    check: FrameCheck,
    verdict: Verdict,
    refused: bool,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, limit: usize, verdict: Verdict) -> Self {
        Self {
            inner,
            check: FrameCheck::new(limit),
            verdict,
            refused: false,
        }
    }
}

impl<S> Stream for Guarded<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.refused {
            return Poll::Ready(None);
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            if let Err(code) = self.check.feed(chunk) {
                self.refused = true;
                self.verdict.store(code, Ordering::Release);
                return Poll::Ready(Some(Err(PayloadError::Overflow)));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, payload_len: u64) -> Vec<u8> {
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload_len {
            0..=125 => out.push(0x80 | payload_len as u8),
            126..=0xffff => {
                out.push(0x80 | 126);
                out.extend((payload_len as u16).to_be_bytes());
            }
            _ => {
                out.push(0x80 | 127);
                out.extend(payload_len.to_be_bytes());
            }
        }
        out.extend([1, 2, 3, 4]); // mask
        out.resize(out.len() + payload_len.min(1 << 20) as usize, b'x');
        out
    }

    #[test]
    fn frames_within_the_limit_pass_in_any_split() {
        let mut bytes = frame(true, 1, 100);
        bytes.extend(frame(false, 2, 300));
        bytes.extend(frame(true, 9, 4)); // a ping between fragments
        bytes.extend(frame(true, 0, 600));
        for step in [1, 3, 7, 1000] {
            let mut check = FrameCheck::new(1000);
            for piece in bytes.chunks(step) {
                assert_eq!(check.feed(piece), Ok(()), "split {step}");
            }
        }
    }

    #[test]
    fn a_frame_declaring_too_much_is_refused_on_its_header() {
        let mut check = FrameCheck::new(1 << 20);
        let header = &frame(true, 2, 1 << 62)[..14];
        // Refused once the length is known: nothing of the payload is needed.
        assert_eq!(check.feed(&header[..9]), Ok(()));
        assert_eq!(check.feed(&header[9..10]), Err(1009));
    }

    #[test]
    fn a_fragmented_message_over_the_limit_is_refused() {
        let mut check = FrameCheck::new(1000);
        assert_eq!(check.feed(&frame(false, 1, 600)), Ok(()));
        assert_eq!(check.feed(&frame(true, 10, 4)), Ok(())); // pong
        assert_eq!(check.feed(&frame(true, 0, 600)), Err(1009));
    }

    #[test]
    fn rsv_bits_are_a_protocol_error() {
        let mut check = FrameCheck::new(1000);
        let mut bytes = frame(true, 1, 5);
        bytes[0] |= 0x40;
        assert_eq!(check.feed(&bytes), Err(1002));
    }
}
