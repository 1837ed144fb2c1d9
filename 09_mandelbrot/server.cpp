// 09_mandelbrot/server.cpp: the manager of a manager/worker computation of the Mandelbrot set.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slides "The Mandelbrot Set" (500 x 400 pixels
// over x in [-2, 0.5], y in [-1, 1], grayscale 255 - k) and "Manager/Worker Paradigm": the server manages a
// job queue of columns, n handler threads serve n worker clients, handler t hands out the columns k with
// k mod n = t (`--schedule static`, the slide) or whatever column is next in one shared queue
// (`--schedule dynamic`, the lecture's dynamic load balancing). Also the closing questions of the lecture
// "Client-server architecture model: with sockets and multiprocessing in Python", slide "Considerations"
// ("What happens when something goes wrong?"): a worker that dies loses nothing, its unfinished columns go
// to the others.
//
// The slide's three steps are in run_manager(): the accept loop (one handler thread per connection while
// workers are missing), the handler's hand-out of columns (hand_out_columns), and the picture at the end.
//
// Watch for: the picture and the total number of iterations are the same whatever the number of workers and
// the schedule, and the same as `--local`; the static schedule gives every worker W/n columns however slow it
// is, the dynamic schedule gives a slow worker fewer; a killed worker's columns are redone by the others.
//
// Demo (three terminals):
//   ./server 11268 2 -o mandelbrot.png        the manager waits for 2 workers
//   ./client                                  worker 0
//   ./client                                  worker 1; the manager hands out the columns, writes the picture
// See also: client.cpp (the worker), mandelbrot.hpp (the computation and the protocol), manager.hpp (the door,
// the handler threads, the handshake and the roster of workers, shared with 10_pi_montecarlo).
#include "manager.hpp"
#include "mandelbrot.hpp"
#include "options.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

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
// Columns out at each worker at once (--prefetch), chosen by measurement (README.md, "Costs of the design"): with
// 8, one worker is within 1% of --local and two are 1.98x faster than one; more gains next to nothing, and a lost
// worker gives back more.
constexpr int kColumnsOut = 8;

// The command line (parse_settings, below main).
struct Settings {
    manager::ManagerSettings common{.port = kDefaultPort, .reply_timeout = 60};  // PORT, NWORKERS, timeouts, --bind
    Schedule schedule = Schedule::Static;
    Canvas canvas;
    std::string output = "mandelbrot.pgm";
    bool local = false;
};
Settings parse_settings(int argc, char** argv);

struct WorkerStats {
    int columns = 0;
    uint64_t iterations = 0;
    double busy_seconds = 0;  // from sending a column to having its pixels back, summed
    bool lost = false;
};

