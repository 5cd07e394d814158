//! `CountingProxy`: a TCP pass-through between a client and PostgreSQL or MySQL that counts round
//! trips.
//!
//! It parses the client's half of the wire protocol just enough to find message boundaries. For
//! PostgreSQL it counts `Sync` (the end of an extended-protocol exchange: prepare, or bind +
//! execute) and `Query` (a simple-protocol statement such as `BEGIN`); for MySQL every command
//! packet (sequence number 0: a query, a prepare, an execute) except the few the server never
//! answers. Each is one wait for the server. That turns "the adapter makes more round trips" from
//! a reading of its code into a measurement.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use anyhow::{Context, Result, bail};
use postgres::config::Host;

/// `SSLRequest` and `GSSENCRequest`: untyped messages sent before the startup message.
const PRE_STARTUP_CODES: [u32; 2] = [80_877_103, 80_877_104];

/// A running proxy; its listener thread lives until the process exits.
pub struct CountingProxy {
    port: u16,
    round_trips: Arc<AtomicU64>,
    /// Nanoseconds from each counted request to the first byte of the server's answer.
    waited: Arc<AtomicU64>,
}

/// What the two directions of one proxied connection share: when the last counted request went
/// out, and the running total of waits.
struct Clock {
    sent: std::sync::Mutex<Option<std::time::Instant>>,
    waited: Arc<AtomicU64>,
}

/// Finds the round trips in what a client sends.
trait Frontend: Send {
    fn feed(&mut self, data: &[u8], round_trips: &AtomicU64);
}

impl CountingProxy {
    /// Listens on a free local port and forwards every connection to the PostgreSQL server `url`
    /// names.
    pub fn start(url: &str) -> Result<Self> {
        let config: postgres::Config = url.parse().context("parsing the postgres url")?;
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            _ => bail!("round trips are counted over TCP only; the url names no TCP host"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        Self::listen(format!("{host}:{port}"), || {
            Box::new(FrontendParser::default())
        })
    }

    /// Listens on a free local port and forwards every connection to the MySQL server `url`
    /// (`mysql://…`) names.
    pub fn start_mysql(url: &str) -> Result<Self> {
        let opts = mysql::Opts::from_url(url).context("parsing the mysql url")?;
        let upstream = format!("{}:{}", opts.get_ip_or_hostname(), opts.get_tcp_port());
        Self::listen(upstream, || Box::new(MysqlCommands::default()))
    }

    fn listen(upstream: String, frontend: fn() -> Box<dyn Frontend>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let local = listener.local_addr()?.port();
        let round_trips = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&round_trips);
        let waited = Arc::new(AtomicU64::new(0));
        let total = Arc::clone(&waited);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let clock = Arc::new(Clock {
                    sent: std::sync::Mutex::new(None),
                    waited: Arc::clone(&total),
                });
                if let Err(err) = pipe(client, server, Arc::clone(&counter), clock, frontend()) {
                    eprintln!("counting proxy: {err}");
                }
            }
        });
        Ok(Self {
            port: local,
            round_trips,
            waited,
        })
    }

    /// `url` with its host and port replaced by this proxy's.
    pub fn url_for(&self, url: &str) -> Result<String> {
        let config: postgres::Config = url.parse().context("parsing the postgres url")?;
        let mut rebuilt = format!("host=127.0.0.1 port={}", self.port);
        if let Some(user) = config.get_user() {
            rebuilt.push_str(&format!(" user='{}'", quote(user)));
        }
        if let Some(dbname) = config.get_dbname() {
            rebuilt.push_str(&format!(" dbname='{}'", quote(dbname)));
        }
        if let Some(password) = config.get_password() {
            let password = String::from_utf8_lossy(password);
            rebuilt.push_str(&format!(" password='{}'", quote(&password)));
        }
        Ok(rebuilt)
    }

    /// The mysql `url` with its host and port replaced by this proxy's, and the driver told to
    /// stay on TCP (by default it moves to the server's Unix socket when it finds itself on
    /// localhost, which would bypass the proxy).
    pub fn mysql_url_for(&self, url: &str) -> Result<String> {
        let (scheme, rest) = url.split_once("://").context("a mysql:// url")?;
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let credentials = authority
            .rsplit_once('@')
            .map_or(String::new(), |(c, _)| format!("{c}@"));
        let separator = if tail.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{scheme}://{credentials}127.0.0.1:{}{tail}{separator}prefer_socket=false",
            self.port
        ))
    }

    /// Round trips seen so far, over every connection.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Time clients waited so far, over every connection, from each counted request to the
    /// first byte of the answer: the server's share of the round trips (plus the proxy's own,
    /// the same on both sides of a comparison).
    pub fn waited(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.waited.load(Ordering::Relaxed))
    }
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

fn pipe(
    client: TcpStream,
    server: TcpStream,
    counter: Arc<AtomicU64>,
    clock: Arc<Clock>,
    mut parser: Box<dyn Frontend>,
) -> Result<()> {
    let mut client_read = client.try_clone()?;
    let mut server_write = server.try_clone()?;
    let mut server_read = server;
    let mut client_write = client;
    let answers = Arc::clone(&clock);
    thread::spawn(move || {
        let mut buffer = [0_u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buffer) {
            if n == 0 || server_write.write_all(&buffer[..n]).is_err() {
                break;
            }
            let before = counter.load(Ordering::Relaxed);
            parser.feed(&buffer[..n], &counter);
            if counter.load(Ordering::Relaxed) != before {
                *clock.sent.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(std::time::Instant::now());
            }
        }
        let _ = server_write.shutdown(Shutdown::Write);
    });
    thread::spawn(move || {
        let mut buffer = [0_u8; 16 * 1024];
        while let Ok(n) = server_read.read(&mut buffer) {
            if let Some(sent) = answers
                .sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                let nanos = u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
                answers.waited.fetch_add(nanos, Ordering::Relaxed);
            }
            if n == 0 || client_write.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = client_write.shutdown(Shutdown::Both);
    });
    Ok(())
}

