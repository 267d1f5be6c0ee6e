//! Waiting for something with patience, and taking a fallback when it runs out.

use std::future::Future;
use std::time::Duration;

use crate::sync::sleep;

/// `work`'s output, unless it takes longer than `patience`: then `fallback`'s, if it has one,
/// and otherwise `work`'s after all. `work` carries on from where it was (nothing is asked
/// twice), and `fallback` is not started unless it is needed.
pub async fn within<T>(
    patience: Duration,
    work: impl Future<Output = T>,
    fallback: impl Future<Output = Option<T>>,
) -> T {
    tokio::pin!(work);
    tokio::select! {
        done = &mut work => done,
        () = sleep(patience) => match fallback.await {
            Some(instead) => instead,
            None => work.await,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENCE: Duration = Duration::from_millis(10);

    #[tokio::test]
    async fn work_done_in_time_is_the_answer() {
        let fallback = async { panic!("the fallback is not needed") };
        assert_eq!(within(PATIENCE, async { 1 }, fallback).await, 1);
    }

    #[tokio::test]
    async fn work_that_takes_too_long_gets_the_fallback() {
        let answer = within(PATIENCE, std::future::pending(), async { Some(2) }).await;
        assert_eq!(answer, 2);
    }

    #[tokio::test]
    async fn without_a_fallback_the_same_work_carries_on() {
        let (done, finished) = tokio::sync::oneshot::channel();
        let work = async { finished.await.expect("the fallback finishes the work") };
        // The work can only finish once the fallback has run: it is the work that was
        // started, not a new one, that gives the answer.
        let fallback = async {
            done.send(3).expect("the work is still waiting");
            None
        };
        assert_eq!(within(PATIENCE, work, fallback).await, 3);
    }
}
