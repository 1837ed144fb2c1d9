// 09_mandelbrot/server.cpp: the manager of a manager/worker computation of the Mandelbrot set.
//
// Mirrors: seeds/01_lecture_multithreaded_servers.txt, section 4 "Pleasingly Parallel Computations":
// "The Mandelbrot Set" (500 x 400 pixels over x in [-2, 0.5], y in [-1, 1], grayscale 255 - k) and the
// "Manager/Worker Paradigm": the server manages a job queue of columns, n handler threads serve n worker
// clients, handler t hands out the columns k with k mod n = t (`--schedule static`, the slide) or whatever
// column is next in one shared queue (`--schedule dynamic`, the lecture's dynamic load balancing).
// Also the closing questions of seeds/02_lecture_client_server_multiprocessing.txt, "What happens when
// something goes wrong?": a worker that dies loses nothing, its unfinished columns go to the others.
//
// Watch for: the picture and the total number of iterations are the same whatever the number of workers and
// the schedule, and the same as `--local`; the static schedule gives every worker W/n columns however slow it
// is, the dynamic schedule gives a slow worker fewer; a killed worker's columns are redone by the others.
//
// Demo (three terminals):
//   ./server 11268 2 -o mandelbrot.png        the manager waits for 2 workers
//   ./client                                  worker 0
//   ./client                                  worker 1; the manager hands out the columns, writes the picture
// See also: client.cpp (the worker), mandelbrot.hpp (the computation and the protocol), netutil/workers.hpp (the
// acceptor, the handshake and the roster of workers, shared with 10_pi_montecarlo).
#include "mandelbrot.hpp"
#include "options.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"
#include "netutil/workers.hpp"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <vector>

namespace {

using mandelbrot::Canvas;
using mandelbrot::Schedule;

constexpr uint16_t kDefaultPort = 11268;
constexpr int kMaxPending = 64;  // connections still saying hello at once; more wait in the backlog
constexpr int kPauseMs = 100;    // while accepting is paused, how often the acceptor looks again
constexpr size_t kWindow = 2;    // columns out at one worker at once

struct WorkerStats {
    int columns = 0;
    uint64_t iterations = 0;
    double busy_seconds = 0;  // from sending a column to having its pixels back, summed
    bool lost = false;
};

// The job queue of the slide: which column goes to which worker, what is done. Owns the picture
// (column-major while it fills) and the statistics. The roster of workers (who joined, who is still there,
// how many columns are left) is netutil's WorkerBoard, whose mutex guards this board's state too; every
// member may be called from any thread, and a condition variable wakes handlers waiting for a column.
class ColumnBoard : public netutil::WorkerBoard {
public:
    ColumnBoard(const Canvas& canvas, int nworkers, Schedule schedule, const netutil::RunEvents& events)
        : WorkerBoard(nworkers, canvas.width, events),
          canvas_(canvas),
          schedule_(schedule),
          own_(static_cast<size_t>(nworkers)),
          stats_(static_cast<size_t>(nworkers)),
          done_(static_cast<size_t>(canvas.width), false),
          pixels_(static_cast<size_t>(canvas.width) * static_cast<size_t>(canvas.height)) {}

    // The next column for worker t: its own (static) or the shared queue's next (dynamic), then any column a
    // lost worker gave back. Waits while columns are out at other workers, since one of them may die and
    // give its columns back. std::nullopt: every column is done, or the run is over, or (wait false) no
    // column is free right now.
    std::optional<int> next(int t, bool wait) {
        std::unique_lock lock(mutex_);
        for (;;) {
            if (over_locked()) return std::nullopt;
            auto& own = own_[static_cast<size_t>(t)];
            auto& queue = !own.empty() ? own : shared_;
            if (!queue.empty()) {
                const int column = queue.front();
                queue.pop_front();
                return column;
            }
            if (!wait) return std::nullopt;
            changed_.wait(lock);
        }
    }

    // Column `column` came back from worker t, checked.
    void finish(int t, int column, const std::vector<uint8_t>& gray, uint64_t iterations, double seconds) {
        std::lock_guard lock(mutex_);
        auto& stats = stats_[static_cast<size_t>(t)];
        stats.busy_seconds += seconds;
        if (done_[static_cast<size_t>(column)]) return;  // cannot happen: a column is out at one worker at a time
        done_[static_cast<size_t>(column)] = true;
        std::copy(gray.begin(), gray.end(), pixels_.begin() + static_cast<ptrdiff_t>(column) * canvas_.height);
        stats.columns += 1;
        stats.iterations += iterations;
        done_locked();
    }

