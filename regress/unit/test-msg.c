/*
 * Typed payloads (msg.c) and the message catalogue (osms_imsg.c).
 */
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "osms_imsg.h"
#include "role.h"
#include "test.h"

/* Turn a built message into a received one, without a socket. */
static void
as_imsg(struct msg *m, struct imsg *im)
{
	memset(im, 0, sizeof(*im));
	im->hdr.type = m->type;
	im->fd = -1;
	im->data = m->len ? m->buf : NULL;
	im->datalen = m->len;
}

static void
test_roundtrip(void)
{
	static struct msg	 m;
	struct msg_reader	 r;
	struct imsg		 im;
	uint32_t		 u;
	uint64_t		 v;
	int64_t			 s;
	char			 str[16];
	const void		*p;
	size_t			 len;

	test_begin("msg: fields come back in order, msg_end accepts");
	msg_init(&m, IMSG_PING, 7);
	msg_add_u32(&m, 0xdeadbeef);
	msg_add_u64(&m, 1ULL << 60);
	msg_add_s64(&m, -5);
	msg_add_str(&m, "hello");
	msg_add_data(&m, "\0\1\2", 3);
	msg_add_str(&m, "");
	test_assert(!m.overflow);
	as_imsg(&m, &im);
	msg_reader_init(&r, &im);
	test_assert(msg_get_u32(&r, &u) == 0 && u == 0xdeadbeef);
	test_assert(msg_get_u64(&r, &v) == 0 && v == 1ULL << 60);
	test_assert(msg_get_s64(&r, &s) == 0 && s == -5);
	test_assert(msg_get_str(&r, str, sizeof(str)) == 0);
	test_assert(strcmp(str, "hello") == 0);
	test_assert(msg_get_data(&r, &p, &len) == 0 && len == 3);
	test_assert(memcmp(p, "\0\1\2", 3) == 0);
	test_assert(msg_get_str(&r, str, sizeof(str)) == 0 && str[0] == '\0');
	test_assert(msg_end(&r) == 0);
	test_end();
}

static void
test_hostile(void)
{
	static struct msg	 m;
	struct msg_reader	 r;
	struct imsg		 im;
	uint32_t		 u;
	uint64_t		 v;
	char			 str[4];
	const void		*p;
	size_t			 len;

	test_begin("msg: short reads, leftovers, NULs and long strings fail");
	/* a u64 where only a u32 was sent */
	msg_init(&m, IMSG_PING, 0);
	msg_add_u32(&m, 1);
	as_imsg(&m, &im);
	msg_reader_init(&r, &im);
	test_assert(msg_get_u64(&r, &v) == -1);
	test_assert(msg_end(&r) == -1);

	/* bytes left over */
	msg_init(&m, IMSG_PING, 0);
	msg_add_u32(&m, 1);
	msg_add_u32(&m, 2);
	as_imsg(&m, &im);
	msg_reader_init(&r, &im);
	test_assert(msg_get_u32(&r, &u) == 0);
	test_assert(msg_end(&r) == -1);

	/* an error is sticky: "\2" does not fit in one byte */
	msg_reader_init(&r, &im);
	test_assert(msg_get_str(&r, str, 1) == -1);
	test_assert(msg_get_u32(&r, &u) == -1);
	test_assert(msg_end(&r) == -1);

	/* a string with a NUL inside */
	msg_init(&m, IMSG_PING, 0);
	msg_add_data(&m, "a\0b", 3);
	as_imsg(&m, &im);
	msg_reader_init(&r, &im);
	test_assert(msg_get_str(&r, str, sizeof(str)) == -1);
	test_assert(str[0] == '\0');

	/* a string longer than the destination */
	msg_init(&m, IMSG_PING, 0);
	msg_add_str(&m, "abcd");
	as_imsg(&m, &im);
	msg_reader_init(&r, &im);
	test_assert(msg_get_str(&r, str, sizeof(str)) == -1);

	/* a length prefix beyond the payload */
	msg_init(&m, IMSG_PING, 0);
	msg_add_u32(&m, 1000);
	msg_add_u32(&m, 0);
	as_imsg(&m, &im);
	msg_reader_init(&r, &im);
	test_assert(msg_get_data(&r, &p, &len) == -1);

	/* an empty message read as anything */
	msg_init(&m, IMSG_PING, 0);
	as_imsg(&m, &im);
	msg_reader_init(&r, &im);
	test_assert(msg_end(&r) == 0);
	test_assert(msg_get_u32(&r, &u) == -1);
	test_end();
}

