//! Collecting wake-up hints in tests.

use std::time::Duration;

use backtick_core::WakeReceiver;
use tokio::sync::broadcast::error::RecvError;

/// How long a case waits for a store's wake-up listener to come up.
pub const LISTEN_WAIT: Duration = Duration::from_secs(10);

/// Every hint that arrives within `quiet` of the previous one (or of the call), in order.
///
/// # Panics
/// When the receiver lagged: a test must see every hint.
///
/// # Examples
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// let (sender, mut hints) = tokio::sync::broadcast::channel(8);
/// sender.send("mail".to_owned()).unwrap();
/// let got = backtick_testkit::pgsuite::drain_hints(&mut hints, Duration::from_millis(10)).await;
/// assert_eq!(got, vec!["mail"]);
/// # });
/// ```
pub async fn drain_hints(hints: &mut WakeReceiver, quiet: Duration) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(received) = tokio::time::timeout(quiet, hints.recv()).await {
        match received {
            Ok(queue) => got.push(queue),
            Err(RecvError::Lagged(n)) => panic!("lagged by {n} hints"),
            Err(RecvError::Closed) => break,
        }
    }
    got
}
