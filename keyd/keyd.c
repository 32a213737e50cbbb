/*
 * keyd: the one process that holds the TLS private keys. smtpd and
 * imapd serve TLS with the certificates only and send it each
 * handshake's signature to make (tls_remote.c); it has no other peer,
 * no file and no network, and runs jailed in the empty directory.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "keys.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "tls.h"
#include "util.h"

/* A certificate waiting for its key, within a config slice. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	char			 name[256];
	int			 certfd;
};
static TAILQ_HEAD(, pending)	 pendings = TAILQ_HEAD_INITIALIZER(pendings);

static uint64_t			 nsigned, nrefused;

static void
keyd_conf(struct imsg *imsg)
{
	struct msg_reader	 r;
	struct pending		*p;
	char			 name[256], err[256];

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, name, sizeof(name));
	if (msg_end(&r) == -1)
		fatalx("bad %s", imsg_type_name(imsg->hdr.type));
	if (imsg->hdr.type == IMSG_CONF_PKI_CERT) {
		p = xcalloc(1, sizeof(*p));
		(void)osms_strlcpy(p->name, name, sizeof(p->name));
		p->certfd = imsg_take_fd(imsg);
		TAILQ_INSERT_TAIL(&pendings, p, entry);
		return;
	}
	if (imsg->hdr.type != IMSG_CONF_PKI_KEY)
		fatalx("unexpected %s", imsg_type_name(imsg->hdr.type));
	TAILQ_FOREACH(p, &pendings, entry)
		if (strcmp(p->name, name) == 0)
			break;
	if (p == NULL)
		fatalx("pki key without certificate");
	TAILQ_REMOVE(&pendings, p, entry);
	if (keys_add(name, p->certfd, imsg_take_fd(imsg), err,
	    sizeof(err)) == -1)
		log_warnx("pki %s: %s; handshakes with it fail", name, err);
	free(p);
}

static void
keyd_conf_end(int reload)
{
	struct pending	*p;

	(void)reload;
	while ((p = TAILQ_FIRST(&pendings)) != NULL) {
		TAILQ_REMOVE(&pendings, p, entry);
		(void)close(p->certfd);
		free(p);
	}
	keys_apply();
}

static void
keyd_sign(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct msg		 m;
	const void		*id, *in;
	unsigned char		 out[TLS_SIGN_MAX];
	size_t			 idlen = 0, inlen = 0, outlen = sizeof(out);
	uint32_t		 op, padding;

	msg_reader_init(&r, imsg);
	(void)msg_get_data(&r, &id, &idlen);
	(void)msg_get_u32(&r, &op);
	(void)msg_get_u32(&r, &padding);
	(void)msg_get_data(&r, &in, &inlen);
	if (msg_end(&r) == -1 || idlen != TLS_KEYID_LEN ||
	    inlen > TLS_SIGN_MAX) {
		channel_bad_message(ch, imsg, "bad payload");
		return;
	}
	msg_init(&m, IMSG_KEY_SIGNED, imsg->hdr.id);
	if (keys_sign(id, (int)op, (int)padding, in, inlen, out,
	    &outlen) == 0) {
		msg_add_data(&m, out, outlen);
		nsigned++;
	} else {
		msg_add_data(&m, NULL, 0);
		nrefused++;
	}
	(void)channel_send(ch, &m);
}

static void
keyd_dispatch_peer(struct channel *ch, struct imsg *imsg)
{
	if (imsg->hdr.type == IMSG_KEY_SIGN)
		keyd_sign(ch, imsg);
	else
		channel_bad_message(ch, imsg, "unexpected message");
}

static void
keyd_state(char *buf, size_t size)
{
	(void)snprintf(buf, size, "%zu keys, %llu signatures, %llu refused",
	    keys_count(), (unsigned long long)nsigned,
	    (unsigned long long)nrefused);
}

static const struct proc_ops keyd_ops = {
	.role = ROLE_KEYD,
	.conf = keyd_conf,
	.conf_end = keyd_conf_end,
	.dispatch_peer = keyd_dispatch_peer,
	.state = keyd_state,
};

int
main(int argc, char **argv)
{
	proc_main(&keyd_ops, argc, argv);
}
