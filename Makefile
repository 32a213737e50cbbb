# osms: the Open Security Mail Server.
#
#	make			build everything into build/
#	make check		run every test (SAN=1: under ASan and UBSan)
#	make check-faults	the crash and fault suite (regress/faults/)
#	make demo		run the whole server on loopback (var/demo/)
#	make demo-pg		the same, directory in a throwaway PostgreSQL
#	make fuzz		build the libFuzzer targets (clang)
#	make bench		run the benchmarks in bench/
#	make install		PREFIX=/usr/local DESTDIR=
#
# Non-recursive: each folder's .mk lists its sources; this file holds the
# flags and the rules. Everything is written under $(BUILD).

SAN		?= 0
ifeq ($(SAN),1)
BUILD		?= build/san
else
BUILD		?= build
endif
PREFIX		?= /usr/local
DESTDIR		?=
SBINDIR		?= $(PREFIX)/sbin
LIBEXECDIR	?= $(PREFIX)/libexec/osms
SYSCONFDIR	?= /etc/osms
MANDIR		?= $(PREFIX)/share/man

CC		?= cc
BISON		?= bison
PKG_CONFIG	?= pkg-config
FUZZCC		?= clang

WARNINGS	:= -Wall -Wextra -Werror -Wstrict-prototypes \
		   -Wmissing-prototypes -Wshadow -Wcast-qual -Wpointer-arith \
		   -Wformat=2 -Wno-format-nonliteral -Wvla
BASE_CFLAGS	:= -std=c11 -D_GNU_SOURCE -g -fPIE -fstack-protector-strong \
		   -DOSMS_LIBEXECDIR='"$(LIBEXECDIR)"' \
		   -DOSMS_SYSCONFDIR='"$(SYSCONFDIR)"'
ifeq ($(SAN),1)
BASE_CFLAGS	+= -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined
BASE_LDFLAGS	:= -fsanitize=address,undefined
else
BASE_CFLAGS	+= -O2 -D_FORTIFY_SOURCE=2
BASE_LDFLAGS	:=
endif
BASE_LDFLAGS	+= -pie -Wl,-z,relro,-z,now -Wl,--as-needed

# V=1 shows the full commands.
ifeq ($(V),1)
Q		:=
else
Q		:= @
endif

OBJ		:= $(BUILD)/obj
GEN		:= $(BUILD)/gen

# Objects depend on the settings compiled into them: a change of PREFIX,
# CC or CFLAGS rebuilds. Not for clean, which removes the stamp anyway.
FLAGS_STAMP	:= $(BUILD)/.flags
FLAGS_ID	:= $(CC) $(PREFIX) $(LIBEXECDIR) $(SYSCONFDIR) $(CFLAGS) \
		   $(CPPFLAGS) $(LDFLAGS) SAN=$(SAN)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
$(shell mkdir -p $(BUILD) && \
    (printf '%s\n' '$(FLAGS_ID)' | cmp -s - $(FLAGS_STAMP) || \
     printf '%s\n' '$(FLAGS_ID)' > $(FLAGS_STAMP)))
endif

# Expanded lazily, so that "make demo" can install packages first.
pkg_cflags	 = $(if $(strip $(1)),$(shell $(PKG_CONFIG) --cflags $(1)))
pkg_libs	 = $(if $(strip $(1)),$(shell $(PKG_CONFIG) --libs $(1)))

PROGRAMS	:=
ROLE_PROGRAMS	:=
TESTS		:=
FUZZERS		:=

# $(call program,output,sources,include dirs,pkg-config modules)
# One program: its objects see only the listed include folders, and it
# links only the listed libraries.
define program
$(1)_OBJS := $$(patsubst %.c,$$(OBJ)/%.o,$(2))
$$($(1)_OBJS): PROG_INC := $(foreach d,$(3),-I$(d))
$$($(1)_OBJS): PROG_PKGS := $(4)
$(1): $$($(1)_OBJS) $$(LIBOSMS)
	@mkdir -p $$(@D)
	@echo "  LD    $$@"
	$$(Q)$$(CC) $$(BASE_LDFLAGS) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$(LIBOSMS) \
	    $$(call pkg_libs,$(4) $$(LIBOSMS_PKGS)) $$(LDLIBS)
endef

all: deps-check programs

