// 10_pi_montecarlo/options.hpp: the command-line options ./server (server.cpp) and ./mpi (mpi.cpp) share:
// the job queue (--jobs, --samples, --seed).
#pragma once

#include "montecarlo.hpp"

#include "netutil/cli.hpp"

#include <cstdint>

namespace montecarlo {

// The job queue of the assignment: njobs tuples (samples, seed + j).
struct JobOptions {
    int njobs = 16;
    uint64_t samples = 10'000'000;
    uint64_t seed = 1;
};

// --jobs, --samples and --seed.
inline void add_job_options(CLI::App& app, JobOptions& jobs) {
    app.add_option("--jobs", jobs.njobs, "number of jobs in the queue")
        ->capture_default_str()
        ->check(netutil::whole_number(1, kMaxJobs));
    app.add_option("--samples", jobs.samples, "samples per job")
        ->capture_default_str()
        ->check(netutil::unsigned_number(1, kMaxSamples));
    app.add_option("--seed", jobs.seed, "seed of job 0; job j gets seed + j")->capture_default_str();
}

// After parsing: the samples of all the jobs must fit in 64 bits (a usage error otherwise).
inline void check_job_options(const JobOptions& jobs) {
    if (static_cast<double>(jobs.samples) * jobs.njobs > 1.8e19)
        netutil::usage_error("--samples times --jobs is too large");
}

}  // namespace montecarlo
