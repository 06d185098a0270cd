//! A loopback TCP proxy the test controls: it forwards bytes both ways until paused, and while
//! paused it forwards nothing (and opens no upstream connection), so every connection through
//! it is frozen as by a network stall, without an error on either side.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::HarnessError;

/// How many ports [`StallProxy::start`] tries.
pub(crate) const PORTS_TRIED: u16 = 8;

/// A running proxy from `127.0.0.1:<port>` to an upstream address; stops when dropped.
pub struct StallProxy {
    port: u16,
    paused: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl StallProxy {
    /// Listen on the first of `127.0.0.1:port` and the seven ports after it that is
    /// free, and forward to `127.0.0.1:upstream`. (The range is within the kernel's ephemeral
    /// ports: a client's outgoing connection may hold one for a while.)
    ///
    /// # Errors
    /// When none of the ports can be bound.
    pub async fn start(port: u16, upstream: u16) -> Result<Self, HarnessError> {
        let mut bound = None;
        for candidate in port..port.saturating_add(PORTS_TRIED) {
            match TcpListener::bind(("127.0.0.1", candidate)).await {
                Ok(listener) => {
                    bound = Some((listener, candidate));
                    break;
                }
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(error) => return Err(error.into()),
            }
        }
        let (listener, port) = bound.ok_or_else(|| format!("the {PORTS_TRIED} ports from {port} on are all in use"))?;
        let (paused, watch) = watch::channel(false);
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream));
        let task = tokio::spawn(accept(listener, upstream, watch));
        Ok(StallProxy { port, paused, task })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stop forwarding (`true`) or resume (`false`).
    pub fn pause(&self, paused: bool) {
        self.paused.send_replace(paused);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: SocketAddr, paused: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        connections.spawn(forward(client, upstream, paused.clone()));
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, mut paused: watch::Receiver<bool>) {
    if paused.wait_for(|p| !p).await.is_err() {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        _ = pipe(client_read, server_write, paused.clone()) => {}
        _ = pipe(server_read, client_write, paused) => {}
    }
}

/// Copy `from` to `to`, holding each chunk while paused.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut paused: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if paused.wait_for(|p| !p).await.is_err() {
            return;
        }
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if paused.wait_for(|p| !p).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
