// 09_mandelbrot/mpi.cpp: the same Mandelbrot manager/worker computation with Open MPI instead of sockets.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slides "The Mandelbrot Set" and "Manager/Worker Paradigm",
// written the way users write it once the work goes past one machine: `mpirun -np K ./mpi` starts
// K copies of this program; rank 0 is the manager, ranks 1 to K-1 are the workers 0 to K-2. The columns are the
// socket version's (mandelbrot.hpp's compute_column), so the picture is byte for byte the one of `./server`
// and of `./server --local`.
//   --schedule static   worker t computes the columns k with k mod n = t (the slide) and sends each one back;
//                       nobody needs to hand them out, every rank knows its own.
//   --schedule dynamic  the manager sends a column number to each worker (two at once, like the socket
//                       version), and the next one whenever a column comes back; a stop message at the end.
// A column comes back as one message of `height` bytes (the grayscales, top row first) whose tag is the column.
// The manager checks every message (size, column in range, from the worker it belongs to, not twice) and
// aborts the whole run (MPI_Abort) on anything else. MPI brings no recovery from a lost worker: if one rank
// dies, mpirun ends them all (the socket version redoes its columns instead).
//
// Demo (one terminal; as root add --allow-run-as-root, see README.md "MPI"):
//   mpirun --oversubscribe -np 3 ./mpi -o mpi.pgm                     2 workers, static schedule
//   ./server --local -o local.pgm && cmp local.pgm mpi.pgm            the same bytes
// See also: server.cpp (the socket manager), mandelbrot.hpp (the computation), netutil/mpi.hpp (the mpirun frame).
#include "mandelbrot.hpp"
#include "options.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/mpi.hpp"  // MPI_Init to MPI_Finalize around manage() and work(), MPI_Abort on any failure
#include "netutil/output.hpp"
#include "netutil/text.hpp"

#include <cstdio>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

namespace {

using mandelbrot::Canvas;
using mandelbrot::Schedule;
using netutil::check_mpi;
using netutil::kMpiManager;
using netutil::mpi_fail;

constexpr int kTagColumn = 1;  // manager -> worker (dynamic): one int, the column to compute
constexpr int kTagStop = 2;    // manager -> worker (dynamic): no more columns
constexpr size_t kWindow = 2;  // dynamic: columns out at one worker at once, as in server.cpp

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f s", seconds);
    return text;
}

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

// The picture file, opened before the work starts so that a bad path fails at once, not after the work.
File open_output(const std::string& path) {
    File file(std::fopen(path.c_str(), "wb"), std::fclose);
    if (!file) netutil::throw_errno("open " + path);
    return file;
}

// The same PGM (P5) as server.cpp writes: the header, then the bytes row by row.
void write_pgm(File file, const std::string& path, const Canvas& canvas, const std::vector<uint8_t>& rows) {
    const std::string header = "P5\n" + std::to_string(canvas.width) + " " + std::to_string(canvas.height) + "\n255\n";
    if (std::fwrite(header.data(), 1, header.size(), file.get()) != header.size() ||
        std::fwrite(rows.data(), 1, rows.size(), file.get()) != rows.size())
        netutil::throw_errno("write " + path);
    if (std::fclose(file.release()) != 0) netutil::throw_errno("write " + path);
}

struct WorkerStats {
    int columns = 0;
    uint64_t iterations = 0;
};

