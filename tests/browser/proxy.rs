//! A TCP proxy in front of the reader port that cuts connections mid-stream,
//! as a network drop would, so a browser's EventSource has to reconnect.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct CuttingProxy {
    /// Where the browser connects.
    pub addr: SocketAddr,
    cuts: Arc<AtomicUsize>,
    /// Everything clients sent (request heads), per connection.
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl CuttingProxy {
    /// Forwards every connection to `upstream`. Each connection that has
    /// sent `after` bytes towards the client is cut right there (both
    /// directions shut down), until `times` connections have been cut.
    pub fn start(upstream: SocketAddr, after: usize, times: usize) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let cuts = Arc::new(AtomicUsize::new(0));
        let budget = Arc::new(AtomicUsize::new(times));
        let counter = Arc::clone(&cuts);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::clone(&sent);
        // Runs until the test process exits: a blocked accept costs nothing.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                // Requests: client -> server, untouched, and recorded.
                let requests = Arc::clone(&requests);
                std::thread::spawn(move || copy(c2, s2, requests));
                let budget = Arc::clone(&budget);
                let counter = Arc::clone(&counter);
                // Responses: server -> client, counted, cut at `after`.
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server, client);
                    let mut sent = 0usize;
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if sent + n > after && take_one(&budget) {
                            let _ = to.write_all(&buf[..after.saturating_sub(sent)]);
                            counter.fetch_add(1, Ordering::SeqCst);
                            let _ = to.shutdown(Shutdown::Both);
                            let _ = from.shutdown(Shutdown::Both);
                            return;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n;
                    }
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                });
            }
        });
        CuttingProxy { addr, cuts, sent }
    }

    /// The values of every `Last-Event-ID` request header clients sent.
    pub fn last_event_ids(&self) -> Vec<String> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .flat_map(|conn| {
                String::from_utf8_lossy(conn)
                    .lines()
                    .filter_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("last-event-id")
                            .then(|| v.trim().to_string())
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

fn take_one(budget: &AtomicUsize) -> bool {
    budget
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
        .is_ok()
}

fn copy(mut from: TcpStream, mut to: TcpStream, record: Arc<Mutex<Vec<Vec<u8>>>>) {
    let slot = {
        let mut all = record.lock().unwrap();
        all.push(Vec::new());
        all.len() - 1
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                record.lock().unwrap()[slot].extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
