//! A TCP proxy between the app and PostgreSQL that a test can cut (close
//! every connection and refuse new ones), stall (keep connections open
//! but forward nothing: a network black hole) and restore.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Up,
    /// Closes every connection, old and new.
    Cut,
    /// Holds every connection open and forwards nothing.
    Stalled,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    port: u16,
    mode: Arc<watch::Sender<Mode>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free local port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let mode = Arc::new(watch::channel(Mode::Up).0);
        let modes = mode.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(link(inbound, target, modes.subscribe()));
            }
        });
        Self { port, mode, accept }
    }

    /// The port the app should connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Switches the mode; connections held by a stall are closed by the
    /// next switch.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.set(Mode::Cut);
    }
}

/// One client connection: forwards while the mode is `Up`.
async fn link(mut inbound: TcpStream, target: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Cut => return,
        Mode::Stalled => {
            // Hold it, silent, until the mode changes; then close it.
            let _ = mode.changed().await;
            return;
        }
        Mode::Up => {}
    }
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        return;
    };
    let stalled = tokio::select! {
        _ = copy_bidirectional(&mut inbound, &mut outbound) => false,
        now = mode.wait_for(|m| *m != Mode::Up) => now.is_ok_and(|m| *m == Mode::Stalled),
    };
    if stalled {
        // Hold both ends, silent, until the mode changes again.
        let _ = mode.changed().await;
    }
}
