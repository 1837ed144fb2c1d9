// netutil/mpi.hpp: what the two Open MPI versions of the manager/worker labs share (09_mandelbrot/mpi.cpp,
// 10_pi_montecarlo/mpi.cpp): the run of `mpirun -np K ./mpi` around the lab's manager and workers, the
// command line parsed on every rank but answered by rank 0 only, failing the whole run, and each worker's busy
// time gathered at the manager.
//
// Header-only, and included by the mpi.cpp files only: it needs mpi.h, which libnetutil.a must not (the
// labs' ./mpi is built only where Open MPI is installed, see their Makefiles).
#pragma once

#include "netutil/cli.hpp"
#include "netutil/output.hpp"

#include <mpi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

namespace netutil {

inline constexpr int kMpiManager = 0;  // rank 0 is the manager; ranks 1 to K-1 are the workers 0 to K-2

// Anything wrong in a message: the rank says so and MPI_Abort ends every rank (mpirun exits non-zero).
[[noreturn]] inline void mpi_fail(const std::string& why) {
    print_error(program_name() + ": " + why);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::exit(1);  // MPI_Abort does not return
}

inline void check_mpi(int status, const char* what) {
    if (status != MPI_SUCCESS) mpi_fail(std::string(what) + " failed");
}

// Runs `parse` (the command line) on every rank, before MPI_Init, but only rank 0 may print --help or a
// usage error: K copies of the same message would say nothing more. The other ranks, known by the rank
// mpirun gave them (Open MPI sets OMPI_COMM_WORLD_RANK), parse the same command line silently and exit the
// same way.
// A usage error exits at once, and mpirun may then end the job before it has forwarded rank 0's message
// (Open MPI can drop the last output of ranks that exit that fast): under mpirun, an exit while the command
// line is parsed waits a moment first, on every rank, so that the message is read before any rank is gone.
inline std::atomic<bool> parsing_under_mpirun{false};

inline void parse_on_every_rank(const std::function<void()>& parse) {
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (rank == nullptr) return parse();
    parsing_under_mpirun = true;
    std::atexit([] {
        if (!parsing_under_mpirun) return;
        std::fflush(nullptr);
        ::usleep(300'000);
    });
    if (std::string(rank) == "0") {
        parse();
        parsing_under_mpirun = false;
        return;
    }
    const int null = ::open("/dev/null", O_WRONLY);
    const int saved_out = ::dup(1), saved_err = ::dup(2);
    ::dup2(null, 1);
    ::dup2(null, 2);
    parse();
    parsing_under_mpirun = false;
    ::dup2(saved_out, 1);
    ::dup2(saved_err, 2);
    ::close(saved_out);
    ::close(saved_err);
    ::close(null);
}

// The run of one rank: MPI_Init, at least 2 processes (a manager and a worker; fewer is a usage error),
// a barrier so that every rank is up when the work starts (the manager's wall time starts there), then
// `body(rank, size)` as netutil::run_main runs it. A failure of any rank (a status other than 0) ends every
// rank with MPI_Abort.
inline int run_mpi(int& argc, char**& argv, const std::function<int(int rank, int size)>& body) {
    check_mpi(MPI_Init(&argc, &argv), "MPI_Init");
    int rank = 0, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        print_error(program_name() + ": needs at least 2 processes, a manager and a worker (mpirun -np 2 or more)");
        MPI_Finalize();
        return kExitUsage;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const int status = run_main([&] { return body(rank, size); });
    if (status != 0) MPI_Abort(MPI_COMM_WORLD, status);  // e.g. the manager could not write its result
    MPI_Finalize();
    return status;
}

// "mpi manager (rank 0) with 2 workers (ranks 1 to 2)": how the manager starts its first line.
inline std::string mpi_manager_title(int nworkers) {
    return "mpi manager (rank 0) with " +
           (nworkers == 1 ? std::string("1 worker (rank 1)")
                          : std::to_string(nworkers) + " workers (ranks 1 to " + std::to_string(nworkers) + ")");
}

// Each worker's busy time (the time it spent on its work), measured where it was spent and gathered at the
// manager when the work is done. Every rank calls one of the two, the manager gather_busy_times, the workers
// send_busy_time: element t is worker t's.
inline std::vector<double> gather_busy_times(int nworkers) {
    std::vector<double> busy(static_cast<size_t>(nworkers) + 1);
    const double none = 0;
    check_mpi(MPI_Gather(&none, 1, MPI_DOUBLE, busy.data(), 1, MPI_DOUBLE, kMpiManager, MPI_COMM_WORLD), "MPI_Gather");
    busy.erase(busy.begin());  // the manager's own
    return busy;
}
inline void send_busy_time(double busy) {
    check_mpi(MPI_Gather(&busy, 1, MPI_DOUBLE, nullptr, 0, MPI_DOUBLE, kMpiManager, MPI_COMM_WORLD), "MPI_Gather");
}

}  // namespace netutil
