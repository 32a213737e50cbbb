# regress/: unit tests (one program per regress/unit/test-*.c), fuzz
# targets (one per regress/fuzz/fuzz_*.c). The end-to-end scripts in
# regress/e2e/ need no build step.

UNIT_SRCS	:= $(sort $(wildcard regress/unit/test-*.c))
TESTS		:= $(patsubst regress/unit/%.c,$(BUILD)/regress/%,$(UNIT_SRCS))
TEST_HARNESS	:= $(OBJ)/regress/lib/test.o

$(TEST_HARNESS) $(patsubst %.c,$(OBJ)/%.o,$(UNIT_SRCS)): \
	PROG_INC := -Ilib -Ilib/mail -Iregress/lib -I$(GEN)
$(TEST_HARNESS) $(patsubst %.c,$(OBJ)/%.o,$(UNIT_SRCS)): \
	PROG_PKGS := $(LIBOSMS_PKGS)

$(BUILD)/regress/%: $(OBJ)/regress/unit/%.o $(TEST_HARNESS) $(LIBOSMS)
	@mkdir -p $(@D)
	@echo "  LD    $@"
	$(Q)$(CC) $(BASE_LDFLAGS) $(LDFLAGS) -o $@ $< $(EXTRA_OBJS) \
	    $(TEST_HARNESS) $(LIBOSMS) \
	    $(call pkg_libs,$(ALL_LIB_PKGS) $(EXTRA_PKGS)) \
	    $(LDLIBS)

# Unit tests of a role's own code link that code in too.
DIR_OBJS	:= $(OBJ)/authd/dir.o $(OBJ)/authd/table.o \
		   $(OBJ)/authd/table_pg.o
LOOKUP_OBJS	:= $(OBJ)/authd/lookup.o $(DIR_OBJS)
$(OBJ)/regress/unit/test-lookup.o $(OBJ)/regress/unit/test-table_pg.o \
    $(OBJ)/regress/unit/test-ratelimit.o: PROG_INC += -Iauthd
$(OBJ)/regress/unit/test-table_pg.o: PROG_PKGS += libpq
$(BUILD)/regress/test-lookup: $(LOOKUP_OBJS)
$(BUILD)/regress/test-lookup: EXTRA_OBJS := $(LOOKUP_OBJS)
$(BUILD)/regress/test-lookup: EXTRA_PKGS := libpq
$(BUILD)/regress/test-table_pg: $(DIR_OBJS)
$(BUILD)/regress/test-table_pg: EXTRA_OBJS := $(DIR_OBJS)
$(BUILD)/regress/test-table_pg: EXTRA_PKGS := libpq
IMAP_PARSER_OBJS := $(OBJ)/imapd/imap_parser.o
IMAPD_UNIT_OBJS	:= $(IMAP_PARSER_OBJS) $(OBJ)/imapd/fetch.o \
		   $(OBJ)/imapd/search.o
$(OBJ)/regress/unit/test-imap_fetch.o $(OBJ)/regress/unit/test-imap_search.o: \
	PROG_INC += -Iimapd
$(BUILD)/regress/test-imap_fetch $(BUILD)/regress/test-imap_search: \
	$(IMAPD_UNIT_OBJS)
$(BUILD)/regress/test-imap_fetch $(BUILD)/regress/test-imap_search: \
	EXTRA_OBJS := $(IMAPD_UNIT_OBJS)
$(OBJ)/imapd/fetch.o $(OBJ)/imapd/search.o: \
	PROG_INC := -Ilib -Ilib/mail -Iimapd -I$(GEN)
