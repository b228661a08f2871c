/* Background threads that sleep and stop on request (server/loop.h). */
#include "server/loop.h"
#include "server/util.h"

int loop_start(struct loop *l, void *(*fn)(void *), void *arg) {
    atomic_store(&l->stopping, false);
    if (pthread_create(&l->thread, NULL, fn, arg) != 0) return -1;
    l->running = true;
    return 0;
}

void loop_stop(struct loop *l) {
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->stopping, true);
    pthread_cond_broadcast(&l->wake);
    pthread_mutex_unlock(&l->lock);
    if (l->running) pthread_join(l->thread, NULL);
    l->running = false;
}

void loop_nap(struct loop *l, long ms) {
    struct timespec until = realtime_after_ms(ms);
    pthread_mutex_lock(&l->lock);
    if (!atomic_load(&l->stopping)) pthread_cond_timedwait(&l->wake, &l->lock, &until);
    pthread_mutex_unlock(&l->lock);
}

bool loop_stopping(struct loop *l) {
    return atomic_load(&l->stopping);
}
