/* threadpool.h: the forward pass's own worker threads (POSIX threads).
 *
 * Why not an OpenMP parallel loop: a parallel region ends at a barrier that
 * waits for every thread of the team, including one the operating system
 * has not run yet.  On a shared machine (another process busy on a core) a
 * 2-thread call then waits for that thread's next time slice: p90 latencies
 * of several milliseconds for calls that take 10-400 us on one thread.
 *
 * Here the calling thread is a worker too, and waits only for workers that
 * actually joined.  A job is a count of work items and a function that each
 * participant runs: it claims items one at a time from a shared counter
 * (sepconv_job_next) until none are left.  A worker that wakes up late finds
 * the job closed or its items taken and goes back to waiting; the caller
 * never waits for it.  Results do not depend on who ran which item: each
 * item writes its own outputs, summed in a fixed order.
 *
 * Workers spin for a short while after a job (a call that follows soon
 * finds them awake), then sleep on a condition variable; the hot path of a
 * call takes no lock (a lock held by a descheduled worker would stall the
 * caller as surely as a barrier).  A worker that
 * joined and then lost its core still stalls the caller, which must wait
 * for the outputs it is writing: after such a stall the pool backs off to
 * the caller alone for a while (see SEPCONV_POOL_BACKOFF_MIN).  One job runs at a
 * time: a second caller that finds the pool busy (another Python thread's
 * call) runs its job alone rather than queue behind the first.
 *
 * The pool is per kernel module (each level's module has its own), created
 * lazily, grown to the largest thread count asked for, and never shrunk.
 * A child process after fork() has none of the parent's threads: the
 * at-fork handler forgets them, and the child starts a new pool when asked.
 *
 * Without POSIX threads (MSVC) SEPCONV_POOL is 0 and the kernels use their
 * OpenMP loop instead.
 */
#ifndef SEPCONV_THREADPOOL_H
#define SEPCONV_THREADPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if !defined(_WIN32) && (defined(__GNUC__) || defined(__clang__))
#define SEPCONV_POOL 1
#include <pthread.h>
#include <sched.h>
#include <time.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
extern int sched_getcpu(void);   /* glibc and musl; <sched.h> has it only with _GNU_SOURCE */
#define SEPCONV_CPU() sched_getcpu()
#define SEPCONV_TID() ((int)syscall(SYS_gettid))
#else
#define SEPCONV_CPU() (-1)
#define SEPCONV_TID() 0
#endif
#else
#define SEPCONV_POOL 0
#endif

typedef struct sepconv_job {
    /* Run by every participant: claims items with sepconv_job_next. */
    void (*run)(void* context, struct sepconv_job* job);
    void* context;
    ptrdiff_t items;
    ptrdiff_t next;   /* the next unclaimed item (atomic) */
    int failed;       /* set by a participant that could not run (atomic) */
    int finished;     /* workers that joined and are done (atomic) */
} sepconv_job;

/* The next item to compute, or -1 when every item is taken. */
static inline ptrdiff_t sepconv_job_next(sepconv_job* job) {
#if defined(__GNUC__) || defined(__clang__)
    ptrdiff_t item = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
#else
    ptrdiff_t item = job->next++;   /* one participant only (no pool) */
#endif
    return item < job->items ? item : -1;
}

static inline void sepconv_job_fail(sepconv_job* job) {
#if defined(__GNUC__) || defined(__clang__)
    __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
#else
    job->failed = 1;
#endif
}

#if SEPCONV_POOL

#if defined(__x86_64__) || defined(__i386__)
#define SEPCONV_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define SEPCONV_RELAX() __asm__ __volatile__("yield")
#else
#define SEPCONV_RELAX() ((void)0)
#endif

/* How long a worker spins for the next job before it sleeps (seconds). */
#define SEPCONV_POOL_SPIN 100e-6
#define SEPCONV_POOL_MAX 1024