// Rank 0: receives the W columns, checks them, fills the picture (rows top to bottom), prints the totals.
int manage(const Canvas& canvas, Schedule schedule, int nworkers, const std::string& output) {
    const auto width = static_cast<size_t>(canvas.width), height = static_cast<size_t>(canvas.height);
    netutil::print_line(netutil::mpi_manager_title(nworkers) + ": canvas " + std::to_string(canvas.width) + "x" +
                        std::to_string(canvas.height) + ", " + mandelbrot::schedule_name(schedule) + " schedule");
    File file = open_output(output);
    const netutil::Stopwatch wall;
    std::vector<uint8_t> rows(width * height), gray(height);
    std::vector<bool> done(width, false);
    std::vector<WorkerStats> stats(static_cast<size_t>(nworkers));
    std::vector<std::deque<int>> out(static_cast<size_t>(nworkers));  // dynamic: columns out at worker t
    int next = 0;                                                     // dynamic: the queue's next column
    auto send_next = [&](int t) {
        if (next < canvas.width) {
            check_mpi(MPI_Send(&next, 1, MPI_INT, t + 1, kTagColumn, MPI_COMM_WORLD), "MPI_Send");
            out[static_cast<size_t>(t)].push_back(next++);
        } else if (out[static_cast<size_t>(t)].empty()) {
            check_mpi(MPI_Send(nullptr, 0, MPI_INT, t + 1, kTagStop, MPI_COMM_WORLD), "MPI_Send");
        }
    };
    if (schedule == Schedule::Dynamic)
        for (size_t i = 0; i < kWindow; ++i)
            for (int t = 0; t < nworkers; ++t) send_next(t);

    for (int received = 0; received < canvas.width; ++received) {
        MPI_Status status;
        check_mpi(MPI_Recv(gray.data(), static_cast<int>(height), MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD,
                           &status),
                  "MPI_Recv");
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        const int t = status.MPI_SOURCE - 1, column = status.MPI_TAG;
        const std::string from = "worker " + std::to_string(t) + " (rank " + std::to_string(status.MPI_SOURCE) + ")";
        if (t < 0 || t >= nworkers)
            mpi_fail("a message from rank " + std::to_string(status.MPI_SOURCE) + ", not a worker");
        if (column < 0 || column >= canvas.width)
            mpi_fail(from + " sent column " + std::to_string(column) + ", out of range");
        if (count != canvas.height)
            mpi_fail(from + " sent " + netutil::count(count, "byte") + " for column " + std::to_string(column) +
                     ", not " + std::to_string(canvas.height));
        if (done[static_cast<size_t>(column)]) mpi_fail(from + " sent column " + std::to_string(column) + " twice");
        if (schedule == Schedule::Static && column % nworkers != t)
            mpi_fail(from + " sent column " + std::to_string(column) + ", which is not one of its own");
        if (schedule == Schedule::Dynamic) {
            auto& mine = out[static_cast<size_t>(t)];
            if (mine.empty() || mine.front() != column)
                mpi_fail(from + " sent column " + std::to_string(column) + ", which it was not asked for next");
            mine.pop_front();
            send_next(t);
        }
        done[static_cast<size_t>(column)] = true;
        for (size_t row = 0; row < height; ++row) rows[row * width + static_cast<size_t>(column)] = gray[row];
        auto& s = stats[static_cast<size_t>(t)];
        s.columns += 1;
        s.iterations += mandelbrot::iterations_of(gray.data(), height);
    }
    const double seconds = wall.seconds();

    // Each worker's busy time (computing its columns), measured where it was spent.
    const std::vector<double> busy = netutil::gather_busy_times(nworkers);
    uint64_t iterations = 0;
    for (int t = 0; t < nworkers; ++t) {
        const auto& s = stats[static_cast<size_t>(t)];
        iterations += s.iterations;
        netutil::print_line("worker " + std::to_string(t) + ": " + netutil::count(s.columns, "column") + ", " +
                            netutil::count(s.iterations, "iteration") + ", busy " +
                            seconds_text(busy[static_cast<size_t>(t)]) + " computing");
    }
    const Canvas slide;
    const bool slide_canvas = canvas.width == slide.width && canvas.height == slide.height;
    netutil::print_line("total iterations " + std::to_string(iterations) +
                        (slide_canvas ? " (the slide says 16,652,580: see README.md)" : ""));
    netutil::print_line("wall time " + seconds_text(seconds) + " (from the start of the work)");
    write_pgm(std::move(file), output, canvas, rows);
    netutil::print_line("wrote " + output + " (" + std::to_string(canvas.width) + "x" + std::to_string(canvas.height) +
                        ")");
    return 0;
}

// Ranks 1 to n: worker t = rank - 1. Static: its own columns, each sent back as soon as it is computed.
// Dynamic: whatever column the manager sends, until the stop message.
int work(const Canvas& canvas, Schedule schedule, int nworkers, int t) {
    std::vector<uint8_t> gray(static_cast<size_t>(canvas.height));
    double busy = 0;
    auto compute_and_send = [&](int column) {
        const netutil::Stopwatch watch;
        mandelbrot::compute_column(canvas, column, gray.data());
        busy += watch.seconds();
        check_mpi(MPI_Send(gray.data(), canvas.height, MPI_BYTE, kMpiManager, column, MPI_COMM_WORLD), "MPI_Send");
    };
    if (schedule == Schedule::Static) {
        for (int column = t; column < canvas.width; column += nworkers) compute_and_send(column);
    } else {
        for (;;) {
            int column = -1;
            MPI_Status status;
            check_mpi(MPI_Recv(&column, 1, MPI_INT, kMpiManager, MPI_ANY_TAG, MPI_COMM_WORLD, &status), "MPI_Recv");
            if (status.MPI_TAG == kTagStop) break;
            if (status.MPI_TAG != kTagColumn || column < 0 || column >= canvas.width)
                mpi_fail("worker " + std::to_string(t) + ": a bad message from the manager");
            compute_and_send(column);
        }
    }
    netutil::send_busy_time(busy);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "The Mandelbrot computation with Open MPI: start it with `mpirun -np K ./mpi`. Rank 0 is the\n"
        "manager, ranks 1 to K-1 the workers; it prints the total number of iterations and writes the same\n"
        "picture as ./server (and ./server --local), byte for byte. K must be at least 2.\n"
        "As root add --allow-run-as-root; with K above the number of cores add --oversubscribe."};
    Schedule schedule = Schedule::Static;
    Canvas canvas;
    std::string output = "mandelbrot.pgm";
    mandelbrot::add_schedule_and_canvas_options(app, schedule,
                                                "static: worker t computes the columns k with k mod n = t "
                                                "(the slide); dynamic: the manager hands out the next column to "
                                                "whichever worker sent one back",
                                                canvas);
    app.add_option("-o,--output", output, "picture file, PGM (P5)")->capture_default_str();
    netutil::parse_on_every_rank([&] { netutil::parse_or_exit(app, argc, argv); });

    // Every rank is up when the work starts (the manager's wall time starts there).
    return netutil::run_mpi(argc, argv, [&](int rank, int size) {
        return rank == kMpiManager ? manage(canvas, schedule, size - 1, output)
                                   : work(canvas, schedule, size - 1, rank - 1);
    });
}
