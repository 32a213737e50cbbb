/*
 * Small generic helpers: bounded strings, checked allocation, numbers.
 * Knows nothing about mail.
 */
#ifndef OSMS_UTIL_H
#define OSMS_UTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Copy/append at most size-1 bytes, always NUL-terminate; return strlen(src)
 * (resp. the length tried), so truncation is "ret >= size". */
size_t	 osms_strlcpy(char *, const char *, size_t);
size_t	 osms_strlcat(char *, const char *, size_t);
/* snprintf that reports truncation as -1. */
int	 osms_snprintf(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* Allocation failures are fatal: a daemon out of memory cannot go on. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Parse a decimal integer in [min, max]; on failure return 0 and set
 * *errstr to "invalid", "too small" or "too large". */
long long str_to_num(const char *, long long, long long, const char **);

/*
 * Length of the well-formed UTF-8 sequence starting at s (RFC 3629 4: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. Reads no
 * further than a byte that ends the sequence, so a NUL is safe.
 */
size_t	 utf8_seq(const unsigned char *);
/* 1 if the string is well-formed UTF-8 (ASCII included). */
int	 utf8_valid(const char *);

/* 1 if the string holds a byte < 0x20 or 0x7f (CR, LF, NUL stop here). */
int	 str_has_ctl(const char *);
/* ASCII upper case to lower, in place (addresses, domains). */
void	 str_lower(char *);

/* 1 if word is one of the space-separated words of list (a SASL list). */
int	 word_in_list(const char *list, const char *word);
/* The next word of a list separated by spaces into buf, *list moved
 * past it: 1, 0 at the end, -1 if it does not fit. */
int	 list_next(const char **list, char *buf, size_t size);

/* Wipe memory that held a secret (not optimised away). */
void	 explicit_wipe(void *, size_t);

/*
 * Base64 (RFC 4648, with padding). encode: the length written (with a
 * NUL after it), or -1 if it does not fit. decode: strict (no white
 * space, padding only at the end, unused bits zero); -1 on bad input or
 * if it does not fit.
 */
int	 base64_encode(const void *, size_t, char *, size_t);
/* The key a client address is counted by in rate limits: "ip:" and its
 * IPv4 address, or its IPv6 /64, the least one site usually gets. */
void	 client_rate_key(const char *client, char *key, size_t size);
int	 base64_decode(const char *, void *, size_t, size_t *);

/* Write all of buf, through EINTR and short writes: 0, or -1 and errno
 * (EIO for a write that wrote nothing). */
int	 write_all(int, const void *, size_t);
/* The same at an offset, and reading all of len (EIO: the file ends). */
int	 pwrite_all(int, const void *, size_t, off_t);
int	 pread_all(int, void *, size_t, off_t);
/* 1 if h is whole header fields, each ended by CRLF, unfolded, with
 * nothing else that is not printable: what a role adds to a message
 * cannot break it. */
int	 header_fields_ok(const char *h);
/* 1 if s is printable but for folds ("\r\n\t"): a field's value. */
int	 folded_text_ok(const char *s);
/* Up to max bytes of a file as a string (cut at the first NUL if it has
 * one); the descriptor is closed. */
char	*read_fd_text(int, size_t max);

/* Days from 1970-01-01 to y-m-d (month 1-12), proleptic Gregorian. */
int64_t	 days_from_civil(int64_t y, int m, int d);

/* Close every descriptor from lowfd up (used before exec). */
void	 close_from(int);

/* "1d2h3m4s"-style rendering of a duration in seconds. */
void	 fmt_duration(char *, size_t, long long);

#endif
