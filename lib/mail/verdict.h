/*
 * The fields in which the gateway gives its verdict on a message, as
 * the hostile message may already carry them: Authentication-Results
 * fields in our name (RFC 8601 section 5: only we may speak for us),
 * X-Osms-SMIME, and the tags the gateway puts in front of a Subject.
 * Each function reads the header only, within len.
 */
#ifndef OSMS_VERDICT_H
#define OSMS_VERDICT_H

#include <stddef.h>

#include "buf.h"

/*
 * Does the field at p (len bytes) have the name given with its colon
 * ("From:")? In any case, with white space before the colon or not:
 * the length up to the colon included, else 0.
 */
size_t	 verdict_field_name(const char *p, size_t len, const char *name);

/* 1 if the field (its name included, len bytes) is an
 * Authentication-Results field whose authserv-id is authserv_id. */
int	 verdict_authres_ours(const char *field, size_t len,
	    const char *authserv_id);

/*
 * msg without its Authentication-Results fields in authserv_id's name
 * and its fields named other ("X-Osms-SMIME:"; NULL: none), appended to
 * out: 1 if some were removed, 0 if none, -1 if out is full.
 */
int	 verdict_strip(const char *msg, size_t len, const char *authserv_id,
	    const char *other, struct buf *out);

/*
 * msg with tag ("[signed]" ..., "" for none) in front of its Subject,
 * after removing the gateway's tags the Subject had (a Subject is made
 * if there is none), appended to out: 1 if it differs from msg, 0 if
 * not (out untouched), -1 if out is full.
 */
int	 verdict_tag_subject(const char *msg, size_t len, const char *tag,
	    struct buf *out);

#endif