    // Worker t is gone (`why`) while it had the columns `in_flight` out: those and every column still waiting
    // in its own list go back to the shared queue, for the others. With no worker left, the run is over.
    void lose(int t, const std::deque<int>& in_flight, const std::string& why) {
        std::lock_guard lock(mutex_);
        auto& own = own_[static_cast<size_t>(t)];
        size_t given_back = own.size();
        for (auto column = in_flight.rbegin(); column != in_flight.rend(); ++column) {
            if (done_[static_cast<size_t>(*column)]) continue;
            shared_.push_front(*column);
            ++given_back;
        }
        shared_.insert(shared_.end(), own.begin(), own.end());
        own.clear();
        stats_[static_cast<size_t>(t)].lost = true;
        netutil::print_line("worker " + std::to_string(t) + " lost (" + why + "): " + std::to_string(given_back) +
                            (given_back == 1 ? " unfinished column goes" : " unfinished columns go") +
                            " to the other workers");
        lost_locked();
    }

    // Time worker t spent on columns it will never return (it was lost).
    void add_busy(int t, double seconds) {
        std::lock_guard lock(mutex_);
        stats_[static_cast<size_t>(t)].busy_seconds += seconds;
    }

    std::vector<WorkerStats> stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }
    // The picture, rows top to bottom, once every column is in.
    std::vector<uint8_t> picture() const {
        std::lock_guard lock(mutex_);
        const auto width = static_cast<size_t>(canvas_.width), height = static_cast<size_t>(canvas_.height);
        std::vector<uint8_t> rows(width * height);
        for (size_t column = 0; column < width; ++column)
            for (size_t row = 0; row < height; ++row) rows[row * width + column] = pixels_[column * height + row];
        return rows;
    }

private:
    // Every worker is there. The slide's static assignment: handler t manages the columns k with k mod n = t.
    // The dynamic schedule puts every column in one queue, so a worker takes the next one whenever it is free.
    void start_locked() override {
        for (int column = 0; column < canvas_.width; ++column) {
            if (schedule_ == Schedule::Static)
                own_[static_cast<size_t>(column % nworkers_)].push_back(column);
            else
                shared_.push_back(column);
        }
        netutil::print_line("all " + netutil::count(nworkers_, "worker") + " connected: handing out " +
                            netutil::count(canvas_.width, "column") + ", " + mandelbrot::schedule_name(schedule_) +
                            " schedule");
    }

    const Canvas canvas_;
    const Schedule schedule_;
    std::vector<std::deque<int>> own_;  // static schedule: the columns still waiting for worker t
    std::deque<int> shared_;            // dynamic schedule's queue, and columns given back by lost workers
    std::vector<WorkerStats> stats_;
    std::vector<bool> done_;
    std::vector<uint8_t> pixels_;  // column-major: column k is pixels_[k * height, (k + 1) * height)
};

// Why a worker's reply was not a column: raised inside serve_worker, caught there.
struct Lost {
    std::string why;
};

// The manager's end of one worker's connection: reads the replies, header lines and blocks of bytes alike,
// through one buffer (replies may follow each other closely, since two columns are out at once).
// Every wait also watches `quit` and gives up after the reply timeout. One thread (the handler) only.
class ReplyReader {
public:
    ReplyReader(int fd, const netutil::RunEvents& events, int timeout_ms)
        : fd_(fd), events_(events), timeout_ms_(timeout_ms) {}

    std::string read_line(int column) {
        for (;;) {
            if (const size_t newline = buffer_.find('\n'); newline != std::string::npos) {
                std::string line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                return line;
            }
            if (buffer_.size() > mandelbrot::kMaxLine) throw Lost{"a reply line too long"};
            if (!fill(column)) throw Lost{"connection closed"};
        }
    }

    void read_bytes(uint8_t* out, size_t size, int column) {
        while (buffer_.size() < size)
            if (!fill(column)) throw Lost{"connection closed in the middle of column " + std::to_string(column)};
        std::copy(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(size), out);
        buffer_.erase(0, size);
    }

private:
    bool fill(int column) {
        switch (netutil::wait_readable(fd_, events_.quit.fd(), timeout_ms_)) {
            case netutil::Wait::Stopped: throw Lost{"stopped"};
            case netutil::Wait::TimedOut:
                throw Lost{"no reply for column " + std::to_string(column) + " within " +
                           std::to_string(timeout_ms_ / 1000) + " s"};
            case netutil::Wait::Ready: break;
        }
        char chunk[16384];
        const size_t n = netutil::read_some(fd_, chunk, sizeof chunk);
        buffer_.append(chunk, n);
        return n > 0;
    }