/// Finds message boundaries in what a client sends.
#[derive(Default)]
struct FrontendParser {
    /// Whether the startup message has been seen (before it, messages carry no type byte).
    started: bool,
    header: Vec<u8>,
    /// Body bytes of the current message still to skip.
    remaining: usize,
}

impl Frontend for FrontendParser {
    fn feed(&mut self, mut data: &[u8], round_trips: &AtomicU64) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = self.remaining.min(data.len());
                self.remaining -= n;
                data = &data[n..];
                continue;
            }
            // Untyped: length (4) + code (4). Typed: type (1) + length (4).
            let header_len = if self.started { 5 } else { 8 };
            let n = (header_len - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() < header_len {
                continue;
            }
            let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            if self.started {
                self.remaining = be(&self.header[1..5]).saturating_sub(4);
                if matches!(self.header[0], b'S' | b'Q') {
                    round_trips.fetch_add(1, Ordering::Relaxed);
                }
            } else {
                self.remaining = be(&self.header[0..4]).saturating_sub(8);
                let code = be(&self.header[4..8]) as u32;
                self.started = !PRE_STARTUP_CODES.contains(&code);
            }
            self.header.clear();
        }
    }
}

/// MySQL commands the server does not answer: `COM_QUIT`, `COM_STMT_SEND_LONG_DATA`,
/// `COM_STMT_CLOSE`.
const UNANSWERED_COMMANDS: [u8; 3] = [0x01, 0x18, 0x19];

/// Finds packet boundaries in what a MySQL client sends: 3 bytes of length (little-endian), a
/// sequence number, the payload. A command starts a new exchange, so its packet has sequence
/// number 0 (the handshake response and continuations of long packets do not).
#[derive(Default)]
struct MysqlCommands {
    header: Vec<u8>,
    /// Payload bytes of the current packet still to skip.
    remaining: usize,
    /// Whether the next payload byte is the command byte of a packet numbered 0.
    command_next: bool,
}

impl Frontend for MysqlCommands {
    fn feed(&mut self, mut data: &[u8], round_trips: &AtomicU64) {
        while !data.is_empty() {
            if self.remaining > 0 {
                if std::mem::take(&mut self.command_next) && !UNANSWERED_COMMANDS.contains(&data[0])
                {
                    round_trips.fetch_add(1, Ordering::Relaxed);
                }
                let n = self.remaining.min(data.len());
                self.remaining -= n;
                data = &data[n..];
                continue;
            }
            let n = (4 - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() < 4 {
                continue;
            }
            let h = &self.header;
            self.remaining = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
            self.command_next = h[3] == 0 && self.remaining > 0;
            self.header.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_and_simple_queries_are_counted_across_split_reads() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&8_u32.to_be_bytes());
        stream.extend_from_slice(&80_877_103_u32.to_be_bytes()); // SSLRequest
        stream.extend_from_slice(&12_u32.to_be_bytes());
        stream.extend_from_slice(&196_608_u32.to_be_bytes()); // startup, 4 bytes of parameters
        stream.extend_from_slice(b"ab\0\0");
        for (ty, body) in [
            (b'P', &b"xyz"[..]),
            (b'S', b""),
            (b'Q', b"BEGIN\0"),
            (b'X', b""),
        ] {
            stream.push(ty);
            stream.extend_from_slice(&(4 + body.len() as u32).to_be_bytes());
            stream.extend_from_slice(body);
        }
        for chunk in [1, 3, 7, stream.len()] {
            let counter = AtomicU64::new(0);
            let mut parser = FrontendParser::default();
            for piece in stream.chunks(chunk) {
                parser.feed(piece, &counter);
            }
            assert_eq!(counter.load(Ordering::Relaxed), 2, "chunks of {chunk}");
        }
    }

    #[test]
    fn mysql_commands_are_counted_but_not_the_handshake_or_unanswered_ones() {
        let mut stream = Vec::new();
        let mut packet = |seq: u8, payload: &[u8]| {
            let len = payload.len() as u32;
            stream.extend_from_slice(&len.to_le_bytes()[..3]);
            stream.push(seq);
            stream.extend_from_slice(payload);
        };
        packet(1, b"\x8d\xa6\x0f\0handshake response");
        packet(0, b"\x03SELECT 1"); // COM_QUERY
        packet(0, b"\x16SELECT ?"); // COM_STMT_PREPARE
        packet(0, b"\x17\x01\0\0\0"); // COM_STMT_EXECUTE
        packet(0, b"\x19\x01\0\0\0"); // COM_STMT_CLOSE: no answer
        packet(0, b"\x01"); // COM_QUIT: no answer
        for chunk in [1, 2, 5, stream.len()] {
            let counter = AtomicU64::new(0);
            let mut parser = MysqlCommands::default();
            for piece in stream.chunks(chunk) {
                parser.feed(piece, &counter);
            }
            assert_eq!(counter.load(Ordering::Relaxed), 3, "chunks of {chunk}");
        }
    }
}
