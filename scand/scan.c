/*
 * scand: one libclamav engine, and scans with it (scan.h).
 *
 * Everything a message holds is taken apart (MIME, base64,
 * quoted-printable, uuencode, archives, documents), within limits; a
 * limit that is hit is never "clean": libclamav's alert on exceeded
 * limits is on, and that alert is reported as unscannable. So are
 * encrypted archives (what they hold cannot be seen) and files that
 * libclamav cut at the size limit without an alert. A scan also has a
 * time limit, so a crafted archive cannot hold a worker forever.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clamav.h>

#include "scan.h"
#include "util.h"

#define SCAN_MAX_TIME_MS	60000	/* then it is unscannable */
#define SCAN_CUT_SLACK		(64 * 1024)	/* see inspect() */
#define SCAN_LIMIT_NAME		"Heuristics.Limits.Exceeded"
#define SCAN_CUT_NAME		SCAN_LIMIT_NAME ".MaxFileSize"
#define SCAN_ENCRYPTED_NAME	"Heuristics.Encrypted."

struct scan_engine {
	struct cl_engine	*cl;
	pthread_mutex_t		 lock;
	unsigned		 refs;
	unsigned		 signatures;
	uint64_t		 max_filesize;
	char			 version[64];
};

/* One scan's own state, for the callbacks. */
struct scan_ctx {
	char		 name[SCAN_MAX_VIRUS];	/* the first find */
	uint64_t	 max_filesize;
	int		 cut;		/* a file inside may have been cut */
};

/* The name of a find, into the scan's own buffer: libclamav 1.x does not
 * always return the name of a heuristic alert from the scan call. */
static void
found(int fd, const char *virname, void *context)
{
	struct scan_ctx	*c = context;

	(void)fd;
	if (c != NULL && c->name[0] == '\0' && virname != NULL)
		(void)osms_strlcpy(c->name, virname, sizeof(c->name));
}

/*
 * libclamav writes a file it takes out of a zip only up to max-file-size
 * and scans that piece as if it were all (unzip.c trims its output with
 * no alert), so a virus after the limit would pass as clean. A file
 * inside the message that ends within SCAN_CUT_SLACK of the limit may
 * be such a piece (libclamav writes in pieces of BUFSIZ): the scan
 * stops, and the message is unscannable. Under a max-file-size of less
 * than the slack, every file inside is.
 */
static cl_error_t
inspect(int fd, const char *type, const char **ancestors, size_t parent_size,
    const char *file_name, size_t size, const char *buffer, uint32_t level,
    uint32_t attributes, void *context)
{
	struct scan_ctx	*c = context;

	(void)fd;
	(void)type;
	(void)ancestors;
	(void)parent_size;
	(void)file_name;
	(void)buffer;
	(void)attributes;
	if (c == NULL || level == 0 || c->max_filesize == 0 ||
	    (uint64_t)size + SCAN_CUT_SLACK <= c->max_filesize)
		return CL_CLEAN;
	c->cut = 1;
	return CL_VIRUS;
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
	    l->max_scantime != 0 ? l->max_scantime : SCAN_MAX_TIME_MS) !=
	    CL_SUCCESS ||
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
	cl_engine_set_clcb_file_inspection(e->cl, inspect);
	e->max_filesize = l->max_filesize;
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
	struct scan_ctx		 c;
	const char		*name = NULL;
	unsigned long		 blocks = 0;
	cl_error_t		 rc;

	memset(&opts, 0, sizeof(opts));
	memset(&c, 0, sizeof(c));
	c.max_filesize = e->max_filesize;
	opts.general = CL_SCAN_GENERAL_HEURISTICS;
	opts.parse = ~0U;		/* every parser: mail, archives, ... */
	opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
	    CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE;
	rc = cl_scandesc_callback(fd, NULL, &name, &blocks, e->cl, &opts, &c);
	if (name == NULL && c.name[0] != '\0')
		name = c.name;
	/* libclamav counts in units of CL_COUNT_PRECISION bytes */
	*scanned = (uint64_t)blocks * CL_COUNT_PRECISION;
	if (c.cut) {
		(void)osms_strlcpy(virus, SCAN_CUT_NAME, size);
		return SCAN_UNSCANNABLE;
	}
	switch (rc) {
	case CL_CLEAN:
		virus[0] = '\0';
		return SCAN_CLEAN;
	case CL_VIRUS:
		(void)osms_strlcpy(virus, name != NULL ? name : "?", size);
		/* The alert for a limit or for encrypted content says
		 * nothing about the content. */
		if (strncmp(virus, SCAN_LIMIT_NAME, sizeof(SCAN_LIMIT_NAME) -
		    1) == 0 || strncmp(virus, SCAN_ENCRYPTED_NAME,
		    sizeof(SCAN_ENCRYPTED_NAME) - 1) == 0)
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