    int fd_;
    const netutil::RunEvents& events_;
    int timeout_ms_;
    std::string buffer_;
};

// The reply for `column`, checked: the header line for that column, then exactly height bytes whose
// inverted grayscales add up to the iterations announced.
std::vector<uint8_t> read_column(ReplyReader& reader, const Canvas& canvas, int column, uint64_t& iterations) {
    const std::string line = reader.read_line(column);
    if (const auto header = mandelbrot::parse_pixels_line(line, canvas)) {
        if (header->column != column)
            throw Lost{"sent " + netutil::quote(line) + " for column " + std::to_string(column)};
        std::vector<uint8_t> gray(static_cast<size_t>(canvas.height));
        reader.read_bytes(gray.data(), gray.size(), column);
        if (mandelbrot::iterations_of(gray.data(), gray.size()) != header->iterations)
            throw Lost{"column " + std::to_string(column) + ": the grayscales do not add up to " +
                       netutil::count(header->iterations, "iteration")};
        iterations = header->iterations;
        return gray;
    }
    if (line.rfind("error:", 0) == 0) throw Lost{"it said " + netutil::quote(line)};
    throw Lost{"sent " + netutil::quote(line) + " instead of PIXELS " + std::to_string(column)};
}

// The handler thread of one connection: the handshake (a connection that does not say HELLO is turned away
// and never counts as a worker), the wait for the others, then columns until none is left.
// `greeting` is the connection's place among those saying hello (netutil::WorkerAcceptor keeps their count
// bounded).
void serve_worker(netutil::UniqueFd connection, const std::string& peer, netutil::Greeting& greeting,
                  ColumnBoard& board, const Canvas& canvas, const netutil::RunEvents events,
                  const netutil::ManagerLimits& limits) {
    const int fd = connection.get();
    const std::string expected = "expected " + std::string(mandelbrot::kHello);
    std::optional<int> slot;
    std::deque<int> in_flight;               // columns sent to the worker, replies still to come, in order
    std::optional<netutil::Stopwatch> busy;  // since the worker last had nothing to do
    auto lose = [&](const std::string& why) {
        if (!in_flight.empty() && busy) board.add_busy(*slot, busy->seconds());
        board.lose(*slot, in_flight, why);
    };
    try {
        netutil::set_send_timeout(fd, std::chrono::milliseconds(limits.reply_timeout_ms));
        const netutil::Hello hello =
            netutil::read_hello(fd, mandelbrot::kHello, mandelbrot::kMaxLine, events, limits.hello_timeout_ms);
        greeting.end();
        if (hello.status == netutil::Hello::Status::Stopped) return;
        if (hello.status == netutil::Hello::Status::Refused) return netutil::turn_away(fd, peer, hello.why, expected);
        slot = board.join(peer);
        if (!slot)
            return netutil::turn_away(fd, peer, "every worker is there already", "the manager has all its workers");
        netutil::write_all(fd, mandelbrot::canvas_line(canvas) + "\n");

        // Waiting for the others: a worker that sends anything now, or closes, leaves.
        switch (netutil::wait_for_start(fd, events)) {
            case netutil::StartWait::Started: break;
            case netutil::StartWait::Quit: return;
            case netutil::StartWait::Left:
                if (board.leave_before_start(*slot)) return;
                throw Lost{"connection closed"};
        }

        // Two columns out at once: while the worker computes one, the next is already in its socket, so it
        // never idles for a round trip. Only with nothing out does the handler wait for a free column.
        ReplyReader reader(fd, events, limits.reply_timeout_ms);
        for (;;) {
            while (in_flight.size() < kWindow) {
                const std::optional<int> column = board.next(*slot, in_flight.empty());
                if (!column) break;
                if (in_flight.empty()) busy.emplace();
                in_flight.push_back(*column);
                netutil::write_all(fd, mandelbrot::column_line(*column) + "\n");
            }
            if (in_flight.empty()) break;
            uint64_t iterations = 0;
            const std::vector<uint8_t> gray = read_column(reader, canvas, in_flight.front(), iterations);
            const int column = in_flight.front();
            in_flight.pop_front();
            board.finish(*slot, column, gray, iterations, in_flight.empty() ? busy->seconds() : 0.0);
        }
        if (events.quit.stop_requested() && board.remaining() > 0) return;  // Ctrl-C: closing is the message
        netutil::write_all(fd, "BYE\n");
    } catch (const Lost& lost) {
        if (lost.why == "stopped") return;
        if (slot) lose(lost.why);
    } catch (const std::system_error& error) {
        if (!slot) {
            netutil::print_line("turned away " + peer + ": " + error.what());
        } else if (!board.leave_before_start(*slot)) {
            lose(error.what());
        }
    }
}