$(OBJ)/imapd/fetch.o $(OBJ)/imapd/search.o: PROG_PKGS := $(LIBOSMS_PKGS)
$(OBJ)/regress/unit/test-imap_parser.o: PROG_INC += -Iimapd
$(BUILD)/regress/test-imap_parser: $(IMAP_PARSER_OBJS)
$(BUILD)/regress/test-imap_parser: EXTRA_OBJS := $(IMAP_PARSER_OBJS)
$(OBJ)/imapd/imap_parser.o: PROG_INC := -Ilib -Ilib/mail -Iimapd -I$(GEN)
$(OBJ)/imapd/imap_parser.o: PROG_PKGS := $(LIBOSMS_PKGS)
$(OBJ)/regress/unit/test-scan.o: PROG_INC += -Iscand
$(OBJ)/regress/unit/test-scan.o: PROG_PKGS += libclamav zlib
$(BUILD)/regress/test-scan: $(OBJ)/scand/scan.o
$(BUILD)/regress/test-scan: EXTRA_OBJS := $(OBJ)/scand/scan.o
$(BUILD)/regress/test-scan: EXTRA_PKGS := libclamav zlib
$(BUILD)/regress/test-ratelimit: $(OBJ)/authd/ratelimit.o
$(BUILD)/regress/test-ratelimit: EXTRA_OBJS := $(OBJ)/authd/ratelimit.o
$(OBJ)/regress/unit/test-sasl.o: PROG_INC += -Iauthd
$(OBJ)/regress/unit/test-sasl.o: PROG_PKGS += libsasl2
$(BUILD)/regress/test-sasl: $(OBJ)/authd/sasl.o
$(BUILD)/regress/test-sasl: EXTRA_OBJS := $(OBJ)/authd/sasl.o
$(BUILD)/regress/test-sasl: EXTRA_PKGS := libsasl2

SENDERAUTH_OBJS	:= $(OBJ)/checkd/senderauth.o $(OBJ)/checkd/dns.o
$(OBJ)/regress/unit/test-senderauth.o: PROG_INC += -Icheckd
$(BUILD)/regress/test-senderauth: $(SENDERAUTH_OBJS)
$(BUILD)/regress/test-senderauth: EXTRA_OBJS := $(SENDERAUTH_OBJS)
$(BUILD)/regress/test-senderauth: EXTRA_PKGS := opendkim
$(BUILD)/regress/test-senderauth: LDLIBS += -lspf2 -lopendmarc

$(OBJ)/regress/unit/test-greylist.o: PROG_INC += -Icheckd
$(BUILD)/regress/test-greylist: $(OBJ)/checkd/greylist.o
$(BUILD)/regress/test-greylist: EXTRA_OBJS := $(OBJ)/checkd/greylist.o

$(OBJ)/regress/unit/test-keyd.o: PROG_INC += -Ikeyd
$(BUILD)/regress/test-keyd: $(OBJ)/keyd/keys.o
$(BUILD)/regress/test-keyd: EXTRA_OBJS := $(OBJ)/keyd/keys.o

tests: $(TESTS)

# libFuzzer targets: the library is rebuilt by clang with coverage.
FUZZ_SRCS	:= $(sort $(wildcard regress/fuzz/fuzz_*.c))
FUZZ_DIR	:= $(BUILD)/fuzz
FUZZ_FLAGS	:= -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
		   -fsanitize=fuzzer-no-link,address,undefined \
		   -Ilib -Ilib/mail -Iimapd -I$(GEN)
FUZZ_LIB_OBJS	:= $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS)) \
		   $(FUZZ_DIR)/obj/gen/parse.o
FUZZERS		:= $(patsubst regress/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRCS))

$(FUZZ_DIR)/obj/%.o: %.c $(GEN)/parse.h
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZ_FLAGS) $(call pkg_cflags,$(LIBOSMS_PKGS)) -c -o $@ $<

$(FUZZ_DIR)/obj/gen/parse.o: $(GEN)/parse.c
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/regress/fuzz/%.o $(FUZZ_LIB_OBJS)
	$(FUZZCC) -fsanitize=fuzzer,address,undefined -o $@ \
	    $(filter-out $(FUZZ_OMIT),$^) \
	    $(call pkg_libs,$(ALL_LIB_PKGS) $(FUZZ_PKGS))

# Kept between runs: a change to one target relinks, not recompiles all.
.SECONDARY: $(FUZZ_LIB_OBJS) \
	$(patsubst regress/fuzz/%.c,$(FUZZ_DIR)/obj/regress/fuzz/%.o,$(FUZZ_SRCS))

# Fuzz targets of a role's own parsers link that parser in too.
$(FUZZ_DIR)/fuzz_imap_parser: $(FUZZ_DIR)/obj/imapd/imap_parser.o
$(FUZZ_DIR)/fuzz_imap_search: $(FUZZ_DIR)/obj/imapd/imap_parser.o $(FUZZ_DIR)/obj/imapd/search.o
$(FUZZ_DIR)/fuzz_imap_fetch: $(FUZZ_DIR)/obj/imapd/imap_parser.o $(FUZZ_DIR)/obj/imapd/fetch.o

