/*
 * SEARCH, SORT and THREAD over the messages of a folder (RFC 9051
 * 6.4.4, RFC 7162 MODSEQ, RFC 5256, RFC 5957). Pure: no I/O of its own.
 * The messages come through struct search_src, which cmd_search.c fills
 * from the store and the unit tests from strings.
 *
 * A message is only read when a key needs what is in it: flags, UIDs,
 * sequence numbers, sizes, INTERNALDATE and MODSEQ come from the index;
 * the header fields that SEARCH, SORT and THREAD use most (Date, From,
 * To, Cc, Bcc, Subject, Message-ID, References, In-Reply-To) come from
 * the cache when the source has one, else from the header of the file,
 * and are put in the cache then; other HEADER fields need the header,
 * BODY and TEXT the whole message.
 *
 * Work is bounded: a SEARCH is linear in the messages and their size
 * (MIME_MAX_TEXT of text each at most), SORT is n log n, and THREAD
 * keeps at most SEARCH_THREAD_MAX_REFS references of a message and a
 * budget of SEARCH_THREAD_WALK steps for its loop checks.
 */
#ifndef IMAPD_SEARCH_H
#define IMAPD_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "imap_parser.h"

#define SEARCH_MAX_DEPTH	(4 * IMAP_MAX_DEPTH + 8) /* of a program */
#define SEARCH_THREAD_MAX_REFS	256	/* the last ones of a message */
#define SEARCH_THREAD_IDS_MAX	(64 * 1024 * 1024) /* ids kept, +64 each */
#define SEARCH_THREAD_WALK	(8 * 1024 * 1024) /* loop-check steps */

/* What the index knows of a message. */
struct search_msg {
	uint32_t	 uid;
	unsigned	 flags;		/* IMAP_FLAG_*, RECENT included */
	uint32_t	 keywords;	/* bit n: keyword n of the folder */
	uint64_t	 modseq;
	uint64_t	 size;		/* RFC822.SIZE */
	time_t		 internaldate;
};

/*
 * The messages: idx 0 .. count - 1, sequence number idx + 1, UIDs
 * ascending. The functions get arg.
 *
 * msg: the index data; -1 if the message is gone (it then matches
 *	nothing and sorts as if empty).
 * keyword: the bit of a keyword (compared without case), -1 if the
 *	folder has no such keyword.
 * open: the bytes of the message (LF or CRLF line ends), valid until
 *	release; -1 if they cannot be read (the message then has no
 *	header fields and no text).
 * cache_get, cache_put: NULL, or a cache of up to cache_max bytes a
 *	message, for this module's own record; get hands out data that
 *	stays valid until the next call on the source.
 * saved, nsaved: the "$" of SEARCHRES (RFC 5182) as UIDs; NULL if none.
 */
struct search_src {
	void		*arg;
	size_t		 count;
	int		(*msg)(void *, size_t idx, struct search_msg *);
	int		(*keyword)(void *, const char *);
	int		(*open)(void *, size_t idx, const char **data,
			    size_t *len);
	void		(*release)(void *, size_t idx);
	int		(*cache_get)(void *, size_t idx, const void **data,
			    size_t *len);
	void		(*cache_put)(void *, size_t idx, const void *data,
			    size_t len);
	size_t		 cache_max;
	const uint32_t	*saved;
	size_t		 nsaved;
};

struct search_result {
	size_t		*idx;		/* matching messages, ascending */
	size_t		 n;
	int		 modseq;	/* the program has a MODSEQ key */
};

/*
 * Run a program: 0 and the matches, or -1 and errstr (a program nested
 * beyond SEARCH_MAX_DEPTH; the parser never makes one).
 */
int	 search_run(const struct search_src *, const struct imap_search_prog *,
	    struct search_result *, const char **errstr);
void	 search_result_free(struct search_result *);

/* SORT: idx[0 .. n) in place, by the criteria, ties by sequence number. */
void	 search_sort(const struct search_src *, const struct imap_sort *,
	    size_t *idx, size_t n);

/*
 * THREAD of the messages idx[0 .. n) (ascending): the thread lists
 * "(1 2)(3 (4)(5))" appended to b, with sequence numbers or, with uid,
 * UIDs. 0, or -1 if b overflowed.
 */
int	 search_thread(const struct search_src *, enum imap_thread_alg,
	    const size_t *idx, size_t n, int uid, struct buf *b);

/*
 * Helpers, exported for the tests.
 *
 * search_fold_cp: the simple case folding of a code point (Latin,
 * Greek, Cyrillic, Armenian, Georgian and a few symbols; others are
 * their own fold). Never longer in UTF-8 than the code point itself.
 * search_fold: len bytes of UTF-8 folded into out (room for len + 1;
 * NUL-terminated); a byte that starts no valid sequence becomes 0xff,
 * which no needle holds. Returns the length.
 * search_subject_is_reply: 1 if extracting the RFC 5256 base subject of
 * the decoded subject removes a "Re:", "Fwd:", "(fwd)" or "[fwd: ...]".
 */
uint32_t search_fold_cp(uint32_t);
size_t	 search_fold(const char *, size_t, char *);
int	 search_subject_is_reply(const char *);

#endif