/* One worker's record, shared with callers.  holding: the worker is running
   a job's items (atomic); pulled: a caller has narrowed its affinity to the
   caller's CPU and `saved` holds the mask it had (atomic; see
   sepconv_pull_worker). */
typedef struct {
    int tid;          /* its kernel thread id, or 0 before it has started (atomic) */
    int holding;
    int pulled;
#if defined(__linux__) && defined(_GNU_SOURCE) && defined(CPU_SET)
    cpu_set_t saved;
#endif
} sepconv_worker_t;

typedef struct {
    /* The hot path is lock-free: a caller publishes its job and a number of
       tickets; a worker that takes a ticket (an atomic decrement that found
       it positive) has joined and counts itself out in job->finished when
       it is done.  The caller closes the job by taking the tickets back, so
       it knows exactly how many workers joined and waits for those only.
       The mutex and condition variable are for sleeping workers (and for
       starting threads), which a caller touches only when some sleep. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    unsigned long generation;   /* bumped per job (atomic) */
    sepconv_job* job;           /* the current job (atomic) */
    int tickets;                /* workers the current job can still take (atomic) */
    int sleeping;               /* workers waiting on `wake` (atomic) */
    int started;                /* worker threads alive (under lock) */
    int busy;                   /* a caller owns the pool (atomic) */
    int atfork_set;
    double solo_until;          /* run calls on the caller alone until then (owner only) */
    double backoff;             /* seconds of that after the last stalled call (owner only) */
    double last_stall;          /* when that call ended (owner only) */
    double shared_time;         /* time in clean shared calls since then (owner only) */
    int park;                   /* spinning workers should sleep at once (atomic) */
    int caller_cpu;             /* the current job's caller's CPU, or -1 (atomic) */
    long moves;                 /* workers moved off the caller's CPU (atomic) */
    long pulls;                 /* workers pulled onto a waiting caller's CPU (atomic) */
    long calls[3];              /* calls shared, run alone after a stall, stalled (owner) */
    sepconv_worker_t* workers[SEPCONV_POOL_MAX];   /* one per started worker (under lock) */
} sepconv_pool_t;

static sepconv_pool_t sepconv_pool = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL, 0, 0, 0, 0, 0,
    0.0, 0.0, 0.0, 0.0, 0, -1, 0, 0, {0, 0, 0}, {NULL}};

/* A worker that joined and was then descheduled still holds its item, and
   the caller must wait for it (it is writing the caller's output); a caller
   that shares a core with another process is slowed down by its own
   workers.  After a call that shows either, calls run on the caller alone
   for a while (the backoff), then one tries the workers again.

   How long: sepconv_pool_next_backoff.  Steady contention shows as a stall
   soon after the last one, counted in time spent in shared calls (calls
   run alone and time between calls do not count): such a stall doubles
   the backoff, from 1 ms up to 100 ms.  A stall after 20 ms of shared
   calls, or more than a second after the last, is a one-off (a hiccup of
   the machine, another library's threads spinning down) and starts again
   from 1 ms.
   - Clean calls between stalls do not reset it: under steady contention
     some tries find both cores free for a time slice (a few ms), and
     resetting on those kept short calls stalling (c40_b1, 2 threads, one
     core busy: p90 2.2-3.5x the 1-thread p90).
   - Counting shared time, not wall time: with a one-second memory of
     wall time alone, one-off stalls a few hundred ms apart in bench.py's
     interleaved turns (a busy VM, peers' leftover threads) doubled the
     backoff up to 64 ms, and c100_b4's 2-thread median read 316 us with
     its shared calls taking 190 us.
   - The backoff is a time, not a number of calls: a count that suits 10 us
     calls would keep 10 ms calls on one thread for a minute after a moment
     of contention.
   Results do not change. */
#define SEPCONV_POOL_BACKOFF_MIN 1e-3
#define SEPCONV_POOL_BACKOFF_MAX 0.1
#define SEPCONV_POOL_HOT 20e-3
#define SEPCONV_POOL_MEMORY 1.0