static void
test_overflow(void)
{
	static struct msg	 m;
	static char		 big[IMSG_MAX_PAYLOAD];
	struct imsgbuf		 ib;
	int			 fd;

	test_begin("msg: a payload over the frame limit is refused");
	msg_init(&m, IMSG_PING, 0);
	msg_add_data(&m, big, sizeof(big) - 4);
	test_assert(!m.overflow);
	msg_add_u32(&m, 1);
	test_assert(m.overflow);
	imsgbuf_init(&ib, -1);
	fd = dup(0);
	msg_add_fd(&m, fd);
	test_assert(msg_compose(&m, &ib) == -1);
	test_assert(!imsgbuf_pending(&ib));
	/* the descriptor was closed, not leaked */
	test_assert(write(fd, "", 0) == -1);
	imsgbuf_clear(&ib);
	test_end();
}

static void
test_catalogue(void)
{
	uint32_t	 t, u;
	int		 unique = 1;

	test_begin("catalogue: names, purposes and who may send what");
	for (t = 1; t < IMSG_TYPE_COUNT; t++) {
		test_assert(strncmp(imsg_type_name(t), "IMSG_", 5) == 0);
		test_assert(strlen(imsg_type_purpose(t)) > 5);
		for (u = t + 1; u < IMSG_TYPE_COUNT; u++)
			if (strcmp(imsg_type_name(t), imsg_type_name(u)) == 0)
				unique = 0;
	}
	test_assert(unique);
	test_assert(strcmp(imsg_type_name(IMSG_TYPE_COUNT + 5),
	    "IMSG_UNKNOWN") == 0);
	test_assert(!imsg_allowed(IMSG_NONE, ROLE_PARENT, ROLE_SMTPD));
	test_assert(!imsg_allowed(IMSG_TYPE_COUNT, ROLE_PARENT, ROLE_SMTPD));
	test_assert(!imsg_allowed(IMSG_PING, ROLE_COUNT, ROLE_SMTPD));
	/* the parent configures; a child never does */
	test_assert(imsg_allowed(IMSG_CONF_START, ROLE_PARENT, ROLE_SMTPD));
	test_assert(!imsg_allowed(IMSG_CONF_START, ROLE_SMTPD, ROLE_QUEUE));
	test_assert(!imsg_allowed(IMSG_PEER, ROLE_QUEUE, ROLE_SMTPD));
	/* listeners go only to the network roles */
	test_assert(imsg_allowed(IMSG_CONF_LISTENER, ROLE_PARENT,
	    ROLE_IMAPD));
	test_assert(!imsg_allowed(IMSG_CONF_LISTENER, ROLE_PARENT,
	    ROLE_AUTHD));
	/* osmsctl reaches the parent only through control */
	test_assert(imsg_allowed(IMSG_CTL_STOP, ROLE_CLIENT, ROLE_CONTROL));
	test_assert(imsg_allowed(IMSG_CTL_STOP, ROLE_CONTROL, ROLE_PARENT));
	test_assert(!imsg_allowed(IMSG_CTL_STOP, ROLE_SMTPD, ROLE_PARENT));
	test_assert(!imsg_allowed(IMSG_CONF_START, ROLE_CLIENT,
	    ROLE_CONTROL));
	test_assert(!imsg_allowed(IMSG_HELLO, ROLE_CLIENT, ROLE_CONTROL));
	test_end();
}

static void
test_roles(void)
{
	int	 r, s;
	int	 sym = 1;

	test_begin("roles: names, users, symmetric links, no root roles");
	for (r = 0; r < ROLE_COUNT; r++) {
		test_assert(role_from_name(role_name((enum osms_role)r)) == r);
		if (role_info((enum osms_role)r)->program != NULL)
			test_assert(strcmp(role_info((enum osms_role)r)->user,
			    "root") != 0);
		for (s = 0; s < ROLE_COUNT; s++)
			if (role_linked((enum osms_role)r, (enum osms_role)s) !=
			    role_linked((enum osms_role)s, (enum osms_role)r))
				sym = 0;
	}
	test_assert(sym);
	test_assert(role_from_name("nobody") == -1);
	test_assert(role_info(ROLE_COUNT) == NULL);
	/* network roles hold no secrets; secret holders are not linked to
	 * the network except through narrow requests */
	test_assert(!role_info(ROLE_SMTPD)->secrets);
	test_assert(!role_info(ROLE_IMAPD)->secrets);
	test_assert(role_info(ROLE_AUTHD)->secrets);
	test_assert(role_info(ROLE_CRYPTOD)->secrets);
	test_assert(role_info(ROLE_SMTPD)->jail == JAIL_EMPTY);
	test_assert(role_info(ROLE_IMAPD)->jail == JAIL_EMPTY);
	test_assert(!role_linked(ROLE_IMAPD, ROLE_QUEUE));
	test_assert(!role_linked(ROLE_CONTROL, ROLE_SMTPD));
	test_assert(!role_linked(ROLE_SMTPD, ROLE_DELIVERY));
	test_end();
}

int
main(void)
{
	test_roundtrip();
	test_hostile();
	test_overflow();
	test_catalogue();
	test_roles();
	return test_exit();
}
