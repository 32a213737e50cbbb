/*
 * scand: one libclamav engine, and scans with it (scan.h).
 *
 * Everything a message holds is taken apart (MIME, base64,
 * quoted-printable, uuencode, archives, documents), within limits; a
 * limit that is hit is never "clean": libclamav's alert on exceeded
 * limits is on, and that alert is reported as unscannable. A scan also
 * has a time limit, so a crafted archive cannot hold a worker forever.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clamav.h>

#include "scan.h"
#include "util.h"

#define SCAN_MAX_TIME_MS	60000	/* then it is unscannable */

struct scan_engine {
	struct cl_engine	*cl;
	pthread_mutex_t		 lock;
	unsigned		 refs;
	unsigned		 signatures;
	char			 version[64];
};

/* The name of a find, into the scan's own buffer: libclamav 1.x does not
 * always return the name of a heuristic alert from the scan call. */
static void
found(int fd, const char *virname, void *context)
{
	char	*name = context;

	(void)fd;
	if (name != NULL && name[0] == '\0' && virname != NULL)
		(void)osms_strlcpy(name, virname, SCAN_MAX_VIRUS);
}

int
scan_init(char *err, size_t errsize)
{
	cl_error_t	 rc;

	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		(void)snprintf(err, errsize, "cl_init: %s", cl_strerror(rc));
		return -1;
	}
	return 0;
}

struct scan_engine *
scan_engine_load(const char *dir, const struct scan_limits *l,
    const char *tmpdir, char *err, size_t errsize)
{
	struct scan_engine	*e;
	cl_error_t		 rc;
	unsigned int		 sigs = 0;
	int			 fail;

	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->cl = cl_engine_new()) == NULL) {
		(void)snprintf(err, errsize, "out of memory");
		free(e);
		return NULL;
	}
	fail = cl_engine_set_num(e->cl, CL_ENGINE_MAX_SCANSIZE,
	    (long long)l->max_scansize) != CL_SUCCESS ||
	    cl_engine_set_num(e->cl, CL_ENGINE_MAX_FILESIZE,
	    (long long)l->max_filesize) != CL_SUCCESS ||
	    cl_engine_set_num(e->cl, CL_ENGINE_MAX_FILES,
	    l->max_files) != CL_SUCCESS ||
	    cl_engine_set_num(e->cl, CL_ENGINE_MAX_RECURSION,
	    l->max_recursion) != CL_SUCCESS ||
	    cl_engine_set_num(e->cl, CL_ENGINE_MAX_SCANTIME,
	    SCAN_MAX_TIME_MS) != CL_SUCCESS ||
	    /* Messages are unique: hashing each one for a cache of clean
	     * files costs more than it saves. */
	    cl_engine_set_num(e->cl, CL_ENGINE_DISABLE_CACHE, 1) !=
	    CL_SUCCESS ||
	    (tmpdir != NULL && cl_engine_set_str(e->cl, CL_ENGINE_TMPDIR,
	    tmpdir) != CL_SUCCESS);
	if (fail) {
		(void)snprintf(err, errsize, "cannot set the scan limits");
		goto bad;
	}
	if ((rc = cl_load(dir, e->cl, &sigs, CL_DB_STDOPT)) != CL_SUCCESS) {
		(void)snprintf(err, errsize, "cl_load %s: %s", dir,
		    cl_strerror(rc));
		goto bad;
	}
	if (sigs == 0) {
		(void)snprintf(err, errsize, "%s holds no signatures", dir);
		goto bad;
	}
	cl_engine_set_clcb_virus_found(e->cl, found);
	if ((rc = cl_engine_compile(e->cl)) != CL_SUCCESS) {
		(void)snprintf(err, errsize, "cl_engine_compile: %s",
		    cl_strerror(rc));
		goto bad;
	}
	e->signatures = sigs;
	(void)snprintf(e->version, sizeof(e->version), "ClamAV %s/%lld",
	    cl_retver(), cl_engine_get_num(e->cl, CL_ENGINE_DB_VERSION,
	    NULL));
	if (pthread_mutex_init(&e->lock, NULL) != 0) {
		(void)snprintf(err, errsize, "pthread_mutex_init");
		goto bad;
	}
	e->refs = 1;
	return e;
bad:
	cl_engine_free(e->cl);
	free(e);
	return NULL;
}

void
scan_engine_ref(struct scan_engine *e)
{
	(void)pthread_mutex_lock(&e->lock);
	e->refs++;
	(void)pthread_mutex_unlock(&e->lock);
}

void
scan_engine_unref(struct scan_engine *e)
{
	unsigned	 left;

	if (e == NULL)
		return;
	(void)pthread_mutex_lock(&e->lock);
	left = --e->refs;
	(void)pthread_mutex_unlock(&e->lock);
	if (left > 0)
		return;
	cl_engine_free(e->cl);
	(void)pthread_mutex_destroy(&e->lock);
	free(e);
}

unsigned
scan_engine_signatures(const struct scan_engine *e)
{
	return e->signatures;
}

const char *
scan_engine_version(const struct scan_engine *e)
{
	return e->version;
}

enum scan_verdict
scan_fd(struct scan_engine *e, int fd, char *virus, size_t size,
    uint64_t *scanned)
{
	struct cl_scan_options	 opts;
	const char		*name = NULL;
	char			 cbname[SCAN_MAX_VIRUS] = "";
	unsigned long		 blocks = 0;
	cl_error_t		 rc;

	memset(&opts, 0, sizeof(opts));
	opts.general = CL_SCAN_GENERAL_HEURISTICS;
	opts.parse = ~0U;		/* every parser: mail, archives, ... */
	opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	rc = cl_scandesc_callback(fd, NULL, &name, &blocks, e->cl, &opts,
	    cbname);
	if (name == NULL && cbname[0] != '\0')
		name = cbname;
	/* libclamav counts in units of CL_COUNT_PRECISION bytes */
	*scanned = (uint64_t)blocks * CL_COUNT_PRECISION;
	switch (rc) {
	case CL_CLEAN:
		virus[0] = '\0';
		return SCAN_CLEAN;
	case CL_VIRUS:
		(void)osms_strlcpy(virus, name != NULL ? name : "?", size);
		/* The alert for a limit says nothing about the content. */
		if (strncmp(virus, "Heuristics.Limits.Exceeded", 26) == 0)
			return SCAN_UNSCANNABLE;
		return SCAN_VIRUS;
	case CL_ETIMEOUT:
	case CL_EMAXREC:
	case CL_EMAXSIZE:
	case CL_EMAXFILES:
		(void)osms_strlcpy(virus, cl_strerror(rc), size);
		return SCAN_UNSCANNABLE;
	default:
		(void)osms_strlcpy(virus, cl_strerror(rc), size);
		return SCAN_ERROR;
	}
}
