/*
 * Delivery status notifications (RFC 3464): the bounce sent to a sender
 * when a destination failed for good, and the warning sent when it has
 * waited in the queue for long.
 */
#ifndef OSMS_DSN_H
#define OSMS_DSN_H

#include <stdint.h>

#include "envelope.h"

/* Above this the original message is returned as headers only. */
#define DSN_MAX_RETURN	(1024 * 1024)

enum dsn_action {
	DSN_FAILED,		/* the destination failed for good */
	DSN_DELAYED,		/* it is still being retried */
};

/*
 * Write the DSN for env's destination `dest` to fd, with CRLF line ends:
 * a human part, the message/delivery-status part, and the original
 * message (or its headers, if RET=HDRS, it is large, or the DSN only
 * says "delayed") read from contentfd. retry_until: the end of the
 * retries, for DSN_DELAYED. *size gets the bytes written. -1 and
 * *errstr on failure.
 */
int	 dsn_write(int fd, const struct envelope *env, size_t dest,
	    enum dsn_action action, int64_t retry_until, int contentfd,
	    const char *hostname, uint64_t *size, const char **errstr);

#endif
