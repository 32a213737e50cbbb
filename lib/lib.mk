# lib/: generic code (lib/) and mail-aware code (lib/mail/), one archive.

LIBOSMS		:= $(BUILD)/libosms.a
LIBOSMS_PKGS	:= libevent libevent_openssl openssl libseccomp
# Only the programs that hash passwords (authd, osmsctl) link these,
# and only the mail session links zlib (lib/iodeflate.c). Tests and
# fuzzers, which link every object, take them all.
PWHASH_PKGS	:= libargon2 libcrypt libcrypto
ZLIB_PKGS	:= zlib
# Only cryptod and osmsctl use OpenPGP (lib/mail/pgp.c).
PGP_PKGS	:= gpgme
ALL_LIB_PKGS	:= $(LIBOSMS_PKGS) $(PWHASH_PKGS) $(ZLIB_PKGS) $(PGP_PKGS) \
		   libunbound

LIB_SRCS	:= \
	lib/buf.c \
	lib/channel.c \
	lib/imsg.c \
	lib/idmap.c \
	lib/io.c \
	lib/iodeflate.c \
	lib/io_tls.c \
	lib/keycount.c \
	lib/landlock.c \
	lib/listener.c \
	lib/log.c \
	lib/msg.c \
	lib/netlist.c \
	lib/osms_imsg.c \
	lib/proc.c \
	lib/resolver.c \
	lib/role.c \
	lib/sandbox.c \
	lib/sysfilter.c \
	lib/tls.c \
	lib/tls_pair.c \
	lib/tls_remote.c \
	lib/util.c \
	lib/workq.c \
	lib/mail/addr.c \
	lib/mail/arc.c \
	lib/mail/authres.c \
	lib/mail/autocrypt.c \
	lib/mail/certstore.c \
	lib/mail/charsets.c \
	lib/mail/conf.c \
	lib/mail/dkim.c \
	lib/mail/dkimcanon.c \
	lib/mail/dnsrr.c \
	lib/mail/dsn.c \
	lib/mail/entity.c \
	lib/mail/envelope.c \
	lib/mail/imapstr.c \
	lib/mail/maildir.c \
	lib/mail/mime.c \
	lib/mail/mime7bit.c \
	lib/mail/mstore.c \
	lib/mail/mtasts.c \
	lib/mail/pgp.c \
	lib/mail/policy.c \
	lib/mail/pwhash.c \
	lib/mail/smime.c \
	lib/mail/smtp_cmd.c \
	lib/mail/smtp_reply.c \
	lib/mail/spamproto.c \
	lib/mail/spool.c \
	lib/mail/srs.c \
	lib/mail/userent.c \
	lib/mail/verdict.c

LIB_OBJS	:= $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRCS)) $(OBJ)/gen/parse.o

$(LIB_OBJS): PROG_INC := -Ilib -Ilib/mail -I$(GEN)
$(LIB_OBJS): PROG_PKGS := $(LIBOSMS_PKGS)

$(LIBOSMS): $(LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  AR    $@"
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $(LIB_OBJS)

# The config grammar. Bison's output is compiled with the same warnings.
$(GEN)/parse.c $(GEN)/parse.h &: lib/mail/parse.y
	@mkdir -p $(GEN)
	@echo "  BISON $<"
	$(Q)$(BISON) -Wall -Werror --defines=$(GEN)/parse.h -o $(GEN)/parse.c $<

$(OBJ)/gen/parse.o: $(GEN)/parse.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC    $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(WARNINGS) $(CFLAGS) $(CPPFLAGS) $(PROG_INC) \
	    -MMD -MP -c -o $@ $<

$(OBJ)/lib/mail/conf.o: $(GEN)/parse.h
