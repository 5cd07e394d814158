//! `CountingProxy`: a TCP pass-through between a client and PostgreSQL that counts round trips.
//!
//! It parses the frontend half of the wire protocol just enough to find message boundaries and
//! counts `Sync` (the end of an extended-protocol exchange: prepare, or bind + execute) and
//! `Query` (a simple-protocol statement such as `BEGIN`): each is one wait for the server. That
//! turns "the adapter makes more round trips" from a reading of its code into a measurement.

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
}

impl CountingProxy {
    /// Listens on a free local port and forwards every connection to the server `url` names.
    pub fn start(url: &str) -> Result<Self> {
        let config: postgres::Config = url.parse().context("parsing the postgres url")?;
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            _ => bail!("round trips are counted over TCP only; the url names no TCP host"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = format!("{host}:{port}");
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let local = listener.local_addr()?.port();
        let round_trips = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&round_trips);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                if let Err(err) = pipe(client, server, Arc::clone(&counter)) {
                    eprintln!("counting proxy: {err}");
                }
            }
        });
        Ok(Self {
            port: local,
            round_trips,
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

    /// Round trips seen so far, over every connection.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

fn pipe(client: TcpStream, server: TcpStream, counter: Arc<AtomicU64>) -> Result<()> {
    let mut client_read = client.try_clone()?;
    let mut server_write = server.try_clone()?;
    let mut server_read = server;
    let mut client_write = client;
    thread::spawn(move || {
        let mut parser = FrontendParser::default();
        let mut buffer = [0_u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buffer) {
            if n == 0 || server_write.write_all(&buffer[..n]).is_err() {
                break;
            }
            parser.feed(&buffer[..n], &counter);
        }
        let _ = server_write.shutdown(Shutdown::Write);
    });
    thread::spawn(move || {
        let _ = std::io::copy(&mut server_read, &mut client_write);
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

impl FrontendParser {
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
}