# Session targets (session_harness.h) run a role's real session code and
# play every role around it, proc_peer() included, so proc.o stays out.
FUZZ_SESSIONS	:= $(FUZZ_DIR)/fuzz_smtp_session $(FUZZ_DIR)/fuzz_imap_session \
		   $(FUZZ_DIR)/fuzz_pop3_session $(FUZZ_DIR)/fuzz_sasl
LOGIN_FUZZ_OBJS	:= $(FUZZ_DIR)/obj/imapd/login.o \
		   $(FUZZ_DIR)/obj/imapd/login_imap.o \
		   $(FUZZ_DIR)/obj/imapd/login_pop3.o \
		   $(FUZZ_DIR)/obj/imapd/imap_parser.o
$(FUZZ_SESSIONS): FUZZ_OMIT := $(FUZZ_DIR)/obj/lib/proc.o
$(patsubst $(FUZZ_DIR)/%,$(FUZZ_DIR)/obj/regress/fuzz/%.o,$(FUZZ_SESSIONS)): \
	regress/fuzz/session_harness.h
# keyd's key set signs their handshakes, in process.
$(FUZZ_SESSIONS): $(FUZZ_DIR)/obj/keyd/keys.o
$(patsubst $(FUZZ_DIR)/%,$(FUZZ_DIR)/obj/regress/fuzz/%.o,$(FUZZ_SESSIONS)) \
    $(FUZZ_DIR)/obj/keyd/keys.o: FUZZ_FLAGS += -Ikeyd
$(FUZZ_DIR)/obj/regress/fuzz/fuzz_imap_session.o \
    $(FUZZ_DIR)/obj/regress/fuzz/fuzz_pop3_session.o: regress/fuzz/login_harness.h
$(FUZZ_DIR)/fuzz_smtp_session: $(FUZZ_DIR)/obj/smtpd/smtp_session.o
$(FUZZ_DIR)/obj/regress/fuzz/fuzz_smtp_session.o: FUZZ_FLAGS += -Ismtpd
$(FUZZ_DIR)/fuzz_imap_session $(FUZZ_DIR)/fuzz_pop3_session: $(LOGIN_FUZZ_OBJS)
$(FUZZ_DIR)/fuzz_sasl: $(FUZZ_DIR)/obj/authd/sasl.o
$(FUZZ_DIR)/fuzz_sasl: FUZZ_PKGS := libsasl2
$(FUZZ_DIR)/obj/regress/fuzz/fuzz_sasl.o: FUZZ_FLAGS += -Iauthd -Iregress/lib
$(FUZZ_DIR)/obj/regress/fuzz/fuzz_sasl.o $(OBJ)/regress/unit/test-sasl.o: \
	regress/lib/sasl_stubs.h
$(FUZZ_DIR)/obj/authd/sasl.o: FUZZ_FLAGS += -Iauthd

fuzz: $(FUZZERS)

# Run each fuzz target for SECONDS from its seed corpus.
SECONDS		?= 60
# Each target for SECONDS from its seeds, FUZZ_JOBS at a time; one line
# per target (runs, runs a second, coverage), its whole output on failure.
FUZZ_JOBS	?= 1
fuzz-run: fuzz
	@printf '%s\n' $(FUZZERS) | xargs -P$(FUZZ_JOBS) -I{} sh -c '\
	    f=$$1; n=$$(basename $$f); log=$(FUZZ_DIR)/$$n.log; \
	    mkdir -p $(FUZZ_DIR)/corpus/$$n; \
	    if ! $$f -max_total_time=$(SECONDS) -print_final_stats=1 \
	        $(FUZZ_DIR)/corpus/$$n regress/fuzz/corpus/$$n >$$log 2>&1; \
	    then cat $$log; echo "== $$n FAILED"; exit 255; fi; \
	    runs=$$(sed -n "s/^stat::number_of_executed_units: //p" $$log); \
	    rate=$$(sed -n "s/^stat::average_exec_per_sec: //p" $$log); \
	    cov=$$(grep -o "cov: [0-9]*" $$log | tail -n 1); \
	    echo "== $$n, $(SECONDS)s: $$runs runs, $$rate/s, $$cov"' sh {}

.PHONY: fuzz-run