// The job queue of the slide: which column goes to which worker, what is done. Owns the picture
// (column-major while it fills) and the statistics. Its roster of workers (who joined, who is still there,
// how many columns are left) holds the mutex that guards this board's state too; every member may be called
// from any thread, and the roster wakes handlers waiting for a column.
class ColumnBoard {
public:
    ColumnBoard(const Canvas& canvas, int nworkers, Schedule schedule, const netutil::RunEvents& events)
        : roster_(nworkers, canvas.width, events, [this] { deal_locked(); }),
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
        auto lock = roster_.lock();
        for (;;) {
            if (roster_.over_locked()) return std::nullopt;
            auto& own = own_[static_cast<size_t>(t)];
            // BEGIN SOLUTION 09.1 "the next column: the worker's own, else the shared queue's front"
            auto& queue = !own.empty() ? own : shared_;
            // END SOLUTION
            // BEGIN STUB
            // // TODO (09.1): the static schedule's own columns first; once none is left, the front of the shared
            // // queue `shared_` (every column under --schedule dynamic, and those lost workers gave back).
            // auto& queue = own;
            // END STUB
            if (!queue.empty()) {
                const int column = queue.front();
                queue.pop_front();
                return column;
            }
            if (!wait) return std::nullopt;
            roster_.wait_locked(lock);
        }
    }

    // Column `column` came back from worker t, checked.
    void finish(int t, int column, const std::vector<uint8_t>& gray, uint64_t iterations, double seconds) {
        const auto lock = roster_.lock();
        auto& stats = stats_[static_cast<size_t>(t)];
        stats.busy_seconds += seconds;
        if (done_[static_cast<size_t>(column)]) return;  // cannot happen: a column is out at one worker at a time
        done_[static_cast<size_t>(column)] = true;
        std::copy(gray.begin(), gray.end(), pixels_.begin() + static_cast<ptrdiff_t>(column) * canvas_.height);
        stats.columns += 1;
        stats.iterations += iterations;
        roster_.done_locked();
    }

    // Worker t is gone (`why`) while it had the columns `in_flight` out: those and every column still waiting
    // in its own list go back to the shared queue, for the others. With no worker left, the run is over.
    void lose(int t, const std::deque<int>& in_flight, const std::string& why) {
        const auto lock = roster_.lock();
        auto& own = own_[static_cast<size_t>(t)];
        size_t given_back = own.size();
        // BEGIN SOLUTION 09.1 "a lost worker's columns go back to the shared queue"
        for (auto column = in_flight.rbegin(); column != in_flight.rend(); ++column) {
            if (done_[static_cast<size_t>(*column)]) continue;
            shared_.push_front(*column);
            ++given_back;
        }
        shared_.insert(shared_.end(), own.begin(), own.end());
        own.clear();
        // END SOLUTION
        // BEGIN STUB
        // // TODO (09.1): every column of `in_flight` not done yet (all of them: up to --prefetch were sent) goes
        // // to the front of `shared_`, in the order sent, and the columns still waiting in `own` to its back;
        // // count them in `given_back`.
        // (void)in_flight;
        // netutil::not_implemented("09.1");
        // END STUB
        stats_[static_cast<size_t>(t)].lost = true;
        netutil::print_line("worker " + std::to_string(t) + " lost (" + why + "): " + std::to_string(given_back) +
                            (given_back == 1 ? " unfinished column goes" : " unfinished columns go") +
                            " to the other workers");
        roster_.lost_locked();
    }

    // Time worker t spent on columns it will never return (it was lost).
    void add_busy(int t, double seconds) {
        const auto lock = roster_.lock();
        stats_[static_cast<size_t>(t)].busy_seconds += seconds;
    }

    manager::Roster& roster() { return roster_; }
    std::vector<WorkerStats> stats() const {
        const auto lock = roster_.lock();
        return stats_;
    }
    // The picture, rows top to bottom, once every column is in.
    std::vector<uint8_t> picture() const {
        const auto lock = roster_.lock();
        const auto width = static_cast<size_t>(canvas_.width), height = static_cast<size_t>(canvas_.height);
        std::vector<uint8_t> rows(width * height);
        for (size_t column = 0; column < width; ++column)
            for (size_t row = 0; row < height; ++row) rows[row * width + column] = pixels_[column * height + row];
        return rows;
    }

private:
    // Every worker is there (under the roster's mutex). The slide's static assignment: handler t manages the
    // columns k with k mod n = t. The dynamic schedule puts every column in one queue, so a worker takes the
    // next one whenever it is free.
    void deal_locked() {
        const int nworkers = roster_.nworkers();
        for (int column = 0; column < canvas_.width; ++column) {
            if (schedule_ == Schedule::Static) {
                own_[static_cast<size_t>(column % nworkers)].push_back(column);
                continue;
            }
            // BEGIN SOLUTION 09.1 "the dynamic schedule: every column in one shared queue"
            shared_.push_back(column);
            // END SOLUTION
            // BEGIN STUB
            // // TODO (09.1): --schedule dynamic: put the column at the back of the shared queue `shared_`, which
            // // next() hands out to whichever worker is free.
            // netutil::not_implemented("09.1");
            // END STUB
        }
        netutil::print_line("all " + netutil::count(nworkers, "worker") + " connected: handing out " +
                            netutil::count(canvas_.width, "column") + ", " + mandelbrot::schedule_name(schedule_) +
                            " schedule");
    }

    manager::Roster roster_;
    const Canvas canvas_;
    const Schedule schedule_;
    std::vector<std::deque<int>> own_;  // static schedule: the columns still waiting for worker t
    std::deque<int> shared_;            // dynamic schedule's queue, and columns given back by lost workers
    std::vector<WorkerStats> stats_;
    std::vector<bool> done_;
    std::vector<uint8_t> pixels_;  // column-major: column k is pixels_[k * height, (k + 1) * height)
};

