# mk/mpi.mk: the Open MPI detection of the manager/worker labs (09_mandelbrot, 10_pi_montecarlo). A lab's
# Makefile includes it after naming its PROGRAMS and before ../mk/lab.mk:
#
#   PROGRAMS := server client
#   include ../mk/mpi.mk
#   include ../mk/lab.mk
#
# ./mpi (mpi.cpp: README.md "MPI") is built only when Open MPI is installed (mpicxx present; `make deps`
# installs it), and only in the normal build: under SAN=address|thread the sanitizers would report Open MPI's
# own allocations and threads, not ours. mpi.o gets Open MPI's include flags (as -isystem: its headers are not
# ours to warn about), ./mpi its libraries (without the C++ bindings, which the kit does not use).
ifeq ($(SAN)$(shell command -v mpicxx >/dev/null 2>&1 && echo mpi),mpi)
PROGRAMS += mpi
mpi_LDLIBS := $(filter-out -lmpi_cxx,$(shell mpicxx --showme:link))
MPI_CPPFLAGS := -DOMPI_SKIP_MPICXX=1 $(patsubst -I%,-isystem %,$(shell mpicxx --showme:compile))
endif