// PGM (P5): a short text header, then the bytes row by row. Any image viewer opens it.
void write_pgm(const std::string& path, const Canvas& canvas, const std::vector<uint8_t>& rows) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), std::fclose);
    if (!file) netutil::throw_errno("open " + path);
    const std::string header = "P5\n" + std::to_string(canvas.width) + " " + std::to_string(canvas.height) + "\n255\n";
    if (std::fwrite(header.data(), 1, header.size(), file.get()) != header.size() ||
        std::fwrite(rows.data(), 1, rows.size(), file.get()) != rows.size())
        netutil::throw_errno("write " + path);
    if (std::fclose(file.release()) != 0) netutil::throw_errno("write " + path);
}

// PNG through libpng (Debian's libpng-dev): 8-bit grayscale, no timestamp, so the same picture gives the same bytes.
void write_png(const std::string& path, const Canvas& canvas, const std::vector<uint8_t>& rows) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), std::fclose);
    if (!file) netutil::throw_errno("open " + path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info) {
        png_destroy_write_struct(&png, nullptr);
        throw std::runtime_error("write " + path + ": libpng could not start");
    }
    std::vector<png_bytep> row_pointers(static_cast<size_t>(canvas.height));
    for (size_t row = 0; row < row_pointers.size(); ++row)
        row_pointers[row] = const_cast<png_bytep>(rows.data() + row * static_cast<size_t>(canvas.width));
    if (setjmp(png_jmpbuf(png))) {  // libpng reports its errors by longjmp to here
        png_destroy_write_struct(&png, &info);
        throw std::runtime_error("write " + path + ": libpng failed");
    }
    png_init_io(png, file.get());
    png_set_IHDR(png, info, static_cast<png_uint_32>(canvas.width), static_cast<png_uint_32>(canvas.height), 8,
                 PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, row_pointers.data());
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    if (std::fclose(file.release()) != 0) netutil::throw_errno("write " + path);
}

// Always a PGM; a name ending in .png gets the PNG too, and the PGM beside it (NAME.pgm).
void write_picture(const std::string& path, const Canvas& canvas, const std::vector<uint8_t>& rows) {
    const bool png = path.size() > 4 && path.compare(path.size() - 4, 4, ".png") == 0;
    const std::string pgm_path = png ? path.substr(0, path.size() - 4) + ".pgm" : path;
    write_pgm(pgm_path, canvas, rows);
    if (png) write_png(path, canvas, rows);
    netutil::print_line("wrote " + pgm_path + (png ? " and " + path : std::string()) + " (" +
                        std::to_string(canvas.width) + "x" + std::to_string(canvas.height) + ")");
}

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f s", seconds);
    return text;
}

void print_total(const Canvas& canvas, uint64_t iterations) {
    const Canvas slide;
    const bool slide_canvas = canvas.width == slide.width && canvas.height == slide.height;
    netutil::print_line("total iterations " + std::to_string(iterations) +
                        (slide_canvas ? " (the slide says 16,652,580: see README.md)" : ""));
}

