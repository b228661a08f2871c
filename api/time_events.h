/* The scheduler of time-based events: a thread in every `allied serve` that announces, once per
 * occurrence, what the calendar makes happen (a deadline passed, an agreement ending). */
#ifndef ALLIED_TIME_EVENTS_H
#define ALLIED_TIME_EVENTS_H

/* Starts the scheduler thread (none if ALLIED_TIME_EVENTS=0). 0, or -1 after logging why. */
int time_events_start(void);
/* Wakes the scheduler, lets its current transaction end, and joins it. */
void time_events_stop(void);
#endif
