// 10_pi_montecarlo/mpi.cpp: the same Monte Carlo estimate of pi with Open MPI instead of sockets.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slide "Summary + Assignments", assignment 3 (a
// job queue of (samples, seed) tuples) and the slide "Manager/Worker Paradigm", written the way users write it
// once the work goes past one machine: `mpirun -np K ./mpi` starts K copies of this program; rank 0 is the
// manager and keeps the job queue, ranks 1 to K-1 are the workers 0 to K-2. The jobs are the socket
// version's (montecarlo.hpp's count_inside, seeds seed + j), so the estimate is exactly the one of `./server`
// and of `./server --local`.
// The messages (all uint64_t triples):
//   manager -> worker   tag 1 (job):   {J, SAMPLES, SEED}     one job out at a worker at a time, like server.cpp
//   worker  -> manager  tag 3 (result): {J, SAMPLES, INSIDE}
//   manager -> worker   tag 2 (stop):  no data                 every job is handed out
// The manager checks every result (the job it sent that worker, the same samples, inside <= samples) and
// aborts the whole run (MPI_Abort) on anything else. MPI brings no recovery from a lost worker: if one rank
// dies, mpirun ends them all (the socket version gives its job to another worker instead).
//
// Demo (one terminal; as root add --allow-run-as-root, see README.md "MPI"):
//   mpirun --oversubscribe -np 3 ./mpi          2 workers, 16 jobs of 10,000,000 samples
//   ./server --local                            the same "estimate of pi" line
// See also: server.cpp (the socket manager), montecarlo.hpp (the generator), netutil/mpi.hpp (the mpirun frame).
#include "montecarlo.hpp"
#include "options.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/mpi.hpp"  // MPI_Init to MPI_Finalize around manage() and work(), MPI_Abort on any failure
#include "netutil/output.hpp"
#include "netutil/text.hpp"

#include <cmath>
#include <cstdio>
#include <numbers>
#include <optional>
#include <vector>