/* The backoff after a stall: `backoff` is the previous one (0 for none),
   `since` the wall time since the previous stall, `shared` the time spent
   in clean shared calls since then. */
static inline double sepconv_pool_next_backoff(double backoff, double since, double shared) {
    if (backoff <= 0.0 || since > SEPCONV_POOL_MEMORY || shared > SEPCONV_POOL_HOT)
        return SEPCONV_POOL_BACKOFF_MIN;
    return 2 * backoff > SEPCONV_POOL_BACKOFF_MAX ? SEPCONV_POOL_BACKOFF_MAX : 2 * backoff;
}

static inline double sepconv_clock(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#define sepconv_now() sepconv_clock(CLOCK_MONOTONIC)
#define sepconv_cpu_now() sepconv_clock(CLOCK_THREAD_CPUTIME_ID)

#define SEPCONV_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define SEPCONV_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

/* A worker woken by a caller is placed by the scheduler, usually on an idle
   CPU.  After a spell of heavy use of every CPU (another library's threads,
   or this pool's) Linux may skip the search for an idle one and put the
   worker on the caller's own CPU (seen on a 2-vCPU Zen 4 VM after PyTorch
   or ONNX Runtime calls), and the load balancer leaves the two there, both
   cache-hot, taking turns on one core while the other sits idle: 2-thread
   audio_b1 calls took 430-490 us instead of 180 us for whole 10 ms turns.
   Narrowing the worker's affinity to the other CPUs moves it at once;
   widening it back right after leaves it where it went.  Returns 1 if the
   calling thread moved. */
#if defined(__linux__) && defined(_GNU_SOURCE) && defined(CPU_SET)
static int sepconv_leave_cpu(int cpu) {
    cpu_set_t allowed, others;
    if (cpu < 0 || cpu >= CPU_SETSIZE) return 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(cpu, &allowed)
            || CPU_COUNT(&allowed) < 2)
        return 0;
    others = allowed;
    CPU_CLR(cpu, &others);
    if (sched_setaffinity(0, sizeof others, &others) != 0) return 0;
    sched_setaffinity(0, sizeof allowed, &allowed);
    return 1;
}
/* A worker that joined and then lost its core mid-item makes the caller
   wait until the scheduler runs it again: with another process busy on its
   CPU, one time slice (3-5 ms on Linux 6.x), while the caller's own CPU
   goes idle (quartz_b1, 2 threads, every peer interleaved: p90 4.6 ms
   against a median of 0.9 ms).  A caller that has waited well past the
   time an item takes pulls such a worker onto its own CPU: it narrows the
   worker's affinity to that CPU (the kernel moves a waiting thread at once)
   and yields to it.  The mask it had (`saved`, read by the caller just
   before) is put back when it is done with the job's items, before the
   call returns (sepconv_worker_restore).  Returns 1 if it was pulled.
   Not done when the worker's mask lacks the caller's CPU (the user's
   affinity stands) or allows one CPU only. */
static int sepconv_pull_worker(sepconv_worker_t* worker, int cpu) {
    cpu_set_t one;
    int tid = __atomic_load_n(&worker->tid, __ATOMIC_SEQ_CST);
    if (tid <= 0 || cpu < 0 || cpu >= CPU_SETSIZE
            || __atomic_load_n(&worker->pulled, __ATOMIC_SEQ_CST))
        return 0;
    if (sched_getaffinity(tid, sizeof worker->saved, &worker->saved) != 0
            || !CPU_ISSET(cpu, &worker->saved) || CPU_COUNT(&worker->saved) < 2)
        return 0;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(tid, sizeof one, &one) != 0) return 0;
    __atomic_store_n(&worker->pulled, 1, __ATOMIC_SEQ_CST);
    return 1;
}

/* The worker's mask back as it was before a pull: run by the worker when
   it is done with the job's items (tid 0: itself), and by the caller once
   every worker is done, for one pulled after it had looked (the pull and
   the worker's own check crossed).  Whichever takes the flag restores. */
