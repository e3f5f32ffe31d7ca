//! A single-threaded executor with a FIFO run queue: tasks run in the order
//! they were woken, so a run's order depends only on what the tasks do. Each
//! task belongs to a host; a host's crash drops its tasks.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Wake, Waker};

use crate::HostId;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

thread_local! {
    /// The host of the task being polled (spawns inherit it).
    static CURRENT_HOST: Cell<Option<HostId>> = const { Cell::new(None) };
}

/// The host whose task is running, if any.
pub(crate) fn current_host() -> Option<HostId> {
    CURRENT_HOST.with(Cell::get)
}

/// Runs `f` as if a task of `host` were running (setup code, callbacks).
pub(crate) fn as_host<T>(host: HostId, f: impl FnOnce() -> T) -> T {
    let before = CURRENT_HOST.with(|c| c.replace(Some(host)));
    let out = f();
    CURRENT_HOST.with(|c| c.set(before));
    out
}

struct Slot {
    host: HostId,
    /// `None` while the task is being polled.
    future: Option<Task>,
    waker: Waker,
}

struct TaskWaker {
    id: u64,
    queued: AtomicBool,
    queue: Arc<Mutex<VecDeque<u64>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(self.id);
        }
    }
}

/// The tasks and their run queue.
#[derive(Default)]
pub(crate) struct Executor {
    tasks: Mutex<BTreeMap<u64, Slot>>,
    wakers: Mutex<BTreeMap<u64, Arc<TaskWaker>>>,
    queue: Arc<Mutex<VecDeque<u64>>>,
    next_id: Mutex<u64>,
}

impl Executor {
    /// Adds a task of `host`, ready to run.
    pub(crate) fn spawn(&self, host: HostId, future: impl Future<Output = ()> + Send + 'static) {
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
            *n += 1;
            *n
        };
        let tw = Arc::new(TaskWaker { id, queued: AtomicBool::new(false), queue: self.queue.clone() });
        let waker = Waker::from(tw.clone());
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner).insert(id, tw);
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Slot { host, future: Some(Box::pin(future)), waker: waker.clone() });
        waker.wake();
    }

    /// Polls the next woken task; false when none is woken.
    pub(crate) fn run_one(&self) -> bool {
        let Some(id) = self.queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front() else {
            return false;
        };
        if let Some(tw) = self.wakers.lock().unwrap_or_else(PoisonError::into_inner).get(&id) {
            tw.queued.store(false, Ordering::Release);
        }
        let taken = {
            let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            tasks.get_mut(&id).and_then(|s| Some((s.host, s.future.take()?, s.waker.clone())))
        };
        let Some((host, mut future, waker)) = taken else { return true };
        let done = as_host(host, || future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready());
        let finished = {
            let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            match tasks.get_mut(&id) {
                Some(slot) if !done => {
                    slot.future = Some(future);
                    None
                }
                // Done, or its host crashed while it ran: drop it (outside the lock).
                _ => {
                    tasks.remove(&id);
                    self.wakers.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
                    Some(future)
                }
            }
        };
        drop(finished);
        true
    }

    /// Drops every task of `host` (its crash).
    pub(crate) fn kill_host(&self, host: HostId) {
        let dropped: Vec<Slot> = {
            let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            let ids: Vec<u64> = tasks.iter().filter(|(_, s)| s.host == host).map(|(&id, _)| id).collect();
            let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            ids.iter()
                .filter_map(|id| {
                    wakers.remove(id);
                    tasks.remove(id)
                })
                .collect()
        };
        as_host(host, || drop(dropped));
    }

    /// Drops every task (the end of a run), each as a task of its host, so
    /// what a drop spawns lands there (and is dropped in the next round).
    /// Returns how many were dropped.
    pub(crate) fn clear(&self) -> usize {
        let all = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner).clear();
        let n = all.len();
        for (_, slot) in all {
            as_host(slot.host, || drop(slot));
        }
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).clear();
        n
    }
}