namespace {

using netutil::check_mpi;
using netutil::kMpiManager;
using netutil::mpi_fail;

constexpr int kTagJob = 1;
constexpr int kTagStop = 2;
constexpr int kTagResult = 3;

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

struct WorkerStats {
    int jobs = 0;
    uint64_t samples = 0;
};

// Rank 0: the job queue. Every worker gets a job; each result that comes back is checked, printed and counted,
// and its worker gets the next job, or the stop message when the queue is empty.
int manage(int njobs, uint64_t samples, uint64_t base_seed, int nworkers) {
    netutil::print_line(netutil::mpi_manager_title(nworkers) + ": " + netutil::count(njobs, "job") + " of " +
                        netutil::count(samples, "sample"));
    const netutil::Stopwatch wall;
    std::vector<std::optional<uint64_t>> out(static_cast<size_t>(nworkers));  // the job out at worker t
    std::vector<WorkerStats> stats(static_cast<size_t>(nworkers));
    uint64_t next = 0, inside = 0;
    auto send_next = [&](int t) {
        if (next < static_cast<uint64_t>(njobs)) {
            const uint64_t job[3] = {next, samples, montecarlo::job_seed(base_seed, static_cast<int>(next))};
            check_mpi(MPI_Send(job, 3, MPI_UINT64_T, t + 1, kTagJob, MPI_COMM_WORLD), "MPI_Send");
            out[static_cast<size_t>(t)] = next++;
        } else {
            check_mpi(MPI_Send(nullptr, 0, MPI_UINT64_T, t + 1, kTagStop, MPI_COMM_WORLD), "MPI_Send");
        }
    };
    for (int t = 0; t < nworkers; ++t) send_next(t);
    for (int received = 0; received < njobs; ++received) {
        uint64_t result[3] = {};
        MPI_Status status;
        check_mpi(MPI_Recv(result, 3, MPI_UINT64_T, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &status), "MPI_Recv");
        int count = 0;
        MPI_Get_count(&status, MPI_UINT64_T, &count);
        const int t = status.MPI_SOURCE - 1;
        const std::string from = "worker " + std::to_string(t) + " (rank " + std::to_string(status.MPI_SOURCE) + ")";
        if (t < 0 || t >= nworkers)
            mpi_fail("a message from rank " + std::to_string(status.MPI_SOURCE) + ", not a worker");
        auto& mine = out[static_cast<size_t>(t)];
        if (status.MPI_TAG != kTagResult || count != 3) mpi_fail(from + " sent a message that is not a result");
        if (!mine || result[0] != *mine || result[1] != samples || result[2] > samples)
            mpi_fail(from + " sent a result for job " + std::to_string(result[0]) + " (" + std::to_string(result[2]) +
                     " of " + std::to_string(result[1]) + " inside) that does not match the job it was given");
        const uint64_t job = *mine;
        mine.reset();
        inside += result[2];
        stats[static_cast<size_t>(t)].jobs += 1;
        stats[static_cast<size_t>(t)].samples += samples;
        netutil::print_line("job " + std::to_string(job) + " (" + netutil::count(samples, "sample") + ", seed " +
                            std::to_string(montecarlo::job_seed(base_seed, static_cast<int>(job))) + ") by worker " +
                            std::to_string(t) + ": " + std::to_string(result[2]) + " inside, pi ~ " +
                            fixed(4.0 * static_cast<double>(result[2]) / static_cast<double>(samples), 6));
        send_next(t);
    }
    const double seconds = wall.seconds();

    const std::vector<double> busy = netutil::gather_busy_times(nworkers);
    for (int t = 0; t < nworkers; ++t)
        netutil::print_line("worker " + std::to_string(t) + ": " +
                            netutil::count(stats[static_cast<size_t>(t)].jobs, "job") + ", " +
                            netutil::count(stats[static_cast<size_t>(t)].samples, "sample") + ", busy " +
                            fixed(busy[static_cast<size_t>(t)], 3) + " s computing");
    // The same three lines as server.cpp's.
    const uint64_t total = samples * static_cast<uint64_t>(njobs);
    const double estimate = 4.0 * static_cast<double>(inside) / static_cast<double>(total);
    char error[32];
    std::snprintf(error, sizeof error, "%.3e", std::fabs(estimate - std::numbers::pi));
    netutil::print_line("estimate of pi " + fixed(estimate, 10) + " (" + std::to_string(inside) + " of " +
                        netutil::count(total, "sample") + " inside, " + netutil::count(njobs, "job") + ")");
    netutil::print_line("error " + std::string(error) + " (|estimate - pi|)");
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.2e", seconds > 0 ? static_cast<double>(total) / seconds : 0.0);
    netutil::print_line("wall time " + fixed(seconds, 3) + " s, " + rate + " samples/s");
    return 0;
}

// Ranks 1 to n: jobs until the stop message; each job's count goes back with the job's number and samples.
int work(int t) {
    double busy = 0;
    for (;;) {
        uint64_t job[3] = {};
        MPI_Status status;
        check_mpi(MPI_Recv(job, 3, MPI_UINT64_T, kMpiManager, MPI_ANY_TAG, MPI_COMM_WORLD, &status), "MPI_Recv");
        if (status.MPI_TAG == kTagStop) break;
        int count = 0;
        MPI_Get_count(&status, MPI_UINT64_T, &count);
        if (status.MPI_TAG != kTagJob || count != 3 || job[1] == 0 || job[1] > montecarlo::kMaxSamples)
            mpi_fail("worker " + std::to_string(t) + ": a bad message from the manager");
        const netutil::Stopwatch watch;
        const uint64_t result[3] = {job[0], job[1], montecarlo::count_inside(job[1], job[2])};
        busy += watch.seconds();
        check_mpi(MPI_Send(result, 3, MPI_UINT64_T, kMpiManager, kTagResult, MPI_COMM_WORLD), "MPI_Send");
    }
    netutil::send_busy_time(busy);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "The Monte Carlo estimate of pi with Open MPI: start it with `mpirun -np K ./mpi`. Rank 0 keeps\n"
        "the job queue of (samples, seed) tuples, ranks 1 to K-1 run the jobs; it prints each result and\n"
        "the same estimate as ./server (and ./server --local). K must be at least 2.\n"
        "As root add --allow-run-as-root; with K above the number of cores add --oversubscribe."};
    montecarlo::JobOptions jobs;
    montecarlo::add_job_options(app, jobs);
    auto parse = [&] {
        netutil::parse_or_exit(app, argc, argv);
        montecarlo::check_job_options(jobs);
    };
    netutil::parse_on_every_rank(parse);

    // Every rank is up when the work starts (the manager's wall time starts there).
    return netutil::run_mpi(argc, argv, [&](int rank, int size) {
        return rank == kMpiManager ? manage(jobs.njobs, jobs.samples, jobs.seed, size - 1) : work(rank - 1);
    });
}
