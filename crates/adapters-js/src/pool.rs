//! The runner threads and how jobs reach them.
//!
//! - **Lanes.** Each environment's runs and code checks wait in their own
//!   queue; idle threads serve the lanes round-robin, and a
//!   lane may hold at most `workers_per_environment` threads at once
//!   (threads left behind by its runs included). So one environment's
//!   slow runs can take at most that many threads, and the others find a
//!   free one.
//! - **Deadlines.** A job's deadline is set when it is submitted: the time
//!   it waits for a thread counts. The watchdog thread answers every job
//!   that is not answered by its deadline (`timeout`), waiting or running,
//!   whatever the engine is doing.
//! - **Left behind.** A thread still busy [`ABANDON_AFTER`] past its
//!   job's deadline is stuck in a native call the interrupt handler cannot
//!   stop (a huge `BigInt` to string, ...). The watchdog leaves it behind
//!   and starts a fresh thread in its place, so the pool keeps its size; the
//!   stuck thread ends as soon as its call returns. At most `abandoned`
//!   threads are left behind at once: past that, a stuck thread keeps its
//!   place in the pool (the pool is one thread short until it returns)
//!   and is left behind as soon as a place frees up. The lane cap still
//!   counts left-behind threads, so an environment cannot use this to grow
//!   its share.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use portcullis_domain::EnvironmentId;
use portcullis_ports::actions::{ActionCodeError, ActionOutcome, ActionRun, ActionScript};
use tokio::sync::oneshot;

use crate::JsLimits;
use crate::sandbox::Worker;

/// How long past its deadline a thread may stay busy before it is left
/// behind: a run the interrupt handler stopped unwinds and frees its
/// runtime well within it.
pub const ABANDON_AFTER: Duration = Duration::from_millis(200);

/// Native stack of a runner thread: well above the JavaScript stack limit,
/// so that QuickJS's own check always fires first.
const THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whose turn a job waits for: the environment whose action it runs or checks.
type Lane = EnvironmentId;

/// What to do.
pub(crate) enum Work {
    Check { code: String },
    Run { script: ActionScript, event: String },
}

/// Where the answer goes.
pub(crate) enum Reply {
    Check(oneshot::Sender<Result<(), ActionCodeError>>),
    Run(oneshot::Sender<ActionRun>),
}

/// What a thread found.
enum Done {
    Check(Result<(), ActionCodeError>),
    Run(ActionOutcome),
}

/// One job's deadline and reply, shared by the queue, the thread running
/// it and the watchdog: whoever answers first takes the reply.
struct Ticket {
    lane: Lane,
    submitted: Instant,
    deadline: Instant,
    reply: Mutex<Option<Reply>>,
}

impl Ticket {
    fn answered(&self) -> bool {
        lock(&self.reply).is_none()
    }

    /// Sends what the thread found, unless the job was answered already.
    fn answer(&self, done: Done) {
        let Some(reply) = lock(&self.reply).take() else {
            return;
        };
        match (reply, done) {
            (Reply::Run(sender), Done::Run(outcome)) => {
                let _ = sender.send(ActionRun {
                    outcome,
                    duration: self.submitted.elapsed(),
                });
            }
            (Reply::Check(sender), Done::Check(result)) => {
                let _ = sender.send(result);
            }
            // A run's reply always meets a run's answer; dropping the
            // reply reads as "unavailable" to the caller.
            (Reply::Run(_) | Reply::Check(_), _) => {}
        }
    }

    /// Answers `timeout` unless the job was answered already.
    fn expire(&self) {
        let Some(reply) = lock(&self.reply).take() else {
            return;
        };
        match reply {
            Reply::Run(sender) => {
                let _ = sender.send(ActionRun {
                    outcome: ActionOutcome::Timeout,
                    duration: self.submitted.elapsed(),
                });
            }
            Reply::Check(sender) => {
                let _ = sender.send(Err(ActionCodeError {
                    message: "the module's top-level code did not finish within the time limit"
                        .into(),
                    line: None,
                    column: None,
                }));
            }
        }
    }