static void sepconv_worker_restore(sepconv_worker_t* worker, int tid) {
    if (__atomic_load_n(&worker->pulled, __ATOMIC_SEQ_CST)
            && __atomic_exchange_n(&worker->pulled, 0, __ATOMIC_SEQ_CST))
        sched_setaffinity(tid, sizeof worker->saved, &worker->saved);
}
#else
static int sepconv_leave_cpu(int cpu) {
    (void)cpu;
    return 0;
}

static int sepconv_pull_worker(sepconv_worker_t* worker, int cpu) {
    (void)worker; (void)cpu;
    return 0;
}

static void sepconv_worker_restore(sepconv_worker_t* worker, int tid) {
    (void)worker; (void)tid;
}
#endif

static void* sepconv_pool_worker(void* arg) {
    sepconv_pool_t* pool = &sepconv_pool;
    sepconv_worker_t* self = (sepconv_worker_t*)arg;
    unsigned long seen = SEPCONV_LOAD(&pool->generation);
    SEPCONV_STORE(&self->tid, SEPCONV_TID());
    for (;;) {
        /* Wait for the next job: spin for a while, then sleep. */
        double until = sepconv_now() + SEPCONV_POOL_SPIN;
        int spin, cpu;
        for (spin = 1; SEPCONV_LOAD(&pool->generation) == seen; ++spin) {
            if (spin % 64 == 0 && (SEPCONV_LOAD(&pool->park) || sepconv_now() > until)) {
                pthread_mutex_lock(&pool->lock);
                __atomic_add_fetch(&pool->sleeping, 1, __ATOMIC_SEQ_CST);
                while (SEPCONV_LOAD(&pool->generation) == seen)
                    pthread_cond_wait(&pool->wake, &pool->lock);
                __atomic_sub_fetch(&pool->sleeping, 1, __ATOMIC_SEQ_CST);
                pthread_mutex_unlock(&pool->lock);
                break;
            }
            SEPCONV_RELAX();
        }
        seen = SEPCONV_LOAD(&pool->generation);
        /* On the caller's CPU: move before joining, so that the caller, which
           never waits for a worker that has not joined, does not wait for
           the move either. */
        cpu = SEPCONV_LOAD(&pool->caller_cpu);
        if (cpu >= 0 && SEPCONV_CPU() == cpu && sepconv_leave_cpu(cpu))
            __atomic_add_fetch(&pool->moves, 1, __ATOMIC_SEQ_CST);
        /* Join if a ticket is left.  The ticket may belong to a newer job
           than `seen`: whichever job is current is live until its caller
           has counted this worker out. */
        if (__atomic_fetch_sub(&pool->tickets, 1, __ATOMIC_SEQ_CST) > 0) {
            sepconv_job* job = SEPCONV_LOAD(&pool->job);
            SEPCONV_STORE(&self->holding, 1);
            job->run(job->context, job);
            SEPCONV_STORE(&self->holding, 0);
            sepconv_worker_restore(self, 0);
            __atomic_add_fetch(&job->finished, 1, __ATOMIC_SEQ_CST);  /* last touch */
        }
    }
    return NULL;
}

/* In a child after fork(): no worker threads exist; start afresh. */
static void sepconv_pool_after_fork_child(void) {
    sepconv_pool_t* pool = &sepconv_pool;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->job = NULL;
    pool->tickets = pool->sleeping = pool->started = pool->busy = 0;
    pool->solo_until = pool->backoff = pool->last_stall = pool->shared_time = 0.0;
    pool->park = 0;
    pool->caller_cpu = -1;
    pool->moves = pool->pulls = 0;
    pool->calls[0] = pool->calls[1] = pool->calls[2] = 0;
    /* The records stay allocated and are reused by the child's new workers. */
}

