/*
 * scand's scanning: a compiled libclamav engine with osms's limits and
 * options, shared by the scan workers (reference counted, so a reload
 * swaps in a new engine while scans on the old one finish), and one
 * scan of a message given as a descriptor.
 */
#ifndef OSMS_SCAN_H
#define OSMS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "osms_imsg.h"

#define SCAN_MAX_VIRUS	128	/* a signature name */

struct scan_limits {
	uint64_t	 max_scansize;	/* bytes read in all, per message */
	uint64_t	 max_filesize;	/* bytes of one file inside it */
	uint32_t	 max_files;	/* files inside archives */
	uint32_t	 max_recursion;	/* archives in archives */
	uint32_t	 max_scantime;	/* ms of one scan; 0: scan.c's */
};

struct scan_engine;

/* enum scan_verdict: in osms_imsg.h, as it crosses to smtpd. */

/*
 * Load the signature databases in dir, apply limits, compile. NULL and
 * a reason in err on failure. libclamav must be initialised (scan_init).
 */
int	 scan_init(char *err, size_t errsize);
struct scan_engine *scan_engine_load(const char *dir,
	    const struct scan_limits *, const char *tmpdir, char *err,
	    size_t errsize);
void	 scan_engine_ref(struct scan_engine *);
void	 scan_engine_unref(struct scan_engine *);
/* Signatures loaded, and the databases' version ("daily 27000", or
 * the name of a test database). */
unsigned scan_engine_signatures(const struct scan_engine *);
const char *scan_engine_version(const struct scan_engine *);

/*
 * Scan the file open on fd (a whole message; mail, archives and
 * encodings are taken apart). virus gets the signature name for
 * SCAN_VIRUS, or why for SCAN_UNSCANNABLE and SCAN_ERROR. Thread-safe:
 * any number of scans may share an engine.
 */
enum scan_verdict scan_fd(struct scan_engine *, int fd, char *virus,
	    size_t size, uint64_t *scanned);

#endif
