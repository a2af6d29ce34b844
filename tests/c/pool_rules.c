/* Three rules of src/kernels/threadpool.h on their own, built and run by
 * tests/test_threadpool_c.py: the backoff after a stall
 * (sepconv_pool_next_backoff), a worker's move off the caller's CPU
 * (sepconv_leave_cpu), which must move the thread and leave its affinity as
 * it found it, and a caller's pull of a stalled worker onto its own CPU
 * (sepconv_pull_worker, undone by sepconv_worker_restore).  Prints "ok" and
 * exits 0, or names each broken expectation and exits 1. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "threadpool.h"

static int failures = 0;

#if defined(__linux__) && defined(CPU_SET)
/* Runs on `cpu` (pinned there, then unpinned: the scheduler leaves it
   there while the other CPUs are idle), moves off it, and checks where it
   went and what it may run on afterwards. */
static void check_leave_cpu(void) {
    cpu_set_t allowed, one, after;
    int cpu, moved;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
        printf("skip leave_cpu: fewer than two CPUs allowed\n");
        return;
    }
    for (cpu = 0; !CPU_ISSET(cpu, &allowed); ++cpu) {}
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0 || sched_getcpu() != cpu) {
        printf("skip leave_cpu: cannot pin to CPU %d\n", cpu);
        return;
    }
    /* Pinned to one CPU: there is nowhere to go, and the mask stays. */
    if (sepconv_leave_cpu(cpu) != 0 || sched_getcpu() != cpu) {
        printf("leave_cpu moved a thread pinned to one CPU\n");
        failures += 1;
    }
    sched_getaffinity(0, sizeof after, &after);
    if (!CPU_EQUAL(&after, &one)) {
        printf("leave_cpu changed a one-CPU mask\n");
        failures += 1;
    }
    /* Unpinned, still on `cpu`: it moves, and only the move remains. */
    sched_setaffinity(0, sizeof allowed, &allowed);
    cpu = sched_getcpu();
    moved = sepconv_leave_cpu(cpu);
    if (!moved || sched_getcpu() == cpu) {
        printf("leave_cpu did not move a thread allowed on %d CPUs off CPU %d\n",
               CPU_COUNT(&allowed), cpu);
        failures += 1;
    }
    sched_getaffinity(0, sizeof after, &after);
    if (!CPU_EQUAL(&after, &allowed)) {
        printf("leave_cpu left the affinity changed\n");
        failures += 1;
    }
    /* A CPU the thread is not on, or out of range: nothing to do. */
    if (sepconv_leave_cpu(-1) != 0 || sepconv_leave_cpu(CPU_SETSIZE) != 0) {
        printf("leave_cpu accepted a CPU out of range\n");
        failures += 1;
    }
}

/* A thread that only waits: the one to pull. */
static sepconv_worker_t pulled_one;
static int stop_waiting = 0;
static void* wait_around(void* unused) {
    (void)unused;
    __atomic_store_n(&pulled_one.tid, SEPCONV_TID(), __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&stop_waiting, __ATOMIC_SEQ_CST)) sched_yield();
    return NULL;
}

static int affinity_of(int tid, cpu_set_t* mask) {
    return sched_getaffinity(tid, sizeof *mask, mask);
}

