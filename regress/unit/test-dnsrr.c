/*
 * DNS record data (dnsrr.c): MX, TLSA and TXT as the mta reads them,
 * and the malformed data a hostile name server can send.
 */
#include <string.h>

#include "dnsrr.h"
#include "test.h"

#define RD(s)	(const unsigned char *)(s), sizeof(s) - 1

static void
test_mx(void)
{
	char		 name[DNSRR_MAX_NAME];
	uint16_t	 pref;

	test_begin("dnsrr: MX");
	test_assert(dnsrr_mx(RD("\0\x0a\x02mx\x07" "example\x03org\0"), &pref,
	    name, sizeof(name)) == 0 && pref == 10 &&
	    strcmp(name, "mx.example.org") == 0);
	/* A null MX (RFC 7505): preference 0, the root. */
	test_assert(dnsrr_mx(RD("\0\0\0"), &pref, name, sizeof(name)) == 0 &&
	    pref == 0 && name[0] == '\0');
	test_assert(dnsrr_mx(RD("\x01\x00\x03" "a_b\0"), &pref, name,
	    sizeof(name)) == 0 && pref == 256);
	/* Truncated, overlong, compressed, trailing bytes, odd bytes. */
	test_assert(dnsrr_mx(RD("\0\x0a"), &pref, name, sizeof(name)) == -1);
	test_assert(dnsrr_mx(RD("\0\x0a\x05mx\0"), &pref, name,
	    sizeof(name)) == -1);
	test_assert(dnsrr_mx(RD("\0\x0a\xc0\x0c"), &pref, name,
	    sizeof(name)) == -1);
	test_assert(dnsrr_mx(RD("\0\x0a\x02mx\0x"), &pref, name,
	    sizeof(name)) == -1);
	test_assert(dnsrr_mx(RD("\0\x0a\x02m.\0"), &pref, name,
	    sizeof(name)) == -1);
	test_assert(dnsrr_mx(RD("\0\x0a\x02m\0\0"), &pref, name,
	    sizeof(name)) == -1);
	test_assert(dnsrr_mx(RD("\0\x0a\x02mx\x02mx\0"), &pref, name, 5) ==
	    -1);
	test_end();
}

static void
test_tlsa(void)
{
	struct tlsa_rec	 t;
	unsigned char	 rd[3 + 64];

	test_begin("dnsrr: TLSA");
	memset(rd, 0xab, sizeof(rd));
	rd[0] = 3, rd[1] = 1, rd[2] = 1;
	test_assert(dnsrr_tlsa(rd, 35, &t) == 1 && t.usage == 3 &&
	    t.selector == 1 && t.mtype == 1 && t.len == 32 &&
	    t.data[31] == 0xab);
	rd[0] = 2, rd[1] = 0, rd[2] = 2;
	test_assert(dnsrr_tlsa(rd, 67, &t) == 1 && t.len == 64);
	/* Usable only: not PKIX usages, not full data, lengths that fit. */
	rd[0] = 1;
	test_assert(dnsrr_tlsa(rd, 67, &t) == 0);
	rd[0] = 3, rd[2] = 0;
	test_assert(dnsrr_tlsa(rd, 67, &t) == 0);
	rd[2] = 1;
	test_assert(dnsrr_tlsa(rd, 34, &t) == 0);
	test_assert(dnsrr_tlsa(rd, 67, &t) == 0);
	rd[1] = 2;
	test_assert(dnsrr_tlsa(rd, 35, &t) == 0);
	test_assert(dnsrr_tlsa(rd, 3, &t) == -1);
	test_end();
}

static void
test_txt(void)
{
	char	 out[16];

	test_begin("dnsrr: TXT");
	test_assert(dnsrr_txt(RD("\x03" "abc\x02" "de"), out, sizeof(out)) ==
	    0 && strcmp(out, "abcde") == 0);
	test_assert(dnsrr_txt(RD("\0"), out, sizeof(out)) == 0 &&
	    out[0] == '\0');
	test_assert(dnsrr_txt(RD("\x05" "ab"), out, sizeof(out)) == -1);
	test_assert(dnsrr_txt(RD("\x03" "a\0c"), out, sizeof(out)) == -1);
	/* Exactly what fits, and one byte more. */
	test_assert(dnsrr_txt(RD("\x0f" "0123456789abcde"), out,
	    sizeof(out)) == 0);
	test_assert(dnsrr_txt(RD("\x0f" "0123456789abcde\x01" "f"), out,
	    sizeof(out)) == -1);
	test_end();
}

int
main(void)
{
	test_mx();
	test_tlsa();
	test_txt();
	return test_exit();
}
