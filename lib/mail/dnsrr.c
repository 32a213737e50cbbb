/*
 * DNS record data (dnsrr.h).
 */
#include <string.h>

#include "dnsrr.h"

/*
 * A name in wire format (RFC 1035 3.1), uncompressed as libunbound gives
 * rdata, that must fill the data exactly; as text into out. Only names
 * a host can have: letters, digits, '-' and '_'.
 */
static int
wire_name(const unsigned char *p, size_t len, char *out, size_t size)
{
	size_t	 i = 0, o = 0, l, k;

	for (;;) {
		if (i >= len)
			return -1;
		l = p[i++];
		if (l == 0)
			break;
		if (l > 63 || l > len - i || o + l + 2 > size)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (k = 0; k < l; k++) {
			unsigned char c = p[i + k];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -1;
			out[o++] = (char)c;
		}
		i += l;
	}
	if (i != len || size == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

int
dnsrr_mx(const unsigned char *rd, size_t len, uint16_t *pref, char *name,
    size_t size)
{
	if (len < 3)
		return -1;
	*pref = (uint16_t)(rd[0] << 8 | rd[1]);
	return wire_name(rd + 2, len - 2, name, size);
}

int
dnsrr_ptr(const unsigned char *rd, size_t len, char *name, size_t size)
{
	return wire_name(rd, len, name, size);
}

int
dnsrr_tlsa(const unsigned char *rd, size_t len, struct tlsa_rec *t)
{
	size_t	 n;

	if (len < 4)
		return -1;
	n = len - 3;
	/* RFC 7672 3.1.3: PKIX usages are not for SMTP; full data is
	 * allowed by RFC 6698 but not used here. */
	if ((rd[0] != 2 && rd[0] != 3) || rd[1] > 1 ||
	    !((rd[2] == 1 && n == 32) || (rd[2] == 2 && n == 64)))
		return 0;
	t->usage = rd[0];
	t->selector = rd[1];
	t->mtype = rd[2];
	memcpy(t->data, rd + 3, n);
	t->len = n;
	return 1;
}

int
dnsrr_txt(const unsigned char *rd, size_t len, char *out, size_t size)
{
	size_t	 i = 0, o = 0, l;

	if (size == 0)
		return -1;
	while (i < len) {
		l = rd[i++];
		if (l > len - i || l >= size - o ||
		    memchr(rd + i, '\0', l) != NULL)
			return -1;
		memcpy(out + o, rd + i, l);
		o += l;
		i += l;
	}
	out[o] = '\0';
	return 0;
}