/* Start workers until `count` exist; returns how many exist. */
static int sepconv_pool_grow(int count) {
    sepconv_pool_t* pool = &sepconv_pool;
    int started;
    if (count > SEPCONV_POOL_MAX) count = SEPCONV_POOL_MAX;
    pthread_mutex_lock(&pool->lock);
    if (!pool->atfork_set) {
        pthread_atfork(NULL, NULL, sepconv_pool_after_fork_child);
        pool->atfork_set = 1;
    }
    while (pool->started < count) {
        pthread_t thread;
        pthread_attr_t attr;
        int status;
        sepconv_worker_t* worker = pool->workers[pool->started];
        if (worker == NULL) {
            worker = (sepconv_worker_t*)calloc(1, sizeof *worker);
            if (worker == NULL) break;
            pool->workers[pool->started] = worker;
        }
        worker->tid = worker->holding = worker->pulled = 0;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 1 << 20);  /* the kernels use little stack */
        status = pthread_create(&thread, &attr, sepconv_pool_worker, worker);
        pthread_attr_destroy(&attr);
        if (status != 0) break;   /* fewer threads than asked for: still correct */
        pool->started += 1;
    }
    started = pool->started;
    pthread_mutex_unlock(&pool->lock);
    return started;
}

/* Run `job` on the calling thread and up to threads - 1 workers; returns
   job->failed.  Never waits for a worker that did not join. */
static int sepconv_pool_run(sepconv_job* job, int threads) {
    sepconv_pool_t* pool = &sepconv_pool;
    int helpers = threads - 1, expected = 0, left, joined, spin, moved, i;
    long moves;
    double start, cpu_start, own_done, own_cpu, waited, pull_after;
    int pulled = 0;
    job->finished = 0;
    if (helpers > job->items - 1) helpers = (int)(job->items - 1);
    if (helpers <= 0
            || !__atomic_compare_exchange_n(&pool->busy, &expected, 1, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST)) {
        /* One thread, or another caller's job owns the pool: run alone. */
        job->run(job->context, job);
        return job->failed;
    }
    if (pool->solo_until > 0.0) {   /* contended a moment ago */
        if (sepconv_now() < pool->solo_until) {
            pool->calls[1] += 1;
            SEPCONV_STORE(&pool->busy, 0);
            job->run(job->context, job);
            return job->failed;
        }
        pool->solo_until = 0.0;
    }
    if (pool->started < helpers) {
        int started = sepconv_pool_grow(helpers);
        if (started < helpers) helpers = started;
    }
    pool->calls[0] += 1;
    moves = SEPCONV_LOAD(&pool->moves);
    SEPCONV_STORE(&pool->caller_cpu, SEPCONV_CPU());
    SEPCONV_STORE(&pool->park, 0);
    SEPCONV_STORE(&pool->job, job);
    SEPCONV_STORE(&pool->tickets, helpers);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_SEQ_CST);
    if (SEPCONV_LOAD(&pool->sleeping) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }

    start = sepconv_now();
    cpu_start = sepconv_cpu_now();
    job->run(job->context, job);
    own_done = sepconv_now();
    own_cpu = sepconv_cpu_now() - cpu_start;

    /* Close the job: tickets not taken by now never will be. */
    left = __atomic_exchange_n(&pool->tickets, 0, __ATOMIC_SEQ_CST);
    joined = helpers - (left > 0 ? left : 0);
    waited = 0.0;
    if (SEPCONV_LOAD(&job->finished) < joined) {
        /* A worker still holds an item.  Past twice the wall time per item
           this call has seen (and 100 us) it has most likely lost its core:
           pull it here (sepconv_pull_worker) and yield to it. */
        pull_after = own_done + 100e-6 + 2.0 * (own_done - start) * (joined + 1)
                     / (double)job->items;
        for (spin = 1; SEPCONV_LOAD(&job->finished) < joined; ++spin) {
            if (spin > 4096) {
                if (pull_after > 0.0 && sepconv_now() > pull_after) {
                    int cpu = SEPCONV_CPU();
                    pull_after = 0.0;   /* once per call */
                    for (i = 0; i < pool->started; ++i) {   /* any may have joined */
                        sepconv_worker_t* worker = pool->workers[i];
                        if (worker != NULL && SEPCONV_LOAD(&worker->holding)
                                && sepconv_pull_worker(worker, cpu)) {
                            __atomic_add_fetch(&pool->pulls, 1, __ATOMIC_SEQ_CST);
                            pulled = 1;
                        }
                    }
                }
                sched_yield();   /* the worker may need this core */
            } else {
                SEPCONV_RELAX();
            }
        }
        waited = sepconv_now() - own_done;
        for (i = 0; pulled && i < pool->started; ++i)   /* every worker is done */
            if (pool->workers[i] != NULL)
                sepconv_worker_restore(pool->workers[i],
                                       SEPCONV_LOAD(&pool->workers[i]->tid));
    }
    moved = SEPCONV_LOAD(&pool->moves) != moves;
    /* Back off when the threads did not each have a core and it cost more
       than they gained: the caller lost its own core for a while (its share
       took much longer than the CPU time it got), or workers joined and the
       whole call took about as long as the caller would have alone (its CPU
       time per participant times the participants; a worker that lost its
       core mid-item makes the caller wait).  A worker that joined late or
       not at all costs nothing and is no reason to back off; a brief stall
       inside a long call is cheaper than running it on one thread.  A worker
       woken on the caller's CPU takes it from the caller until it has moved
       away (sepconv_leave_cpu): a one-off, not contention. */
    if ((!moved && own_done - start - own_cpu > 50e-6 && own_done - start > 1.5 * own_cpu)
            || (joined > 0 && waited > 50e-6
                && own_done - start + waited > 0.9 * own_cpu * (joined + 1))) {
        double now = sepconv_now();
        pool->backoff = sepconv_pool_next_backoff(pool->backoff, now - pool->last_stall,
                                                  pool->shared_time);
        pool->shared_time = 0.0;
        pool->last_stall = now;
        pool->solo_until = now + pool->backoff;
        pool->calls[2] += 1;
        SEPCONV_STORE(&pool->park, 1);   /* a spinning worker would slow the caller */
    } else {
        pool->shared_time += own_done - start + waited;
    }
    SEPCONV_STORE(&pool->busy, 0);
    return job->failed;
}

