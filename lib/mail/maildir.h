/*
 * Delivery into a Maildir (and Maildir++ folder) under the mail store
 * root, safely and exactly once.
 *
 * Every path is resolved one component at a time from the store root
 * with O_NOFOLLOW, so neither a symbolic link in a user's Maildir nor a
 * hostile path from the directory writes outside the store. A message is
 * written to tmp/, fsync'd, linked into new/ under a name the caller
 * derives from the queue id and the recipient, and the directory is
 * fsync'd; a second delivery under the same name finds the first.
 */
#ifndef OSMS_MAILDIR_H
#define OSMS_MAILDIR_H

#include <stddef.h>
#include <stdint.h>

#define MAILDIR_MAX_PATH	1024
#define MAILDIR_MAX_NAME	200

enum maildir_result {
	MAILDIR_OK,		/* delivered now */
	MAILDIR_DUPLICATE,	/* an earlier delivery under this name exists */
	MAILDIR_TEMPFAIL,	/* try again later (I/O error, disk full) */
	MAILDIR_OVERQUOTA,	/* the Maildir++ quota would be exceeded */
	MAILDIR_PERMFAIL,	/* bad path, not a Maildir, symlink ... */
};

struct maildir_delivery {
	int		 rootfd;	/* the mail store root, O_DIRECTORY */
	/*
	 * Relative path of the Maildir below the root, such as
	 * "example.test/alice" or "example.test/alice/.Lists". Components
	 * must not be empty, ".", "..", hold a control byte, or be longer
	 * than 255 bytes; the whole is at most MAILDIR_MAX_PATH.
	 */
	const char	*path;
	int		 create;	/* make missing directories (0700) */
	/* The message, read from offset 0 to its end (pread, so the
	 * caller's offset is not moved). Lines end in CRLF; they are
	 * stored with LF, as Maildir readers expect. */
	int		 msgfd;
	/* Header lines to put first ("Return-Path: <a@b>\r\n..."), or
	 * NULL; CRLF ends become LF like the rest. */
	const char	*prepend;
	/*
	 * The unique name: [A-Za-z0-9._-] only (no ':', ',' or '/'), at
	 * most MAILDIR_MAX_NAME bytes. The caller derives it from the
	 * queue id and recipient, so a redelivery uses the same name. The
	 * file in new/ is "<name>,S=<size>,W=<size with CRLF ends>".
	 */
	const char	*name;
	/*
	 * Look for an earlier copy under any of the names it may have now
	 * ("name", "name,S=...", either with ":2,FLAGS" in cur/): costs a
	 * scan of new/ and cur/, so the caller asks for it only when a
	 * previous attempt may have delivered (after a crash). Otherwise
	 * new/ is checked for the bare name and for the same name with the
	 * same sizes.
	 */
	int		 check_dup;
	/* Maildir++ quota in bytes and messages, 0 for none. When set,
	 * maildirsize is read (created if missing) and updated. */
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
};

/*
 * Deliver. *errstr explains anything but MAILDIR_OK/DUPLICATE; the size
 * of what was written goes to *written when not NULL.
 */
enum maildir_result maildir_deliver(const struct maildir_delivery *,
		    uint64_t *written, const char **errstr);

/*
 * The Maildir++ quota file, "maildirsize" in the Maildir mdfd (the top
 * of the tree: it counts every folder). read: 0 with the limits of its
 * first line (0 when absent) and the usage, or -1 when it is missing,
 * not a regular file, longer than Maildir++ allows or malformed, and
 * must be recalculated. write: a fresh file as tmpname in tmpfd (a
 * tmp/ directory on the same file system), renamed over the old one;
 * 0 or -1. add: append "<bytes> <msgs>" (negative when messages go);
 * on failure the file is removed, so that the next reader
 * recalculates.
 */
int		 maildir_quota_read(int mdfd, uint64_t *qbytes,
		    uint64_t *qmsgs, int64_t *bytes, int64_t *msgs);
int		 maildir_quota_write(int mdfd, int tmpfd, const char *tmpname,
		    uint64_t qbytes, uint64_t qmsgs, int64_t bytes,
		    int64_t msgs);
void		 maildir_quota_add(int mdfd, int64_t bytes, int64_t msgs);

/*
 * Write the message read from msgfd (from offset 0, CRLF turned into
 * LF as delivery does) as tmpfd/name (a valid unique name; a stale
 * entry there is replaced), fsync'd, for a reader that stores a
 * message itself (IMAP APPEND). Its size and its size with CRLF line
 * ends back. Nothing is left on failure.
 */
enum maildir_result maildir_write_tmp(int tmpfd, const char *name,
		    int msgfd, uint64_t *size, uint64_t *wire_size,
		    const char **errstr);

/* 1 if name is acceptable as a unique name. */
int		 maildir_name_valid(const char *);
/* 1 if path is acceptable as a relative Maildir path. */
int		 maildir_path_valid(const char *);

#endif
