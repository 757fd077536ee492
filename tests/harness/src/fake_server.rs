//! A fake Redis that speaks RESP badly on purpose: wrong reply types, huge
//! values and length headers, garbage, half replies followed by silence or a
//! close, stalls and protocol errors. It tests what a client does when a
//! node is broken or hostile, which a real redis-server cannot be made to do.
//!
//! A plain `std` listener on a free loopback port, a thread per connection.
//! Commands the fake is not told to spoil get the answers of a stateless
//! Redis that grants everything ([`polite_answer`]): `SET` says `OK`, a
//! script says 1, the connection handshake (`CLIENT SETINFO`, `AUTH`,
//! `SELECT`) succeeds. So a test can let a lock be granted and then spoil
//! only extend and release, or spoil everything from the first byte.
//!
//! Dropping the server closes the listener and every connection, which ends
//! its threads.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// One command as the client sent it: its arguments, the name first.
#[derive(Debug, Clone)]
pub struct Command {
    pub args: Vec<Vec<u8>>,
}

impl Command {
    /// The command name in upper case (`EVALSHA`), or `""` for an empty one.
    pub fn name(&self) -> String {
        self.args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
            .unwrap_or_default()
    }

    /// True for the commands a client sends while it sets up a connection.
    pub fn is_handshake(&self) -> bool {
        matches!(self.name().as_str(), "CLIENT" | "AUTH" | "SELECT" | "HELLO")
    }

    fn has_arg(&self, word: &str) -> bool {
        self.args[1..]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    }
}

/// How the fake answers one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Write these bytes (one reply, several, or any garbage).
    Bytes(Vec<u8>),
    /// A bulk string of `len` bytes, streamed in 64 KiB chunks so that the
    /// fake itself holds no large buffer.
    HugeBulk { len: usize },
    /// Write these bytes, then answer nothing more on this connection (it
    /// stays open and its input is read and dropped): a half reply followed
    /// by silence, or an accepted connection that never answers.
    ThenSilence(Vec<u8>),
    /// Write these bytes, then close the connection.
    ThenClose(Vec<u8>),
}

/// What the fake does wrong: given a command, the answer to send instead of
/// the polite one, or None to answer politely.
pub type Misbehaviour = Arc<dyn Fn(&Command) -> Option<Answer> + Send + Sync>;

/// The answer of a stateless Redis that grants everything: what the
/// commands redlead sends get from a healthy, empty node.
pub fn polite_answer(cmd: &Command) -> Vec<u8> {
    let arg = |i: usize| cmd.args.get(i).cloned().unwrap_or_default();
    match cmd.name().as_str() {
        "PING" => b"+PONG\r\n".to_vec(),
        // SET ... GET returns the old value: none, so the key was set.
        "SET" if cmd.has_arg("GET") => b"$-1\r\n".to_vec(),
        "SET" | "CLIENT" | "AUTH" | "SELECT" => b"+OK\r\n".to_vec(),
        "GET" | "ZSCORE" => b"$-1\r\n".to_vec(),
        "ZADD" | "EVALSHA" | "EVAL" => b":1\r\n".to_vec(),
        "PUBLISH" => b":0\r\n".to_vec(),
        // SCRIPT LOAD answers the script's SHA1, as EVALSHA will name it.
        "SCRIPT" => bulk(
            sha1_smol::Sha1::from(arg(2))
                .digest()
                .to_string()
                .as_bytes(),
        ),
        "SUBSCRIBE" | "UNSUBSCRIBE" => {
            let kind = cmd.name().to_ascii_lowercase();
            let mut out = b"*3\r\n".to_vec();
            out.extend(bulk(kind.as_bytes()));
            out.extend(bulk(&arg(1)));
            out.extend(if kind == "subscribe" {
                b":1\r\n"
            } else {
                b":0\r\n"
            });
            out
        }
        other => format!("-ERR unknown command '{other}'\r\n").into_bytes(),
    }
}

