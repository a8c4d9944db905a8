//! Where a planned response goes: into one buffer (an answer kept whole, for the answer cache or
//! a library caller), or out in chunks as it is written (a streamed HTTP body), so that a large
//! answer is never held whole: at 1,000 deployments an answer is ~2.3 MiB, and sixteen of them
//! at once were the largest share of the gateway's memory.

use bytes::Bytes;
use tokio::sync::mpsc;

/// How much a streamed response gathers before sending it: enough that a chunk costs little
/// beside its bytes, small beside an answer.
const CHUNK: usize = 64 * 1024;

/// Room left in a kept answer past the parts sent so far: the rest of the response after a long
/// list (a few closing brackets, usually) and the cost report, so neither grows it by doubling.
const SLACK: usize = 16 * 1024;

/// The destination of a response's bytes, sent in order.
pub(crate) struct Sink {
    out: Out,
}

enum Out {
    Buffer(Vec<u8>),
    /// Chunks for a body that sends them as they come; the channel is bounded, so a writer
    /// waits for the reader rather than piling chunks up.
    Channel(mpsc::Sender<Bytes>),
}

impl Sink {
    /// A sink that keeps every byte, in one buffer.
    pub(crate) fn buffer() -> Self {
        Sink { out: Out::Buffer(Vec::new()) }
    }

    /// A sink that sends chunks down `tx` as they are written.
    pub(crate) fn channel(tx: mpsc::Sender<Bytes>) -> Self {
        Sink { out: Out::Channel(tx) }
    }

    /// Whether the bytes go out as written (so nothing should be gathered ahead of them).
    pub(crate) fn streams(&self) -> bool {
        matches!(self.out, Out::Channel(_))
    }

    /// How much a writer should gather before sending: a chunk when streaming; everything
    /// otherwise (one copy into the buffer, at the end).
    pub(crate) fn chunk(&self) -> usize {
        match self.out {
            Out::Buffer(_) => usize::MAX,
            Out::Channel(_) => CHUNK,
        }
    }

    /// Sends the next bytes of the response. A reader that is gone (the client hung up) is
    /// not an error here: the execution that writes is dropped with the body.
    pub(crate) async fn send(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.out {
            Out::Buffer(buf) if buf.is_empty() => *buf = bytes,
            Out::Buffer(buf) => {
                // Sized once for a large part and what follows it, not grown by doubling (the
                // old and the new buffer alive at once).
                if buf.capacity() - buf.len() < bytes.len() {
                    buf.reserve_exact(bytes.len() + SLACK);
                }
                buf.extend_from_slice(&bytes);
            }
            Out::Channel(tx) => {
                let _ = tx.send(Bytes::from(bytes)).await;
            }
        }
    }

    /// Every byte sent to a buffer (nothing for a channel). The answer may be kept whole in the
    /// answer cache, which weighs it by its length: spare capacity over a sixteenth of it is
    /// given back (under that, it is where the cost report goes).
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        match self.out {
            Out::Buffer(mut buf) => {
                if buf.capacity() - buf.len() > buf.len() / 16 {
                    buf.shrink_to_fit();
                }
                buf
            }
            Out::Channel(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_buffer_keeps_the_parts_in_order_and_sized() {
        let mut sink = Sink::buffer();
        sink.send(b"{\"data\":".to_vec()).await;
        sink.send(vec![b'x'; 100_000]).await;
        sink.send(Vec::new()).await;
        sink.send(b"}".to_vec()).await;
        let buf = sink.into_buffer();
        assert_eq!(buf.len(), 8 + 100_000 + 1);
        assert!(buf.starts_with(b"{\"data\":x") && buf.ends_with(b"x}"));
        assert!(buf.capacity() - buf.len() <= SLACK, "sized for the large part, not doubled: {}", buf.capacity());
    }

    #[tokio::test]
    async fn a_channel_sends_each_part_as_it_comes() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut sink = Sink::channel(tx);
        assert!(sink.streams() && sink.chunk() == CHUNK);
        sink.send(b"[1".to_vec()).await;
        sink.send(Vec::new()).await;
        sink.send(b"]".to_vec()).await;
        drop(sink);
        let mut got = Vec::new();
        while let Some(chunk) = rx.recv().await {
            got.push(chunk);
        }
        assert_eq!(got, [Bytes::from_static(b"[1"), Bytes::from_static(b"]")]);
    }
}
