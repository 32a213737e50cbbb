/*
 * Worker threads for blocking disk work. Jobs wait in a list guarded by
 * a mutex; finished jobs go to a second list, and a byte on a pipe wakes
 * the event loop to run their done functions in order of completion.
 */
#include <sys/queue.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "util.h"
#include "workq.h"

struct job {
	TAILQ_ENTRY(job)	 entry;
	workq_fn		 work;
	workq_fn		 done;
	void			*arg;
};
TAILQ_HEAD(job_list, job);

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 ready = PTHREAD_COND_INITIALIZER;
static struct job_list	 todo = TAILQ_HEAD_INITIALIZER(todo);
static struct job_list	 finished = TAILQ_HEAD_INITIALIZER(finished);
static unsigned		 pending;
static int		 wakefd[2] = { -1, -1 };
static struct event	 ev_wake;

static void *
worker(void *unused)
{
	struct job	*j;
	char		 c = 0;

	(void)unused;
	for (;;) {
		if (pthread_mutex_lock(&lock) != 0)
			abort();
		while ((j = TAILQ_FIRST(&todo)) == NULL)
			if (pthread_cond_wait(&ready, &lock) != 0)
				abort();
		TAILQ_REMOVE(&todo, j, entry);
		(void)pthread_mutex_unlock(&lock);

		j->work(j->arg);

		if (pthread_mutex_lock(&lock) != 0)
			abort();
		TAILQ_INSERT_TAIL(&finished, j, entry);
		(void)pthread_mutex_unlock(&lock);
		/* A full pipe already holds a wake-up: nothing is lost. */
		while (write(wakefd[1], &c, 1) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

static void
workq_wake(evutil_socket_t fd, short ev, void *arg)
{
	struct job_list	 done = TAILQ_HEAD_INITIALIZER(done);
	struct job	*j;
	char		 buf[256];

	(void)ev;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (pthread_mutex_lock(&lock) != 0)
		abort();
	TAILQ_CONCAT(&done, &finished, entry);
	(void)pthread_mutex_unlock(&lock);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, entry);
		pending--;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

void
workq_init(int n)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	int		 i;

	if (pipe2(wakefd, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("workq: pipe");
	event_assign(&ev_wake, osms_evbase, wakefd[0], EV_READ | EV_PERSIST,
	    workq_wake, NULL);
	if (event_add(&ev_wake, NULL) == -1)
		fatal("workq: event_add");
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_attr_setstacksize(&attr, 256 * 1024) != 0)
		fatalx("workq: thread attributes");
	for (i = 0; i < n; i++)
		if ((errno = pthread_create(&t, &attr, worker, NULL)) != 0)
			fatal("workq: pthread_create");
	(void)pthread_attr_destroy(&attr);
}

void
workq_push(workq_fn work, workq_fn done, void *arg)
{
	struct job	*j = xmalloc(sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	if (pthread_mutex_lock(&lock) != 0)
		abort();
	TAILQ_INSERT_TAIL(&todo, j, entry);
	pending++;
	(void)pthread_cond_signal(&ready);
	(void)pthread_mutex_unlock(&lock);
}

unsigned
workq_pending(void)
{
	return pending;
}