/* Counters since the start (or the last fork): calls shared with workers,
   calls run alone because of a recent stall, stalls seen, workers moved off
   the caller's CPU, workers pulled onto a waiting caller's CPU. */
static void sepconv_pool_counts(long* shared, long* alone, long* stalls, long* moves,
                                long* pulls) {
    *shared = sepconv_pool.calls[0];
    *alone = sepconv_pool.calls[1];
    *stalls = sepconv_pool.calls[2];
    *moves = SEPCONV_LOAD(&sepconv_pool.moves);
    *pulls = SEPCONV_LOAD(&sepconv_pool.pulls);
}

/* Workers alive in this module's pool (for tests and `sepconv info`). */
static int sepconv_pool_size(void) {
    int size;
    pthread_mutex_lock(&sepconv_pool.lock);
    size = sepconv_pool.started;
    pthread_mutex_unlock(&sepconv_pool.lock);
    return size;
}

#else  /* no pool: one participant (the kernels use OpenMP instead) */

static int sepconv_pool_run(sepconv_job* job, int threads) {
    (void)threads;
    job->run(job->context, job);
    return job->failed;
}

static int sepconv_pool_size(void) { return 0; }

static void sepconv_pool_counts(long* shared, long* alone, long* stalls, long* moves,
                                long* pulls) {
    *shared = *alone = *stalls = *moves = *pulls = 0;
}

#endif /* SEPCONV_POOL */