// --local: the same columns computed here, one after the other, no sockets: the reference picture.
int run_local(const Canvas& canvas, const std::string& output) {
    const netutil::Stopwatch watch;
    const auto width = static_cast<size_t>(canvas.width), height = static_cast<size_t>(canvas.height);
    std::vector<uint8_t> column(height), rows(width * height);
    uint64_t iterations = 0;
    for (int k = 0; k < canvas.width; ++k) {
        iterations += mandelbrot::compute_column(canvas, k, column.data());
        for (size_t row = 0; row < height; ++row) rows[row * width + static_cast<size_t>(k)] = column[row];
    }
    print_total(canvas, iterations);
    netutil::print_line("wall time " + seconds_text(watch.seconds()) + " (local, one thread, no sockets)");
    write_picture(output, canvas, rows);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Manager of the Mandelbrot computation (lecture: pleasingly parallel computations): waits for\n"
        "NWORKERS worker clients, hands out the columns of the canvas, gathers the grayscales 255 - k,\n"
        "prints the total number of iterations and writes the picture. A worker that dies loses nothing:\n"
        "its columns go to the others. Ctrl-C, SIGTERM or SIGHUP abandons the run: exit 0, no picture.\n"
        "Limits: protocol lines of at most 200 bytes; at most 64 connections saying hello at once (more\n"
        "wait in the backlog); a canvas of at most 10000 x 10000."};
    int port = kDefaultPort;
    int nworkers = 2;
    Schedule schedule = Schedule::Static;
    Canvas canvas;
    std::string output = "mandelbrot.pgm";
    std::string bind_address = netutil::kAnyAddress;
    bool local = false;
    int reply_timeout = 60;
    int hello_timeout = 5;
    app.add_option("PORT", port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("NWORKERS", nworkers, "number of workers to wait for before handing out columns")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 256));
    mandelbrot::add_schedule_and_canvas_options(
        app, schedule,
        "static: worker t gets the columns k with k mod n = t "
        "(the slide); dynamic: one shared queue, a free worker takes the next column",
        canvas);
    app.add_option("-o,--output", output,
                   "picture file: always a PGM; a name ending in .png also gets a PNG "
                   "(and the PGM beside it, NAME.pgm)")
        ->capture_default_str();
    app.add_flag("--local", local,
                 "compute here, one thread, no sockets (the reference for speed and for the picture)");
    netutil::add_manager_options(app, reply_timeout,
                                 "seconds a worker may take for one column before it counts as "
                                 "lost and its columns go to the others",
                                 3600, hello_timeout, bind_address);
    netutil::parse_or_exit(app, argc, argv);
    const netutil::ManagerLimits limits{kMaxPending, kPauseMs, hello_timeout * 1000, reply_timeout * 1000};

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        if (local) return run_local(canvas, output);

        // The signals, the listener, and every descriptor the manager keeps: the listening line comes last.
        netutil::WorkerAcceptor acceptor(bind_address, static_cast<uint16_t>(port), limits);
        netutil::print_line(
            "manager waits for " + netutil::count(nworkers, "worker") + ": canvas " + std::to_string(canvas.width) +
            "x" + std::to_string(canvas.height) + ", x in [" + mandelbrot::format_double(canvas.xmin) + ", " +
            mandelbrot::format_double(canvas.xmax) + "], y in [" + mandelbrot::format_double(canvas.ymin) + ", " +
            mandelbrot::format_double(canvas.ymax) + "], " + mandelbrot::schedule_name(schedule) + " schedule");

        const netutil::RunEvents events = acceptor.events();
        ColumnBoard board(canvas, nworkers, schedule, events);
        const netutil::Stopwatch wall;
        // One handler thread per connection while workers are missing (newcomers after the start are turned
        // away by the acceptor), until every column is done, no worker is left, or Ctrl-C.
        const std::optional<netutil::Stopwatch> since_start = acceptor.run(
            board, [&](netutil::UniqueFd connection, const std::string& peer, netutil::Greeting& greeting) {
                serve_worker(std::move(connection), peer, greeting, board, canvas, events, limits);
            });

        const int signo = netutil::caught_signal();
        const int remaining = board.remaining();
        if (remaining > 0 && signo != 0) {
            netutil::print_line("manager stopped by " + netutil::signal_name(signo) + ": " +
                                (board.started() ? std::to_string(canvas.width - remaining) + " of " +
                                                       netutil::count(canvas.width, "column") + " were done"
                                                 : std::string("the work had not started")) +
                                ", no picture written");
            return 0;
        }
        uint64_t iterations = 0;
        const auto stats = board.stats();
        for (size_t t = 0; t < stats.size(); ++t) {
            const auto& s = stats[t];
            iterations += s.iterations;
            netutil::print_line("worker " + std::to_string(t) + ": " + netutil::count(s.columns, "column") + ", " +
                                netutil::count(s.iterations, "iteration") + ", busy " + seconds_text(s.busy_seconds) +
                                " with columns out" + (s.lost ? " (lost)" : ""));
        }
        if (remaining > 0) {
            netutil::print_error(netutil::program_name() + ": no worker left: " + std::to_string(remaining) + " of " +
                                 netutil::count(canvas.width, "column") + " not computed, no picture written");
            return 1;
        }
        print_total(canvas, iterations);
        netutil::print_line("wall time " + seconds_text(since_start ? since_start->seconds() : wall.seconds()) +
                            " (from the start of the work)");
        write_picture(output, canvas, board.picture());
        return 0;
    });
}
