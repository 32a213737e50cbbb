/*
 * A small pool of worker threads for blocking disk work (fsync above
 * all), so that a role's event loop goes on while the disk flushes, and
 * several flushes are in flight at once.
 *
 * A job's work function runs in a worker and must touch only its own
 * argument and thread-safe calls; its done function runs afterwards in
 * the event loop, where the role's state may be changed.
 */
#ifndef OSMS_WORKQ_H
#define OSMS_WORKQ_H

typedef void (*workq_fn)(void *);

/* Start n workers, reporting to osms_evbase. */
void	 workq_init(int n);
/* Queue a job; done(arg) runs in the event loop when work(arg) is over. */
void	 workq_push(workq_fn work, workq_fn done, void *arg);
/* Jobs queued or running. */
unsigned workq_pending(void);

#endif
