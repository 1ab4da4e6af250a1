// Large sweeps: validating and expanding 10^5 points stays under a second and 100 MB (each distinct
// hardware and model document is resolved once and shared), a product above the limit is refused
// before anything is resolved, and the composed point hash equals the hash of the resolved documents.
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "sweep/sweep_spec.h"
#include "config/json_reader.h"
#include "support/isolated.h"

using namespace attnsim;
using namespace attnsim::test;

namespace {

// Peak resident set of this process, in bytes (VmHWM of /proc/self/status).
long peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  return -1;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr double kSlowdown = 10;  // the sanitizer build's instrumentation
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr double kSlowdown = 10;
#else
constexpr double kSlowdown = 1;
#endif
#else
constexpr double kSlowdown = 1;
#endif

}  // namespace

TEST_CASE("sweep: 10^5 points validate in under a second and 100 MB", "[sweep][limits]") {
  // 10 seq_len x 5 variants x 10 rows x 10 bank sizes x 20 DMA depths = 100,000 points, from 50
  // distinct models and 2,000 distinct hardware documents.
  const Json doc = parse_json_text(R"({"hardware": "edge", "model": "lra-text", "axes": [
      {"path": "/model/seq_len", "values": [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]},
      {"path": "/attention/variant", "values": ["flash", "unfused", "primal", "lowrank_linear", "performer"]},
      {"path": "/array/rows", "values": [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]},
      {"path": "/sram/bytes_per_bank", "values": [16384, 20480, 24576, 28672, 32768, 36864, 40960, 45056, 49152, 53248]},
      {"path": "/dma/outstanding", "values": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}]})",
                                   "big.json");
  auto r = run_isolated([&] {
    // CPU time, not wall time: the machine may be shared.
    const long rss0 = peak_rss_bytes();
    const std::clock_t t0 = std::clock();
    const SweepSpec spec = parse_sweep_spec(doc, "big.json", "");
    const double seconds = double(std::clock() - t0) / CLOCKS_PER_SEC;
    const long rss1 = peak_rss_bytes();
    std::ostringstream out;
    out << spec.points.size() << " " << seconds << " " << (rss1 - rss0);
    return out.str();
  });
  REQUIRE(r.exit_status == 0);
  std::istringstream in(r.output);
  std::size_t points = 0;
  double seconds = 0;
  long bytes = 0;
  in >> points >> seconds >> bytes;
  INFO("10^5 points: " << seconds << " s, " << bytes / 1048576.0 << " MB of peak RSS");
  CHECK(points == 100000);
  CHECK(seconds < 1.0 * kSlowdown);
  CHECK(bytes < 100L * 1024 * 1024 * long(kSlowdown > 1 ? 3 : 1));  // ASan's shadow and quarantine
}

TEST_CASE("sweep: above 10^6 points is refused before any point is resolved", "[sweep][limits]") {
  // 1001 x 1000 values: 1,001,000 points. The values themselves would be refused (rows of 0 and above
  // 4096), but the product is checked first, so that is the only problem reported.
  Json values = Json::array(), rows = Json::array();
  for (int i = 0; i < 1001; ++i) values.push_back(64 + i);
  for (int i = 0; i < 1000; ++i) rows.push_back(i * 10);
  const Json doc = {{"hardware", "edge"},
                    {"model", "lra-text"},
                    {"axes", {{{"path", "/model/seq_len"}, {"values", values}}, {{"path", "/array/rows"}, {"values", rows}}}}};
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(parse_sweep_spec(doc, "huge.json", ""),
                    "huge.json: /axes: the product of the axes has more than 1000000 points");
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 1.0 * kSlowdown);
}

TEST_CASE("sweep: a point's hash is the hash of its resolved documents", "[sweep]") {
  const Json doc = parse_json_text(R"({"hardware": "edge", "model": "lra-text",
      "axes": [{"path": "/hardware", "values": ["edge", "cloud"]},
               {"name": "design", "points": [{"label": "a", "set": {"/sram/banks": 4, "/model/seq_len": 512}},
                                             {"label": "b", "set": {"/softmax": null, "/attention/variant": "primal:rank=8"}}]},
               {"path": "/model/defaults/ffn/width", "values": [128, 256]}],
      "trace": {"formats": ["timeline"]}})",
                                   "spec.json");
  const SweepSpec spec = parse_sweep_spec(doc, "spec.json", "");
  REQUIRE(spec.points.size() == 8);
  for (const SweepPoint& p : spec.points) CHECK(p.hash == hash_hex(p.resolved().dump()));
  // Points that differ only in hardware share the model document, and the other way round.
  CHECK(spec.points[0].model_document == spec.points[4].model_document);  // edge/cloud, a, 128
  CHECK(spec.points[0].hw_document == spec.points[1].hw_document);        // edge, a, 128/256
  CHECK(spec.points[0].hw_document != spec.points[2].hw_document);        // a / b
}
