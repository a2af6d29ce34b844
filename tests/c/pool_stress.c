/* Stress test of src/kernels/threadpool.h, built by tests/test_threadpool_c.py
 * (with ThreadSanitizer where the compiler has it).
 *
 * Several caller threads run many jobs at once with random item counts and
 * thread counts; participants sleep now and then, as a descheduled thread
 * would.  Every item must be computed exactly once and every job's caller
 * must return only after all of its items are done.  Prints "ok" and exits 0.
 */
#define _GNU_SOURCE   /* the move off the caller's CPU (sched_getaffinity) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "threadpool.h"

#define CALLERS 3
#define JOBS 3000
#define MAX_ITEMS 64

typedef struct {
    int counts[MAX_ITEMS];   /* atomic */
    unsigned seed;
} stress_context;

static void run_items(void* context, sepconv_job* job) {
    stress_context* ctx = (stress_context*)context;
    ptrdiff_t item;
    unsigned seed = (unsigned)(size_t)&item ^ ctx->seed;
    while ((item = sepconv_job_next(job)) >= 0) {
        if (rand_r(&seed) % 97 == 0) usleep(rand_r(&seed) % 300);  /* lose the core */
        __atomic_add_fetch(&ctx->counts[item], 1, __ATOMIC_RELAXED);
    }
}

static void* caller(void* arg) {
    unsigned seed = (unsigned)(size_t)arg * 7919u + 1;
    long failures = 0;
    int j, i;
    for (j = 0; j < JOBS; ++j) {
        stress_context ctx;
        sepconv_job job;
        int items = 1 + rand_r(&seed) % MAX_ITEMS;
        int threads = 1 + rand_r(&seed) % 6;
        memset(&ctx, 0, sizeof ctx);
        ctx.seed = seed;
        job.run = run_items;
        job.context = &ctx;
        job.items = items;
        job.next = 0;
        job.failed = 0;
        if (sepconv_pool_run(&job, threads) != 0) failures++;
        for (i = 0; i < MAX_ITEMS; ++i) {
            int count = __atomic_load_n(&ctx.counts[i], __ATOMIC_RELAXED);
            if (count != (i < items ? 1 : 0)) {
                fprintf(stderr, "job %d: item %d of %d computed %d times\n", j, i, items, count);
                failures++;
            }
        }
    }
    return (void*)failures;
}

int main(void) {
#if !SEPCONV_POOL
    puts("ok (no pool on this platform)");
    return 0;
#else
    pthread_t threads[CALLERS];
    long total = 0;
    int i;
    for (i = 0; i < CALLERS; ++i) pthread_create(&threads[i], NULL, caller, (void*)(size_t)(i + 1));
    for (i = 0; i < CALLERS; ++i) {
        void* result;
        pthread_join(threads[i], &result);
        total += (long)result;
    }
    if (total != 0) {
        fprintf(stderr, "%ld failures\n", total);
        return 1;
    }
    printf("ok (%d workers)\n", sepconv_pool_size());
    return 0;
#endif
}
