//! [`Background`]: hook-tool calls started now and awaited later, so that reads which do not
//! depend on each other overlap (docs/adr/0025).
//!
//! A hook tool is a process: most of its cost is starting it, not Juju answering it. Juju's
//! tool server runs one command at a time per unit agent (`jujuc.Jujuc.Main` holds a mutex),
//! but the processes start, load and connect in parallel, and Kubernetes and Pebble requests
//! made meanwhile on the hook's runtime overlap them too. [`Tools::background`] runs a closure
//! over the tools on a thread of the tokio runtime's blocking pool; the returned future yields
//! what it returned. Outside a runtime the closure simply runs at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Tools;

/// Tool calls running on a blocking thread (or already done); awaiting it yields their result.
///
/// Dropping it does not stop the calls: they finish on their thread, and the runtime waits
/// for them when it shuts down, so no tool process outlives the hook's runtime.
#[derive(Debug)]
#[must_use = "a background read is awaited for its result"]
pub struct Background<T> {
    state: State<T>,
}

#[derive(Debug)]
enum State<T> {
    Running(tokio::task::JoinHandle<T>),
    Ready(Option<T>),
}

impl Tools {
    /// Runs `f` with these tools in the background: on the current tokio runtime's blocking
    /// pool, or at once when there is no runtime. Await the result where it is needed.
    pub fn background<T, F>(&self, f: F) -> Background<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tools) -> T + Send + 'static,
    {
        let tools = self.clone();
        let state = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => State::Running(runtime.spawn_blocking(move || f(&tools))),
            Err(_) => State::Ready(Some(f(&tools))),
        };
        Background { state }
    }
}

// Never pinned structurally: the value is only ever moved out of the `Option`, and a
// `JoinHandle` is `Unpin` whatever it holds.
impl<T> Unpin for Background<T> {}

impl<T> Future for Background<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        match &mut this.state {
            State::Ready(value) => match value.take() {
                Some(value) => Poll::Ready(value),
                // Polling a finished future again is a caller bug; futures may then pend.
                None => Poll::Pending,
            },
            State::Running(handle) => match Pin::new(handle).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(value)) => {
                    this.state = State::Ready(None);
                    Poll::Ready(value)
                }
                // The closure panicked (tests; charms abort on panic): the panic goes on here.
                // The other JoinError, cancellation, needs `abort()` (never called on a
                // blocking task, which cannot be aborted anyway) or a runtime shut down
                // before the task started; this future runs on that runtime, so it is alive.
                Poll::Ready(Err(error)) => match error.try_into_panic() {
                    Ok(payload) => std::panic::resume_unwind(payload),
                    Err(error) => unreachable!("blocking tool task cancelled: {error}"),
                },
            },
        }
    }
}
