// 09_mandelbrot/options.hpp: the command-line options ./server (server.cpp) and ./mpi (mpi.cpp) share: the
// schedule and the canvas.
#pragma once

#include "mandelbrot.hpp"

#include "netutil/cli.hpp"

#include <string>
#include <utility>
#include <vector>

namespace mandelbrot {

// static: worker t gets the columns k with k mod n = t (the slide); dynamic: a free worker takes the next one.
enum class Schedule { Static, Dynamic };

inline std::string schedule_name(Schedule schedule) { return schedule == Schedule::Static ? "static" : "dynamic"; }

// --schedule (`schedule_help`: what each schedule means in this program), --width and --height.
inline void add_schedule_and_canvas_options(CLI::App& app, Schedule& schedule, const std::string& schedule_help,
                                            Canvas& canvas) {
    const std::vector<std::pair<std::string, Schedule>> schedules{{"static", Schedule::Static},
                                                                  {"dynamic", Schedule::Dynamic}};
    app.add_option("--schedule", schedule, schedule_help)
        ->transform(netutil::one_of(schedules).description(""))
        ->type_name("static|dynamic")
        ->default_str("static");
    app.add_option("--width", canvas.width, "canvas width in pixels (columns)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, kMaxSide));
    app.add_option("--height", canvas.height, "canvas height in pixels (rows)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, kMaxSide));
}

}  // namespace mandelbrot