/// A RESP bulk string.
pub fn bulk(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

type Streams = Arc<Mutex<HashMap<usize, TcpStream>>>;

/// A fake Redis server on a free loopback port.
pub struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    /// The open connections, to end them on drop; each removes itself when
    /// it ends, so a long-lived fake (a fuzz target's) holds no closed ones.
    streams: Streams,
    seen: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    accept: Option<thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Starts a fake that answers every command through `misbehaviour`,
    /// falling back to [`polite_answer`].
    pub fn start(
        misbehaviour: impl Fn(&Command) -> Option<Answer> + Send + Sync + 'static,
    ) -> FakeServer {
        let misbehaviour: Misbehaviour = Arc::new(misbehaviour);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let streams: Streams = Arc::default();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let accept = {
            let (stop, streams, seen, connections) = (
                stop.clone(),
                streams.clone(),
                seen.clone(),
                connections.clone(),
            );
            thread::Builder::new()
                .name(format!("fake-redis-{port}"))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(stream) = stream else { continue };
                        let id = connections.fetch_add(1, Ordering::SeqCst);
                        if let Ok(copy) = stream.try_clone() {
                            streams.lock().unwrap().insert(id, copy);
                        }
                        let (misbehaviour, seen, streams) =
                            (misbehaviour.clone(), seen.clone(), streams.clone());
                        let _ = thread::Builder::new()
                            .name(format!("fake-redis-{port}-conn"))
                            .spawn(move || {
                                serve(stream, &*misbehaviour, &seen);
                                streams.lock().unwrap().remove(&id);
                            });
                    }
                })
                .expect("spawn the fake server's accept thread")
        };
        FakeServer {
            port,
            stop,
            streams,
            seen,
            connections,
            accept: Some(accept),
        }
    }

    /// A fake that spoils every command with the same answer, the
    /// connection handshake included.
    pub fn answering_everything(answer: Answer) -> FakeServer {
        FakeServer::start(move |_| Some(answer.clone()))
    }

    /// A fake that sets up connections and grants `SET` politely and
    /// spoils every other command: a lock is granted, and extend, release,
    /// fencing and pub/sub meet `answer`.
    pub fn answering_after_grant(answer: Answer) -> FakeServer {
        FakeServer::start(move |cmd| {
            (!cmd.is_handshake() && cmd.name() != "SET").then(|| answer.clone())
        })
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// How many commands named `name` (upper case) arrived so far.
    pub fn seen(&self, name: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|n| *n == name)
            .count()
    }

    /// Names of every command received, in order of arrival.
    pub fn commands(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, then end every connection's blocking read.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for (_, s) in self.streams.lock().unwrap().drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Reads commands and answers them until the client leaves, the server
/// stops, or an answer ends the conversation.
fn serve(
    mut stream: TcpStream,
    misbehaviour: &(dyn Fn(&Command) -> Option<Answer> + Sync),
    seen: &Mutex<Vec<String>>,
) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut silent = false;
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if silent {
            continue;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some((cmd, used)) = parse_command(&buf) {
            buf.drain(..used);
            seen.lock().unwrap().push(cmd.name());
            let answer = misbehaviour(&cmd).unwrap_or_else(|| Answer::Bytes(polite_answer(&cmd)));
            let written = match answer {
                Answer::Bytes(b) => stream.write_all(&b),
                Answer::HugeBulk { len } => write_huge_bulk(&mut stream, len),
                Answer::ThenSilence(b) => {
                    silent = true;
                    stream.write_all(&b)
                }
                Answer::ThenClose(b) => {
                    let _ = stream.write_all(&b);
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            };
            if written.is_err() {
                return;
            }
            if silent {
                buf.clear();
                break;
            }
        }
    }
}

fn write_huge_bulk(stream: &mut TcpStream, len: usize) -> std::io::Result<()> {
    stream.write_all(format!("${len}\r\n").as_bytes())?;
    let chunk = vec![b'x'; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        stream.write_all(&chunk[..n])?;
        left -= n;
    }
    stream.write_all(b"\r\n")
}

/// One complete command at the start of `buf` (a RESP array of bulk
/// strings, as clients send, or an inline command line) and the bytes it
/// used; None until it is complete.
fn parse_command(buf: &[u8]) -> Option<(Command, usize)> {
    fn line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
        let end = buf.get(from..)?.windows(2).position(|w| w == b"\r\n")? + from;
        Some((&buf[from..end], end + 2))
    }
    fn number(bytes: &[u8]) -> Option<usize> {
        std::str::from_utf8(bytes).ok()?.parse().ok()
    }
    if buf.first() != Some(&b'*') {
        let (text, used) = line(buf, 0)?;
        let args = text
            .split(|b| *b == b' ')
            .filter(|a| !a.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        return Some((Command { args }, used));
    }
    let (count, mut pos) = line(buf, 0)?;
    let count = number(&count[1..])?;
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let (header, next) = line(buf, pos)?;
        let len = number(header.strip_prefix(b"$")?)?;
        let end = next.checked_add(len)?;
        if buf.len() < end + 2 {
            return None;
        }
        args.push(buf[next..end].to_vec());
        pos = end + 2;
    }
    Some((Command { args }, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_commands_as_clients_send_them() {
        let (cmd, used) = parse_command(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1").unwrap();
        assert_eq!(cmd.name(), "GET");
        assert_eq!(used, 20);
        assert!(parse_command(b"*2\r\n$3\r\nGET\r\n$1\r\n").is_none());
        assert_eq!(parse_command(b"PING\r\n").unwrap().0.name(), "PING");
    }

    #[test]
    fn answers_politely_unless_told_otherwise() {
        let fake = FakeServer::start(|cmd| {
            (cmd.name() == "GET").then(|| Answer::Bytes(b"-WRONGTYPE no\r\n".to_vec()))
        });
        let mut s = TcpStream::connect(("127.0.0.1", fake.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 64];
        while got.len() < b"+PONG\r\n-WRONGTYPE no\r\n".len() {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, b"+PONG\r\n-WRONGTYPE no\r\n");
        assert_eq!(fake.seen("GET"), 1);
        assert_eq!(fake.connections(), 1);
    }
}