    /// Drops the reply: the caller reads "unavailable".
    fn abort(&self) {
        drop(lock(&self.reply).take());
    }
}

struct Job {
    ticket: Arc<Ticket>,
    work: Work,
}

#[derive(Default)]
struct LaneState {
    waiting: VecDeque<Job>,
    /// Threads busy with this lane's jobs, left-behind ones included.
    held: usize,
}

struct Running {
    ticket: Arc<Ticket>,
    abandoned: bool,
}

#[derive(Default)]
struct State {
    lanes: HashMap<Lane, LaneState>,
    /// The lanes with waiting jobs, the next to serve first.
    ring: VecDeque<Lane>,
    waiting: usize,
    /// The job each busy thread runs, by thread number.
    running: HashMap<u64, Running>,
    /// Threads in the pool (busy or idle), left-behind ones not included.
    workers: usize,
    /// Threads left behind and still running.
    abandoned: usize,
    next_thread: u64,
    /// When the watchdog wakes up next (`None`: when told to); a submit
    /// that needs it earlier sets it and tells the watchdog.
    watchdog_wakes_at: Option<Instant>,
    /// Whether the bound on left-behind threads was reported.
    warned: bool,
    closed: bool,
}

impl State {
    /// The next job an idle thread should run: round-robin over the lanes
    /// under their cap; jobs answered while they waited are dropped.
    fn take(&mut self, cap: usize) -> Option<Job> {
        let mut capped = 0;
        while capped < self.ring.len() {
            let lane = self.ring.pop_front()?;
            let Some(entry) = self.lanes.get_mut(&lane) else {
                continue;
            };
            if entry.held >= cap {
                self.ring.push_back(lane);
                capped += 1;
                continue;
            }
            let job = entry.waiting.pop_front();
            if !entry.waiting.is_empty() {
                self.ring.push_back(lane);
            }
            match job {
                Some(job) if !job.ticket.answered() => {
                    entry.held += 1;
                    self.waiting -= 1;
                    return Some(job);
                }
                Some(_) => {
                    self.waiting -= 1;
                    self.tidy(lane);
                }
                None => self.tidy(lane),
            }
        }
        None
    }

    /// Forgets a lane with nothing waiting and no thread.
    fn tidy(&mut self, lane: Lane) {
        if self
            .lanes
            .get(&lane)
            .is_some_and(|entry| entry.waiting.is_empty() && entry.held == 0)
        {
            self.lanes.remove(&lane);
        }
    }

    /// Answers and drops the waiting jobs whose deadline has come; returns
    /// the earliest deadline still waiting. Jobs of a lane wait in deadline
    /// order (all get the same limit), so only fronts need looking at.
    fn expire_waiting(&mut self, now: Instant) -> Option<Instant> {
        let mut emptied = Vec::new();
        let mut next: Option<Instant> = None;
        for (lane, entry) in &mut self.lanes {
            while let Some(job) = entry.waiting.front() {
                if job.ticket.deadline > now && !job.ticket.answered() {
                    next = earliest(next, Some(job.ticket.deadline));
                    break;
                }
                job.ticket.expire();
                entry.waiting.pop_front();
                self.waiting -= 1;
            }
            if entry.waiting.is_empty() {
                emptied.push(*lane);
            }
        }
        for lane in emptied {
            self.ring.retain(|l| *l != lane);
            self.tidy(lane);
        }
        next
    }
}

/// How many threads the pool has, as the watchdog left them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerThreads {
    /// Threads serving jobs (busy or idle).
    pub workers: usize,
    /// Threads left behind in a native call past their deadline, still
    /// running (at most [`JsLimits::abandoned`]).
    pub abandoned: usize,
}

