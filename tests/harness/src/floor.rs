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
const PONG: &[u8] = b"+PONG\r\n";

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
        let t = Instant::now();
        for s in &mut self.streams {
            s.write_all(PING).expect("write PING");
        }
        let mut got = vec![0usize; self.streams.len()];
        let mut quorum_at = None;
        let mut done = 0;
        while done < self.streams.len() {
            let mut fds: Vec<libc::pollfd> = self
                .streams
                .iter()
                .zip(&got)
                .filter(|(_, g)| **g < PONG.len())
                .map(|(s, _)| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: `fds` is a valid array of `fds.len()` pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 5000) };
            assert!(n > 0, "a node did not answer PING within 5 s");
            for fd in fds.iter().filter(|f| f.revents != 0) {
                let i = self
                    .streams
                    .iter()
                    .position(|s| s.as_raw_fd() == fd.fd)
                    .unwrap();
                let mut buf = [0u8; 7];
                let k = self.streams[i]
                    .read(&mut buf[..PONG.len() - got[i]])
                    .expect("read PONG");
                assert!(k > 0, "a node closed the connection");
                got[i] += k;
                if got[i] == PONG.len() {
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