include lib/lib.mk
include osmsd/osmsd.mk
include smtpd/smtpd.mk
include imapd/imapd.mk
include authd/authd.mk
include cryptod/cryptod.mk
include scand/scand.mk
include checkd/checkd.mk
include keyd/keyd.mk
include regress/regress.mk

programs: $(PROGRAMS) $(ROLE_PROGRAMS)

$(OBJ)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC    $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(WARNINGS) $(CFLAGS) $(CPPFLAGS) $(PROG_INC) \
	    $(call pkg_cflags,$(PROG_PKGS)) -MMD -MP -c -o $@ $<

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# Every library comes through pkg-config; say clearly what is missing.
DEPS_PKGS	:= openssl libevent libevent_openssl gpgme libclamav libpq \
		   libsasl2 libseccomp libunbound opendkim
# Libraries without a pkg-config file: their headers.
DEPS_HEADERS	:= spf2/spf.h opendmarc/dmarc.h
deps-check:
	@missing=""; \
	for p in $(DEPS_PKGS); do \
		$(PKG_CONFIG) --exists $$p || missing="$$missing $$p"; \
	done; \
	for h in $(DEPS_HEADERS); do \
		[ -f /usr/include/$$h ] || missing="$$missing $$h"; \
	done; \
	command -v $(BISON) >/dev/null || missing="$$missing bison"; \
	if [ -n "$$missing" ]; then \
		echo "missing build dependencies:$$missing" >&2; \
		echo "run 'scripts/deps.sh' as root to install them" >&2; \
		exit 1; \
	fi

deps:
	@scripts/deps.sh

check: deps
	@$(MAKE) --no-print-directory all tests
	@BUILD=$(BUILD) SAN=$(SAN) python3 regress/run.py

# Kills roles and the whole tree under load, stops PostgreSQL, fills
# the spool, spoils Maildirs and queue files (root; a few minutes).
check-faults: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) SAN=$(SAN) python3 regress/run.py --dir faults

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

demo-pg: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh --pg

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run

# cppcheck, then clang-tidy (its checks are in .clang-tidy) on every
# source file but the generated parser, with the include folders of all
# roles and the flags of all libraries; conf.c needs the parser's header.
# One file per clang-tidy run: clang-tidy 14 reports false va_list errors
# in the second and later files of one run (LLVM bug 41311).
CLANG_TIDY	?= clang-tidy
LINT_DIRS	:= lib lib/mail osmsd smtpd imapd authd cryptod scand checkd keyd
LINT_SRCS	 = $(sort $(wildcard $(addsuffix /*.c,$(LINT_DIRS))))
LINT_FLAGS	 = -std=c11 -D_GNU_SOURCE $(addprefix -I,$(LINT_DIRS) $(GEN)) \
		   $(call pkg_cflags,$(DEPS_PKGS) $(ALL_LIB_PKGS))

lint: $(GEN)/parse.h
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --std=c11 --inline-suppr -D__GNUC__ -D_GNU_SOURCE \
	    --include=/usr/include/x86_64-linux-gnu/sys/queue.h \
	    -Ilib -Ilib/mail -I$(GEN) lib osmsd smtpd imapd authd cryptod scand \
	    checkd keyd
	@printf '%s\n' $(LINT_SRCS) | xargs -P2 -I{} sh -c 'echo "  TIDY  $$1"; \
	    out=$$($(CLANG_TIDY) --quiet "$$1" -- $(LINT_FLAGS) 2>&1) || \
	    { printf "%s\n" "$$out"; exit 1; }' sh {}

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(BUILD)/osmsd $(BUILD)/osmsctl $(DESTDIR)$(SBINDIR)
	install -m 0755 $(ROLE_PROGRAMS) $(DESTDIR)$(LIBEXECDIR)
	install -m 0644 lib/mail/osmsd.conf.5 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 osmsd/osmsd.8 osmsd/osmsctl.8 $(DESTDIR)$(MANDIR)/man8
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/osmsd.conf ]; then \
		install -m 0600 etc/osmsd.conf $(DESTDIR)$(SYSCONFDIR); fi
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		$(DESTDIR)$(SBINDIR)/osmsd -U; fi

clean:
	rm -rf build

.PHONY: all programs deps deps-check check check-faults demo demo-pg bench \
	lint install clean tests fuzz
