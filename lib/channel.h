/*
 * A channel is an imsg stream to one other process, driven by libevent.
 * It knows both ends' roles and checks every incoming message against
 * the catalogue before the owner sees it.
 *
 * What a protocol violation (a malformed frame, a message the catalogue
 * does not allow, a payload that does not decode) does depends on the
 * channel: on the channel from the parent the reader dies, since its
 * parent is the source of truth; on every other channel the reader logs
 * it, marks the channel broken and closes it, and its closed callback
 * makes sure the sender is the one that pays (the parent kills a broken
 * child; a role reports a broken peer to the parent with IMSG_PEER_BAD).
 * Garbage kills only the sender.
 */
#ifndef OSMS_CHANNEL_H
#define OSMS_CHANNEL_H

#include <event2/event.h>
#include <event2/event_struct.h>

#include "imsg.h"
#include "msg.h"
#include "role.h"

/* The event base every osms process runs on. */
extern struct event_base *osms_evbase;

struct channel;
typedef void (*channel_dispatch_cb)(struct channel *, struct imsg *);
typedef void (*channel_closed_cb)(struct channel *);

struct channel {
	struct imsgbuf		 ibuf;
	struct event		 ev;
	struct event		 closed_ev;
	short			 events;
	int			 open;
	int			 die_on_violation;
	int			 broken;	/* closed for a violation */
	enum osms_role		 self;
	enum osms_role		 remote;
	channel_dispatch_cb	 dispatch;
	channel_closed_cb	 closed;
	void			*arg;
};

/*
 * Take ownership of fd (made non-blocking) and start reading. A channel
 * must stay allocated until its closed callback has run; allocate
 * channels that can be replaced on the heap and free them there.
 */
void	 channel_init(struct channel *, int fd, enum osms_role self,
	    enum osms_role remote, int die_on_violation, channel_dispatch_cb,
	    channel_closed_cb, void *arg);
/*
 * Stop all I/O and close the socket. The closed callback then runs once,
 * from the event loop, never inside this call: it is where the owner may
 * free the channel. Safe to call more than once and from a dispatch.
 */
void	 channel_close(struct channel *);
int	 channel_is_open(const struct channel *);

/* Queue a message; a channel whose peer does not read is closed. */
int	 channel_compose(struct channel *, uint32_t type, uint64_t id, int fd,
	    const void *, size_t);
int	 channel_send(struct channel *, struct msg *);

/* Dispatch whatever has arrived, without waiting: used before exit. */
void	 channel_drain(struct channel *);
/* Write everything queued now, blocking: used right before exit. */
void	 channel_flush_sync(struct channel *);

/*
 * Send a request and wait for its answer, blocking: for the one call
 * that cannot wait for the event loop, a TLS handshake's signature. The
 * answer must be reply_type with the request's id; anything else is a
 * violation. 0 and *reply (imsg_free it), or -1 (closed, timed out).
 */
int	 channel_call(struct channel *, struct msg *, uint32_t reply_type,
	    struct imsg *reply, int timeout_ms);
/* For a dispatch that found a payload it cannot decode. */
void	 channel_bad_message(struct channel *, const struct imsg *,
	    const char *why);

#endif