static void check_pull(void) {
    cpu_set_t allowed, one, got;
    pthread_t thread;
    int cpu, other, tid;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
        printf("skip pull: fewer than two CPUs allowed\n");
        return;
    }
    for (cpu = 0; !CPU_ISSET(cpu, &allowed); ++cpu) {}
    for (other = cpu + 1; !CPU_ISSET(other, &allowed); ++other) {}
    if (pthread_create(&thread, NULL, wait_around, NULL) != 0) {
        printf("skip pull: no thread\n");
        return;
    }
    while ((tid = __atomic_load_n(&pulled_one.tid, __ATOMIC_SEQ_CST)) == 0) sched_yield();
    /* Pulled: its mask is the caller's CPU alone, and the flag is up. */
    if (sepconv_pull_worker(&pulled_one, cpu) != 1 || affinity_of(tid, &got) != 0) {
        printf("pull refused a thread allowed on %d CPUs\n", CPU_COUNT(&allowed));
        failures += 1;
    } else {
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (!CPU_EQUAL(&got, &one) || !__atomic_load_n(&pulled_one.pulled, __ATOMIC_SEQ_CST)) {
            printf("pull did not narrow the mask to CPU %d\n", cpu);
            failures += 1;
        }
        /* A second pull before the restore does nothing. */
        if (sepconv_pull_worker(&pulled_one, other) != 0) {
            printf("pull took a thread already pulled\n");
            failures += 1;
        }
        /* Restored (by tid, as the caller does): the mask it had, flag down;
           a second restore changes nothing. */
        sepconv_worker_restore(&pulled_one, tid);
        sepconv_worker_restore(&pulled_one, tid);
        affinity_of(tid, &got);
        if (!CPU_EQUAL(&got, &allowed) || __atomic_load_n(&pulled_one.pulled, __ATOMIC_SEQ_CST)) {
            printf("restore did not put the mask back\n");
            failures += 1;
        }
    }
    /* A mask without the caller's CPU, or of one CPU, is the user's: kept. */
    CPU_ZERO(&one);
    CPU_SET(other, &one);
    sched_setaffinity(tid, sizeof one, &one);
    if (sepconv_pull_worker(&pulled_one, cpu) != 0 || sepconv_pull_worker(&pulled_one, other) != 0
            || affinity_of(tid, &got) != 0 || !CPU_EQUAL(&got, &one)) {
        printf("pull changed a one-CPU mask\n");
        failures += 1;
    }
    if (sepconv_pull_worker(&pulled_one, -1) != 0
            || sepconv_pull_worker(&pulled_one, CPU_SETSIZE) != 0) {
        printf("pull accepted a CPU out of range\n");
        failures += 1;
    }
    __atomic_store_n(&stop_waiting, 1, __ATOMIC_SEQ_CST);
    pthread_join(thread, NULL);
}
#else
static void check_leave_cpu(void) { printf("skip leave_cpu: not Linux\n"); }
static void check_pull(void) { printf("skip pull: not Linux\n"); }
#endif

static void expect(const char* what, double got, double want) {
    if (got != want) {
        printf("%s: got %g, want %g\n", what, got, want);
        failures += 1;
    }
}

int main(void) {
    const double lo = SEPCONV_POOL_BACKOFF_MIN, hi = SEPCONV_POOL_BACKOFF_MAX;
    double b = 0.0, want = lo;
    int i;
    /* Steady contention: each stall comes right after the last backoff
       ended, with a little shared time in between; the backoff doubles
       until it is capped, and stays there. */
    for (i = 0; i < 20; ++i) {
        b = sepconv_pool_next_backoff(b, b + 1e-4, 1e-4);
        expect("steady contention", b, want);
        want = 2 * want > hi ? hi : 2 * want;
    }
    expect("capped", b, hi);
    /* Clean shared calls up to the hot bound still count as the same spell. */
    expect("at the hot bound", sepconv_pool_next_backoff(8 * lo, 0.5, SEPCONV_POOL_HOT),
           16 * lo);
    /* One-offs start again from the minimum. */
    expect("first stall", sepconv_pool_next_backoff(0.0, 1e-3, 0.0), lo);
    expect("after much shared time", sepconv_pool_next_backoff(hi, 0.2, 2 * SEPCONV_POOL_HOT),
           lo);
    expect("after a quiet second", sepconv_pool_next_backoff(hi, 2 * SEPCONV_POOL_MEMORY, 0.0),
           lo);
    /* A burst of one-offs a few hundred ms apart with busy shared calls in
       between (bench.py's turns on a noisy machine) never grows it. */
    b = 0.0;
    for (i = 0; i < 10; ++i) {
        b = sepconv_pool_next_backoff(b, 0.3, 0.04);
        expect("one-offs", b, lo);
    }
    check_leave_cpu();
    check_pull();
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
