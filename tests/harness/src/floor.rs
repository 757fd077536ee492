//! The floor a latency benchmark is compared with, measured outside the
//! library: plain blocking sockets and `poll(2)`, no runtime, no redlead
//! code. One round trip = write PING to every node, time until the
//! quorum-th reply (what one Redlock step cannot beat); the remaining
//! replies are read before the next round so none is left in flight.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// A command as RESP (an array of bulk strings).
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The hash `EVALSHA` names a script by.
pub fn script_hash(code: &str) -> String {
    sha1_smol::Sha1::from(code).digest().to_string()
}

/// One connection per node, opened once.
pub struct RawFloor {
    streams: Vec<TcpStream>,
    quorum: usize,
}

impl RawFloor {
    /// Connects to every node of `ports` on 127.0.0.1.
    pub fn connect(ports: &[u16]) -> RawFloor {
        let streams = ports
            .iter()
            .map(|p| {
                let s = TcpStream::connect(("127.0.0.1", *p)).expect("connect to a node");
                s.set_nodelay(true).unwrap();
                s
            })
            .collect::<Vec<_>>();
        let quorum = streams.len() / 2 + 1;
        RawFloor { streams, quorum }
    }

    /// One quorum round trip of PING.
    pub fn round_trip(&mut self) -> Duration {
        self.round_trip_of(PING)
    }

    /// One quorum round trip of `command` (RESP, already encoded), whose
    /// reply must be one line (`+OK`, `:1`, `$-1`, an error): the same step
    /// the library takes, with nothing of the library in it.
    pub fn round_trip_of(&mut self, command: &[u8]) -> Duration {
        let t = Instant::now();
        for s in &mut self.streams {
            s.write_all(command).expect("write the command");
        }
        let mut line_ends = vec![false; self.streams.len()];
        let mut last = vec![0u8; self.streams.len()];
        let mut quorum_at = None;
        let mut done = 0;
        while done < self.streams.len() {
            let mut fds: Vec<libc::pollfd> = self
                .streams
                .iter()
                .zip(&line_ends)
                .filter(|(_, ended)| !**ended)
                .map(|(s, _)| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: `fds` is a valid array of `fds.len()` pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 5000) };
            assert!(n > 0, "a node did not answer within 5 s");
            for fd in fds.iter().filter(|f| f.revents != 0) {
                let i = self
                    .streams
                    .iter()
                    .position(|s| s.as_raw_fd() == fd.fd)
                    .unwrap();
                // Every byte read belongs to this round's one-line reply:
                // the next command is written only after all replies.
                let mut buf = [0u8; 256];
                let k = self.streams[i].read(&mut buf).expect("read the reply");
                assert!(k > 0, "a node closed the connection");
                let ended =
                    buf[k - 1] == b'\n' && (k >= 2 && buf[k - 2] == b'\r' || last[i] == b'\r');
                last[i] = buf[k - 1];
                if ended {
                    line_ends[i] = true;
                    done += 1;
                    if done == self.quorum {
                        quorum_at = Some(t.elapsed());
                    }
                }
            }
        }
        quorum_at.expect("quorum reached")
    }
}