// The manager's end of one worker's connection: reads the replies, header lines and blocks of bytes alike,
// through one buffer (replies may follow each other closely, since up to --prefetch columns are out at once).
// Every wait also watches `quit` (manager::Stopped) and gives up after the reply timeout (manager::Lost, as
// for anything that is not a column). One thread (the handler) only.
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
            if (buffer_.size() > mandelbrot::kMaxLine) throw manager::Lost{"a reply line too long"};
            if (!fill(column)) throw manager::Lost{"connection closed"};
        }
    }

    void read_bytes(uint8_t* out, size_t size, int column) {
        while (buffer_.size() < size)
            if (!fill(column))
                throw manager::Lost{"connection closed in the middle of column " + std::to_string(column)};
        std::copy(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(size), out);
        buffer_.erase(0, size);
    }

    // Whether a whole reply of a column of `height` bytes is already here (a worker may send several in one write).
    bool holds_reply(size_t height) const {
        const size_t newline = buffer_.find('\n');
        return newline != std::string::npos && buffer_.size() - newline - 1 >= height;
    }

private:
    bool fill(int column) {
        switch (netutil::wait_readable(fd_, events_.quit.fd(), timeout_ms_)) {
            case netutil::Wait::Stopped: throw manager::Stopped{};
            case netutil::Wait::TimedOut:
                throw manager::Lost{"no reply for column " + std::to_string(column) + " within " +
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
            throw manager::Lost{"sent " + netutil::quote(line) + " for column " + std::to_string(column)};
        std::vector<uint8_t> gray(static_cast<size_t>(canvas.height));
        reader.read_bytes(gray.data(), gray.size(), column);
        if (mandelbrot::iterations_of(gray.data(), gray.size()) != header->iterations)
            throw manager::Lost{"column " + std::to_string(column) + ": the grayscales do not add up to " +
                                netutil::count(header->iterations, "iteration")};
        iterations = header->iterations;
        return gray;
    }
    if (line.rfind("error:", 0) == 0) throw manager::Lost{"it said " + netutil::quote(line)};
    throw manager::Lost{"sent " + netutil::quote(line) + " instead of PIXELS " + std::to_string(column)};
}

// The slide's hand-out, in the handler thread of worker t: columns until none is left. Up to `window`
// (--prefetch) columns out at once, sent before the first reply is read, and the window topped up again as
// replies come: while the worker computes one, the next is already in its socket, so it never idles for a round
// trip (with 1, it does: the worker's reply, then the manager's next column). A worker with several columns
// waiting sends its replies several to a write (netutil::work_for_manager); the handler reads them all before
// it tops up, so their columns go out in one write too. Only with nothing out does the handler wait for a free
// column. `in_flight` (the columns sent, replies still to come, in order) and `busy` (since the worker last had
// nothing to do) are what the worker owes if it is lost.
void hand_out_columns(int fd, int t, ColumnBoard& board, const Canvas& canvas, const netutil::RunEvents& events,
                      int reply_timeout_ms, size_t window, std::deque<int>& in_flight,
                      std::optional<netutil::Stopwatch>& busy) {
    ReplyReader reader(fd, events, reply_timeout_ms);
    const auto height = static_cast<size_t>(canvas.height);
    for (;;) {
        std::string columns;
        while (in_flight.size() < window && (in_flight.empty() || !reader.holds_reply(height))) {
            const std::optional<int> column = board.next(t, in_flight.empty());
            if (!column) break;
            if (in_flight.empty()) busy.emplace();
            in_flight.push_back(*column);
            columns += mandelbrot::column_line(*column) + "\n";
        }
        if (!columns.empty()) netutil::write_all(fd, columns);
        if (in_flight.empty()) return;
        uint64_t iterations = 0;
        const std::vector<uint8_t> gray = read_column(reader, canvas, in_flight.front(), iterations);
        const int column = in_flight.front();
        in_flight.pop_front();
        board.finish(t, column, gray, iterations, in_flight.empty() ? busy->seconds() : 0.0);
    }
}

// The handler thread of one connection: the handshake (manager.hpp: HELLO, then the CANVAS line, then the wait
// for the others), the columns, BYE. A lost worker's columns go back to the board for the others.
void serve_worker(manager::Caller caller, manager::Greeting& greeting, ColumnBoard& board, const Canvas& canvas,
                  const netutil::RunEvents& events, const netutil::ManagerLimits& limits, int prefetch) {
    std::deque<int> in_flight;
    std::optional<netutil::Stopwatch> busy;
    const manager::Handshake handshake{mandelbrot::kHello, mandelbrot::kMaxLine, mandelbrot::canvas_line(canvas)};
    manager::serve_connection(
        std::move(caller), greeting, board.roster(), events, limits, handshake,
        [&](int fd, int t) {
            hand_out_columns(fd, t, board, canvas, events, limits.reply_timeout_ms, static_cast<size_t>(prefetch),
                             in_flight, busy);
        },
        [&](int t, const std::string& why) {
            if (!in_flight.empty() && busy) board.add_busy(t, busy->seconds());
            board.lose(t, in_flight, why);
        });
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

// The manager, as the slide runs it: wait for the workers (the accept loop, a thread per worker), hand out the
// columns (each handler), gather them, and write the picture.
int run_manager(const Settings& settings) {
    // The signals, the listener, and every descriptor the manager keeps: the listening line comes last.
    manager::Doorway door(settings.common);
    const Canvas& canvas = settings.canvas;
    netutil::print_line("manager waits for " + netutil::count(settings.common.nworkers, "worker") + ": canvas " +
                        std::to_string(canvas.width) + "x" + std::to_string(canvas.height) + ", x in [" +
                        mandelbrot::format_double(canvas.xmin) + ", " + mandelbrot::format_double(canvas.xmax) +
                        "], y in [" + mandelbrot::format_double(canvas.ymin) + ", " +
                        mandelbrot::format_double(canvas.ymax) + "], " + mandelbrot::schedule_name(settings.schedule) +
                        " schedule");
    const netutil::RunEvents events = door.events();
    ColumnBoard board(canvas, settings.common.nworkers, settings.schedule, events);
    const netutil::Stopwatch wall;

    // The accept loop: one handler thread per connection while workers are missing (newcomers after the start
    // are turned away at the door), until every column is done, no worker is left, or Ctrl-C.
    manager::Handlers handlers(door, board.roster());
    while (std::optional<manager::Caller> caller = door.accept(board.roster(), handlers.saying_hello()))
        handlers.start(std::move(*caller), [&](manager::Caller worker, manager::Greeting& greeting) {
            serve_worker(std::move(worker), greeting, board, canvas, events, door.limits(), settings.common.prefetch);
        });
    handlers.join_all();

    if (manager::stopped_by_signal(board.roster(), canvas.width, "column", "no picture written")) return 0;
    uint64_t iterations = 0;
    const auto stats = board.stats();
    for (size_t t = 0; t < stats.size(); ++t) {
        const auto& s = stats[t];
        iterations += s.iterations;
        netutil::print_line("worker " + std::to_string(t) + ": " + netutil::count(s.columns, "column") + ", " +
                            netutil::count(s.iterations, "iteration") + ", busy " + seconds_text(s.busy_seconds) +
                            " with columns out" + (s.lost ? " (lost)" : ""));
    }
    if (manager::no_worker_left(board.roster(), canvas.width, "column", "not computed, no picture written")) return 1;
    print_total(canvas, iterations);
    const auto& since_start = door.since_start();
    netutil::print_line("wall time " + seconds_text(since_start ? since_start->seconds() : wall.seconds()) +
                        " (from the start of the work)");
    write_picture(settings.output, canvas, board.picture());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        if (settings.local) return run_local(settings.canvas, settings.output);
        return run_manager(settings);
    });
}

