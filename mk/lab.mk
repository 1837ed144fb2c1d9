# mk/lab.mk: the rules of a lab folder. A lab's Makefile names its programs and includes this file:
#
#   PROGRAMS := server client
#   server_SRCS := server.cpp models.cpp     # optional; default: the program's name + .cpp
#   include ../mk/lab.mk
#
# `make` (or `make LABNAME`) builds ./server and ./client here; with SAN=address|thread they go to
# build/VARIANT/LAB/ instead, leaving the normal programs in place.

include $(dir $(lastword $(MAKEFILE_LIST)))config.mk

override LAB := $(notdir $(CURDIR))
OBJDIR := $(BUILD)/$(LAB)
BINDIR := $(BIN_ROOT)/$(LAB)

.PHONY: all $(LAB) clean FORCE markers
all: $(addprefix $(BINDIR)/,$(PROGRAMS))
$(LAB): all

# netutil is built by its own Makefile; the top-level Makefile builds it first, so labs built in parallel
# never build it twice at once.
$(NETUTIL_LIB): FORCE | deps
	@$(MAKE) --no-print-directory -C $(ROOT)/netutil

define PROGRAM_RULES
$(1)_SRCS ?= $(1).cpp
$(1)_OBJS := $$(addprefix $(OBJDIR)/,$$(notdir $$($(1)_SRCS:.cpp=.o)))
ALL_OBJS += $$($(1)_OBJS)
$(BINDIR)/$(1): $$($(1)_OBJS) $(NETUTIL_LIB)
	@mkdir -p $$(@D)
	@echo "$$(CXX) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $(NETUTIL_LIB) $$($(1)_LDLIBS) $$(LDLIBS)"
	@$$(CXX) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $(NETUTIL_LIB) $$($(1)_LDLIBS) $$(LDLIBS) 2>$(OBJDIR)/$(1).link.log; \
	  status=$$$$?; awk -f $(ROOT)/mk/static-note.awk $(OBJDIR)/$(1).link.log >&2; exit $$$$status
endef
# glibc's link-time note for a program linked with -static that calls getaddrinfo() (04 and 05 link their
# release servers so: a leaner image to fork): such a program loads the NSS modules of the installed glibc at
# run time, so it must run where it was built, with the same glibc. The kit is built where it runs, so the
# link drops that note (mk/static-note.awk); every other message of the linker is shown, and a failed link
# still fails.
$(foreach program,$(PROGRAMS),$(eval $(call PROGRAM_RULES,$(program))))

vpath %.cpp $(sort $(dir $(foreach program,$(PROGRAMS),$($(program)_SRCS))))

# The solution markers (tools/handout.py check), once per build of this lab alone; the top Makefile checks
# them itself and tells the labs so (MARKERS_CHECKED).
markers: | deps
	@[ -n "$(MARKERS_CHECKED)" ] || [ ! -f $(ROOT)/tools/handout.py ] || python3 $(ROOT)/tools/handout.py check

$(OBJDIR)/%.o: %.cpp | deps markers
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

clean:
	rm -rf $(OBJDIR) $(addprefix $(BINDIR)/,$(PROGRAMS))

-include $(ALL_OBJS:.o=.d)
