//! Plain HTTP/1.1 over loopback TCP for the load binaries that drive a
//! real server (`fanout`, `http`): keep-alive `POST`s that return when the
//! answer's head and body are in, and a server-sent-event reader that
//! yields each event's `id` as it arrives. Hand-written (a few hundred
//! bytes of protocol) so the client side costs as little as possible next
//! to the server it measures on the same cores.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read from a connection and not yet consumed.
struct Buffered {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Where the unconsumed bytes start in `buf`.
    at: usize,
}

impl Buffered {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::with_capacity(4096),
            at: 0,
        }
    }

    /// Reads more bytes; `false` at the end of the stream.
    async fn fill(&mut self) -> Result<bool, String> {
        if self.at > 0 && self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        } else if self.at > 64 * 1024 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        let mut chunk = [0u8; 4096];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| e.to_string())?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The next line (without its `\r\n` or `\n`).
    async fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(end) = self.buf[self.at..].iter().position(|b| *b == b'\n') {
                let mut line = self.buf[self.at..self.at + end].to_vec();
                self.at += end + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if !self.fill().await? {
                return Err("connection closed".into());
            }
        }
    }

    /// Exactly `n` bytes.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() - self.at < n {
            if !self.fill().await? {
                return Err("connection closed".into());
            }
        }
        let out = self.buf[self.at..self.at + n].to_vec();
        self.at += n;
        Ok(out)
    }

    /// A response's head: its status and whether its body is chunked
    /// (else its length).
    async fn head(&mut self) -> Result<(u16, Body), String> {
        let status_line = self.line().await?;
        let status = String::from_utf8_lossy(&status_line)
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "bad status line".to_string())?;
        let mut body = Body::Length(0);
        loop {
            let line = self.line().await?;
            if line.is_empty() {
                return Ok((status, body));
            }
            let line = String::from_utf8_lossy(&line).to_ascii_lowercase();
            if let Some(v) = line.strip_prefix("content-length:") {
                body = Body::Length(v.trim().parse().map_err(|_| "bad content-length")?);
            } else if line.starts_with("transfer-encoding:") && line.contains("chunked") {
                body = Body::Chunked;
            }
        }
    }

    /// The next chunk of a chunked body (empty: the last).
    async fn chunk(&mut self) -> Result<Vec<u8>, String> {
        let size = self.line().await?;
        let size = String::from_utf8_lossy(&size);
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        let data = self.take(n).await?;
        let _ = self.line().await?;
        Ok(data)
    }
}

/// How a response's body is framed.
enum Body {
    Length(usize),
    Chunked,
}

/// A keep-alive connection that `POST`s to one server.
pub struct Poster {
    addr: String,
    conn: Option<Buffered>,
}

impl Poster {
    /// A poster to `addr` (`host:port`); it connects on first use and again
    /// after a failure.
    pub fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_string(),
            conn: None,
        }
    }

    /// `POST path` with `body` and extra `headers` (`name: value` lines);
    /// returns the answer's status once its body is read.
    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<u16, String> {
        let result = self.try_post(path, headers, body).await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn try_post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<u16, String> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            let _ = stream.set_nodelay(true);
            self.conn = Some(Buffered::new(stream));
        }
        let conn = self.conn.as_mut().ok_or("not connected")?;
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            request.push_str(k);
            request.push_str(": ");
            request.push_str(v);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        conn.stream
            .write_all(&bytes)
            .await
            .map_err(|e| e.to_string())?;
        let (status, framing) = conn.head().await?;
        match framing {
            Body::Length(n) => {
                conn.take(n).await?;
            }
            Body::Chunked => while !conn.chunk().await?.is_empty() {},
        }
        Ok(status)
    }
}

/// One server-sent event stream, opened by [`SseStream::open`].
pub struct SseStream {
    conn: Buffered,
    /// Event text not yet complete.
    pending: Vec<u8>,
    /// Events read, not yet handed out.
    ready: std::collections::VecDeque<SseItem>,
}

/// What an event stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// An event with this `id:` (its sequence number).
    Event(u64),
    /// An event named `lagged`.
    Lagged,
}

impl SseStream {
    /// `GET path` on `addr` with `Authorization: Bearer token`; fails
    /// unless the answer is `200`.
    pub async fn open(addr: &str, path: &str, token: &str) -> Result<Self, String> {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut conn = Buffered::new(stream);
        let (status, framing) = tokio::time::timeout(Duration::from_secs(30), conn.head())
            .await
            .map_err(|_| "no answer within 30 s".to_string())??;
        if status != 200 {
            return Err(format!("GET {path}: {status}"));
        }
        if !matches!(framing, Body::Chunked) {
            return Err("the event stream is not chunked".into());
        }
        Ok(Self {
            conn,
            pending: Vec::new(),
            ready: Default::default(),
        })
    }

    /// The next event (`None` when the stream ended). Comments
    /// (keep-alives) and events without an id are skipped.
    pub async fn next(&mut self) -> Result<Option<SseItem>, String> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            let chunk = self.conn.chunk().await?;
            if chunk.is_empty() {
                return Ok(None);
            }
            self.pending.extend_from_slice(&chunk);
            while let Some(end) = find(&self.pending, b"\n\n") {
                let event: Vec<u8> = self.pending.drain(..end + 2).collect();
                let mut id = None;
                let mut lagged = false;
                for line in event.split(|b| *b == b'\n') {
                    if let Some(v) = line.strip_prefix(b"id:") {
                        id = std::str::from_utf8(v)
                            .ok()
                            .and_then(|s| s.trim().parse().ok());
                    } else if line == b"event: lagged" || line == b"event:lagged" {
                        lagged = true;
                    }
                }
                match (lagged, id) {
                    (true, _) => self.ready.push_back(SseItem::Lagged),
                    (false, Some(id)) => self.ready.push_back(SseItem::Event(id)),
                    (false, None) => {}
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// This process's resident memory in KiB (`VmRSS` of
/// `/proc/self/status`; `None` elsewhere).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Wall-clock time in nanoseconds since the Unix epoch: comparable across
/// the processes of one machine.
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
