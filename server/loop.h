/* A background thread of `allied serve` (a flusher, a pruner, a scheduler): it sleeps between
 * rounds and stops at once when asked, waking from its sleep. One struct per thread. */
#ifndef ALLIED_LOOP_H
#define ALLIED_LOOP_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct loop {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool stopping;
    bool running;
};
#define LOOP_INIT {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER}

/* Starts `fn(arg)` on its own thread. 0, or -1 if the thread could not be made. */
int loop_start(struct loop *l, void *(*fn)(void *), void *arg);
/* Asks the thread to stop, wakes it and waits for it to end (nothing if it never started). */
void loop_stop(struct loop *l);
/* Sleeps up to `ms` milliseconds, or less if loop_stop is called meanwhile. */
void loop_nap(struct loop *l, long ms);
/* True once loop_stop was called: the thread's rounds end. */
bool loop_stopping(struct loop *l);
#endif