/// The queues, the threads and the watchdog.
pub(crate) struct Pool {
    state: Mutex<State>,
    /// Idle threads wait on it for a job.
    work: Condvar,
    /// The watchdog waits on it for the next deadline.
    watch: Condvar,
    limits: JsLimits,
    lane_cap: usize,
    lane_queue: usize,
}

impl Pool {
    /// Starts `limits.workers` threads (at least one) and the watchdog.
    pub(crate) fn start(limits: JsLimits) -> std::io::Result<Arc<Self>> {
        let workers = limits.workers.max(1);
        let pool = Arc::new(Self {
            state: Mutex::default(),
            work: Condvar::new(),
            watch: Condvar::new(),
            limits,
            lane_cap: limits.workers_per_environment.clamp(1, workers),
            lane_queue: (limits.queue / 2).max(1),
        });
        {
            let mut state = lock(&pool.state);
            for _ in 0..workers {
                spawn_worker(&pool, &mut state)?;
            }
        }
        let watched = Arc::clone(&pool);
        std::thread::Builder::new()
            .name("action-watchdog".into())
            .spawn(move || watch(&watched))?;
        Ok(pool)
    }

    /// Queues a job; false when its queue is full or the pool is closed.
    pub(crate) fn submit(&self, lane: Lane, work: Work, reply: Reply) -> bool {
        let submitted = Instant::now();
        let deadline = submitted + self.limits.timeout;
        let job = Job {
            ticket: Arc::new(Ticket {
                lane,
                submitted,
                deadline,
                reply: Mutex::new(Some(reply)),
            }),
            work,
        };
        let mut state = lock(&self.state);
        if state.closed || state.waiting >= self.limits.queue.max(1) {
            return false;
        }
        let entry = state.lanes.entry(lane).or_default();
        if entry.waiting.len() >= self.lane_queue {
            return false;
        }
        let first = entry.waiting.is_empty();
        entry.waiting.push_back(job);
        if first {
            state.ring.push_back(lane);
        }
        state.waiting += 1;
        // The watchdog is told only when it would wake too late; it then
        // keeps this deadline even if the job is done by the time it looks,
        // so a stream of quick runs wakes it about once per limit, not once
        // per run.
        let wake_watchdog = state.watchdog_wakes_at.is_none_or(|at| deadline < at);
        if wake_watchdog {
            state.watchdog_wakes_at = Some(deadline);
        }
        drop(state);
        self.work.notify_one();
        if wake_watchdog {
            self.watch.notify_one();
        }
        true
    }

    pub(crate) fn threads(&self) -> RunnerThreads {
        let state = lock(&self.state);
        RunnerThreads {
            workers: state.workers,
            abandoned: state.abandoned,
        }
    }

