/*
 * Delivery status notifications (RFC 3464): the bounce sent to a sender
 * when a destination failed for good.
 */
#ifndef OSMS_DSN_H
#define OSMS_DSN_H

#include <stdint.h>

#include "envelope.h"

/* Above this the original message is returned as headers only. */
#define DSN_MAX_RETURN	(1024 * 1024)

/*
 * Write the bounce for env's destination `dest` to fd, with CRLF line
 * ends: a human part, the message/delivery-status part, and the original
 * message (or its headers, if RET=HDRS or it is large) read from
 * contentfd. *size gets the bytes written. -1 and *errstr on failure.
 */
int	 dsn_write(int fd, const struct envelope *env, size_t dest,
	    int contentfd, const char *hostname, uint64_t *size,
	    const char **errstr);

#endif