namespace {

// The command line. Usage errors exit 2 with a short message; --help is short, README.md says the limits.
Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Manager of the Mandelbrot computation (lecture: pleasingly parallel computations): waits for\n"
        "NWORKERS worker clients, hands out the columns of the canvas, gathers the grayscales 255 - k,\n"
        "prints the total number of iterations and writes the picture. A worker that dies loses nothing:\n"
        "its columns go to the others. Ctrl-C, SIGTERM or SIGHUP abandons the run: exit 0, no picture.\n"
        "Limits: see README.md."};
    Settings settings;
    manager::add_port_and_workers(app, settings.common, "columns");
    mandelbrot::add_schedule_and_canvas_options(app, settings.schedule,
                                                "static: worker t gets the columns k with k mod n = t (the slide); "
                                                "dynamic: one shared queue, a free worker takes the next column",
                                                settings.canvas);
    app.add_option("-o,--output", settings.output,
                   "picture file: always a PGM; a name ending in .png also gets a PNG (and the PGM beside it, "
                   "NAME.pgm)")
        ->capture_default_str();
    manager::add_prefetch_option(app, settings.common, kColumnsOut, "columns",
                                 "a lost worker's columns out are all redone by the others");
    app.add_flag("--local", settings.local,
                 "compute here, one thread, no sockets (the reference for speed and for the picture)");
    netutil::add_manager_options(app, settings.common.reply_timeout,
                                 "seconds a worker may take for one column before it counts as lost and its columns "
                                 "go to the others",
                                 3600, settings.common.hello_timeout, settings.common.bind_address);
    netutil::parse_or_exit(app, argc, argv);
    return settings;
}

}  // namespace