    /// Stops taking jobs: the waiting ones are dropped (their callers read
    /// "unavailable"), idle threads and the watchdog end, busy threads end
    /// after their run.
    pub(crate) fn close(&self) {
        let dropped: Vec<Job> = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.ring.clear();
            state.waiting = 0;
            state
                .lanes
                .values_mut()
                .flat_map(|entry| entry.waiting.drain(..))
                .collect()
        };
        drop(dropped);
        self.work.notify_all();
        self.watch.notify_all();
    }

    /// The next job for thread `me`, waiting for one; `None` when closed.
    fn next_job(&self, me: u64) -> Option<Job> {
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                state.workers -= 1;
                return None;
            }
            if let Some(job) = state.take(self.lane_cap) {
                state.running.insert(
                    me,
                    Running {
                        ticket: Arc::clone(&job.ticket),
                        abandoned: false,
                    },
                );
                return Some(job);
            }
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Thread `me` finished its job; returns whether it stays in the pool
    /// (false: it was left behind and ends now).
    fn finished(&self, me: u64) -> bool {
        let mut state = lock(&self.state);
        let Some(running) = state.running.remove(&me) else {
            return true;
        };
        let lane = running.ticket.lane;
        if let Some(entry) = state.lanes.get_mut(&lane) {
            entry.held -= 1;
        }
        state.tidy(lane);
        if !running.abandoned {
            // This thread looks for its next job itself.
            return true;
        }
        state.abandoned -= 1;
        drop(state);
        // Its lane may be under its cap again, and the watchdog may leave
        // another stuck thread behind now.
        self.work.notify_all();
        self.watch.notify_one();
        false
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Starts one more runner thread.
fn spawn_worker(pool: &Arc<Pool>, state: &mut State) -> std::io::Result<()> {
    let me = state.next_thread;
    let own = Arc::clone(pool);
    std::thread::Builder::new()
        .name(format!("action-runner-{me}"))
        .stack_size(THREAD_STACK_BYTES)
        .spawn(move || serve(&own, me))?;
    state.next_thread += 1;
    state.workers += 1;
    Ok(())
}

/// A runner thread: runs jobs until the pool closes or the watchdog leaves
/// it behind. A panic while running a job drops its reply (the caller
/// reads "unavailable") and the thread's compiled scripts, and the thread
/// goes on.
fn serve(pool: &Pool, me: u64) {
    let mut engine = Worker::new(pool.limits);
    while let Some(job) = pool.next_job(me) {
        let deadline = job.ticket.deadline;
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &job.work {
            Work::Check { code } => Done::Check(engine.check(code, deadline)),
            Work::Run { script, event } => Done::Run(engine.run(script, event, deadline)),
        }));
        match done {
            Ok(done) => job.ticket.answer(done),
            Err(_) => {
                tracing::error!("an action run panicked; the thread's runtimes are reset");
                job.ticket.abort();
                engine = Worker::new(pool.limits);
            }
        }
        if !pool.finished(me) {
            tracing::info!(thread = me, "an abandoned action thread returned and ends");
            return;
        }
    }
}

/// The watchdog: answers every job at its deadline, and leaves behind the
/// threads still busy [`ABANDON_AFTER`] past it, each replaced by a
/// fresh thread, at most `limits.abandoned` at once.
fn watch(pool: &Arc<Pool>) {
    let mut state = lock(&pool.state);
    loop {
        if state.closed {
            return;
        }
        let now = Instant::now();
        let promised = state.watchdog_wakes_at.filter(|at| *at > now);
        let mut next = earliest(state.expire_waiting(now), promised);
        let mut stuck = Vec::new();
        for (thread, running) in &state.running {
            let deadline = running.ticket.deadline;
            if deadline <= now {
                running.ticket.expire();
            } else {
                next = earliest(next, Some(deadline));
            }
            if !running.abandoned {
                let due = deadline + ABANDON_AFTER;
                if due <= now {
                    stuck.push(*thread);
                } else {
                    next = earliest(next, Some(due));
                }
            }
        }
        for thread in stuck {
            if state.abandoned >= pool.limits.abandoned {
                if !state.warned {
                    state.warned = true;
                    tracing::warn!(
                        bound = pool.limits.abandoned,
                        "the bound on abandoned action threads is reached: a stuck thread keeps \
                         its place and the pool runs a thread short until one returns"
                    );
                }
                break;
            }
            let Some(environment) = state.running.get(&thread).map(|r| r.ticket.lane) else {
                continue;
            };
            if let Err(error) = spawn_worker(pool, &mut state) {
                tracing::error!(%error, "cannot start a runner thread; the stuck one keeps its place");
                break;
            }
            if let Some(running) = state.running.get_mut(&thread) {
                running.abandoned = true;
            }
            state.workers -= 1;
            state.abandoned += 1;
            tracing::warn!(
                thread,
                %environment,
                abandoned = state.abandoned,
                "an action is stuck in a native call past its deadline; its thread is abandoned and replaced"
            );
        }
        if state.abandoned == 0 {
            state.warned = false;
        }
        state.watchdog_wakes_at = next;
        state = match next {
            Some(at) => {
                pool.watch
                    .wait_timeout(state, at.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => pool
                .watch
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}