/* Scratch kept by each thread from one call to the next.
 *
 * A participant's scratch (depthwise tile, C tile, staged input) is one
 * block; past a few hundred KiB glibc serves such a block with mmap, or
 * gives the top of its heap back to the kernel when it is freed, so every
 * call paid for fresh, zero-filled pages (Zen 4, quartz_b8 with a staged
 * input: 176 KiB, 2.4% of the call in clear_page).  sepconv_scratch_take
 * hands the thread the block it kept from its last call when that is large
 * enough, else a new one (and frees the old); sepconv_scratch_give keeps it
 * for next time.  A thread keeps at most SEPCONV_SCRATCH_KEEP bytes, its
 * largest block up to that; blocks past it are freed after the call.  A
 * block taken again before it is given back (not done by the kernels, but
 * cheap to rule out) comes from malloc instead.  The block is freed when
 * the thread exits (a key destructor), and a child after fork() inherits
 * the forking thread's block with the rest of its memory.  Without POSIX
 * threads: malloc and free. */
#define SEPCONV_SCRATCH_KEEP ((size_t)16 << 20)

#if SEPCONV_POOL
typedef struct sepconv_kept {
    void* block;
    size_t bytes;
    int busy;
} sepconv_kept;

static pthread_key_t sepconv_kept_key;
static pthread_once_t sepconv_kept_once = PTHREAD_ONCE_INIT;
static int sepconv_kept_ok = 0;

static void sepconv_kept_free(void* value) {
    sepconv_kept* kept = (sepconv_kept*)value;
    if (kept != NULL) {
        free(kept->block);
        free(kept);
    }
}

static void sepconv_kept_init(void) {
    sepconv_kept_ok = pthread_key_create(&sepconv_kept_key, sepconv_kept_free) == 0;
}

static sepconv_kept* sepconv_kept_here(void) {
    sepconv_kept* kept;
    pthread_once(&sepconv_kept_once, sepconv_kept_init);
    if (!sepconv_kept_ok) return NULL;
    kept = (sepconv_kept*)pthread_getspecific(sepconv_kept_key);
    if (kept == NULL) {
        kept = (sepconv_kept*)calloc(1, sizeof(sepconv_kept));
        if (kept == NULL) return NULL;
        if (pthread_setspecific(sepconv_kept_key, kept) != 0) {
            free(kept);
            return NULL;
        }
    }
    return kept;
}

static void* sepconv_scratch_take(size_t bytes) {
    sepconv_kept* kept = bytes <= SEPCONV_SCRATCH_KEEP ? sepconv_kept_here() : NULL;
    if (kept == NULL || kept->busy) return malloc(bytes);
    if (kept->bytes < bytes) {
        void* block = malloc(bytes);
        if (block == NULL) return NULL;
        free(kept->block);
        kept->block = block;
        kept->bytes = bytes;
    }
    kept->busy = 1;
    return kept->block;
}

static void sepconv_scratch_give(void* block) {
    sepconv_kept* kept;
    if (block == NULL) return;
    pthread_once(&sepconv_kept_once, sepconv_kept_init);
    kept = sepconv_kept_ok ? (sepconv_kept*)pthread_getspecific(sepconv_kept_key) : NULL;
    if (kept != NULL && kept->busy && kept->block == block) {
        kept->busy = 0;
        return;
    }
    free(block);
}

/* Bytes this thread keeps (sepconv_scratch_kept_bytes; tests). */
static size_t sepconv_scratch_kept_bytes(void) {
    sepconv_kept* kept;
    pthread_once(&sepconv_kept_once, sepconv_kept_init);
    kept = sepconv_kept_ok ? (sepconv_kept*)pthread_getspecific(sepconv_kept_key) : NULL;
    return kept != NULL ? kept->bytes : 0;
}
#else
static void* sepconv_scratch_take(size_t bytes) { return malloc(bytes); }
static void sepconv_scratch_give(void* block) { free(block); }
static size_t sepconv_scratch_kept_bytes(void) { return 0; }
#endif

#endif /* SEPCONV_THREADPOOL_H */
