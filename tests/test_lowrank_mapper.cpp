// The cascade mapper over the multi-group low-rank cascades (mapper/cascade_search.h,
// search_grouped_cascade: primal, primal_causal, lowrank_linear, linformer, performer, nystromformer): every
// mapping it can pick computes the variant (sampled candidates of every group, run in the functional
// executor against the independent references of support/reference.h, with and without accumulator
// storage); its pick is never slower than the default mapping as timed, and more SRAM never makes it
// slower; the effort levels are deterministic; and the picks round-trip through --emit mapping and
// --mapping FILE to a byte-identical report, with path-aware errors (a user's cascade variant too).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cascade/builtin.h"
#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "compiler/favor_nystrom_lowering.h"
#include "compiler/lowrank_cascades.h"
#include "config/hw_config.h"
#include "ir/executor.h"
#include "mapper/cascade_search.h"
#include "support/cascade_harness.h"
#include "support/cli.h"
#include "support/reference.h"

using namespace attnsim;
using namespace attnsim::test;
using cascade::Cascade;
using cascade::Mapping;

namespace {

constexpr double kTolerance = 1e-4;

// An 8x8 (or side x side) output-stationary array, 4 interleaved banks (the bank of an address does
// not depend on the bank size: the ladder's guarantee), an ideal DRAM, a softmax unit, and 8 KiB of
// accumulator storage when asked.
HwConfig lr_hw(std::int64_t bank_bytes, bool accumulators, int side = 8) {
  Json doc = {{"array",
               {{"rows", side},
                {"cols", side},
                {"dataflow", "os"},
                {"timing", "overlapped"},
                {"gemm_chaining", true},
                {"clock_mhz", 1000},
                {"operand_bytes", 2},
                {"accumulator_bytes", 4}}},
              {"sram", {{"banks", 4}, {"bytes_per_bank", bank_bytes}, {"port_bytes", 64}, {"interleave_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 32}, {"latency_cycles", 20}}},
              {"softmax", {{"lanes", side}}}};
  if (accumulators) doc["accumulators"] = {{"bytes", 8192}};
  return parse_hw_config(doc, "test-hw.json");
}

struct Variant {
  const char* stem;
  AttnVariant v;
};
const Variant kVariants[] = {{"primal", AttnVariant::Primal},
                             {"primal_causal", AttnVariant::PrimalCausal},
                             {"lowrank_linear", AttnVariant::LowRankLinear},
                             {"linformer", AttnVariant::Linformer},
                             {"performer", AttnVariant::Performer},
                             {"nystromformer", AttnVariant::Nystromformer}};

struct Shape {
  std::int64_t n, d, s, p;  // p: primal's samples
};

Cascade bind(const Variant& v, const Shape& sh) {
  return cascade::bind_cascade(cascade::parse_cascade(cascade::builtin_cascade_json(v.stem), v.stem),
                               {{"N", double(sh.n)}, {"d", double(sh.d)}, {"s", double(sh.s)}, {"p", double(sh.p)}},
                               false);
}

DefaultMapping default_of(const Variant& v, const Cascade& c, const HwConfig& hw) {
  const Cascade* cp = &c;
  const HwConfig* hp = &hw;
  if (v.v == AttnVariant::Performer || v.v == AttnVariant::Nystromformer)
    return [cp, hp](std::uint64_t b) { return favor_nystrom_default_mapping(*cp, *hp, b, "test"); };
  const AttnVariant av = v.v;
  // Linformer interleaves up to a batch's heads in its projection group: 4 here (the tests run 2 or 4).
  return [cp, hp, av](std::uint64_t b) { return lowrank_default_mapping(*cp, av, *hp, b, "test", 4); };
}

// Inputs every head reads from one block (weights shared by the heads, constants).
std::vector<std::string> shared_of(const Variant& v) {
  if (v.v == AttnVariant::Performer || v.v == AttnVariant::Nystromformer) return {"W", "WT", "ones", "I"};
  if (v.v == AttnVariant::LowRankLinear) return {};
  if (v.v == AttnVariant::Linformer) return {"E", "F"};
  return {"WcE", "WcR", "bc"};
}

// The reference output of one head from its inputs (by cascade tensor name).
ref::Mat reference(const Variant& v, const Shape& sh, const std::map<std::string, ref::Mat>& in) {
  auto at = [&](const char* name) -> const ref::Mat& { return in.at(name); };
  const std::int64_t n = sh.n, d = sh.d, s = sh.s;
  switch (v.v) {
    case AttnVariant::LowRankLinear:
      return ref::lowrank_linear_attention(at("Q"), at("K"), at("V"), n, d, s, at("WQ"), at("WKT"));
    case AttnVariant::Linformer:
      return ref::linformer_attention(at("Q"), at("K"), at("V"), n, d, s, at("E"), at("F"), 1 / std::sqrt(double(d)));
    case AttnVariant::Performer:
      return ref::performer_attention(at("Q"), at("K"), at("V"), n, d, s, at("W"));
    case AttnVariant::Nystromformer:
      return ref::nystromformer_attention(at("Q"), at("K"), at("V"), n, d, s);
    default:
      break;
  }
  ref::Mat wc = at("WcE");
  wc.insert(wc.end(), at("WcR").begin(), at("WcR").end());  // Wc = [WcE; WcR] (2s x d)
  if (v.v == AttnVariant::PrimalCausal)
    return ref::primal_causal_attention(at("Q"), at("K"), n, d, s, at("WeT"), at("WrT"), wc, at("bc"));
  return ref::primal_attention(at("X"), n, d, 0, d, at("Q"), at("K"), s, sh.p, at("WeS"), at("WrS"), wc, at("bc"));
}

// Lowers c under m for `heads` heads, runs it in program order and in a random legal order, and
// compares every head's O with the reference.
void check_mapping_computes(const Variant& v, const Shape& sh, const HwConfig& hw, const Cascade& c, const Mapping& m,
                            int heads) {
  INFO(v.stem << " N " << sh.n << " d " << sh.d << " s " << sh.s << " p " << sh.p << "; mapping "
              << cascade::mapping_to_json(c, m).dump());
  const cascade::CascadePlan plan = cascade::plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  const std::vector<std::string> shared = shared_of(v);
  const CascadeHarness h = make_cascade_harness(c, plan, heads, 2, shared);
  const TileProgram p = cascade::lower_program(hw, plan, h.tensors, h.bindings);
  std::vector<ref::Mat> data(c.desc.tensors.size());
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    const cascade::TensorDecl& td = c.desc.tensors[t];
    if (td.role != cascade::TensorRole::Input || h.tensor_of[t] < 0) continue;
    const std::size_t elems = std::size_t(h.tensors[std::size_t(h.tensor_of[t])].rows * c.cols(int(t)));
    data[t] = ref::random_values(elems, 1000 + 17 * t + std::uint64_t(sh.n));
    if (td.name == "ones") data[t].assign(elems, 1.f);
    if (td.name == "I") {
      data[t].assign(elems, 0.f);
      for (std::int64_t i = 0; i < sh.s; ++i) data[t][std::size_t(i * sh.s + i)] = 1.f;
    }
    // FAVOR+ and the landmarks' softmax want inputs of a layer's size (as test_cascade_favor_nystrom).
    if ((v.v == AttnVariant::Performer || v.v == AttnVariant::Nystromformer) && (td.name == "Q" || td.name == "K"))
      for (float& x : data[t]) x *= 0.5f;
  }
  const int w = c.desc.tensor_index("W"), wt = c.desc.tensor_index("WT");
  if (v.v == AttnVariant::Performer) data[std::size_t(wt)] = ref::transpose(data[std::size_t(w)], sh.d, sh.s);
  Executor ex(p, hw.onchip_bytes());
  const int to = h.tensor_of[std::size_t(c.desc.tensor_index("O"))];
  for (std::uint64_t seed : {0, 7}) {
    INFO("executor seed " << seed);
    for (std::size_t t = 0; t < data.size(); ++t)
      if (!data[t].empty()) ex.set_tensor(h.tensor_of[t], data[t]);
    ex.run(seed);
    const ref::Mat o = ex.tensor(to);
    for (int i = 0; i < heads; ++i) {
      std::map<std::string, ref::Mat> in;
      for (std::size_t t = 0; t < data.size(); ++t) {
        if (data[t].empty()) continue;
        const bool one = std::find(shared.begin(), shared.end(), c.desc.tensors[t].name) != shared.end();
        const std::int64_t rows = c.rows(int(t)), cols = c.cols(int(t));
        in[c.desc.tensors[t].name] = ref::block(data[t], cols, one ? 0 : i * rows, rows, 0, cols);
      }
      INFO("head " << i);
      CHECK(ref::max_rel_error(ref::block(o, sh.d, i * sh.n, sh.n, 0, sh.d), reference(v, sh, in)) < kTolerance);
    }
  }
}

Shape small_shape(const Variant& v) {
  if (v.v == AttnVariant::Performer) return {37, 16, 12, 1};
  if (v.v == AttnVariant::Nystromformer) return {37, 8, 5, 1};
  return {37, 8, 3, 7};
}

}  // namespace

TEST_CASE("every mapping the mapper can pick for the low-rank cascades computes the variant",
          "[cascade_search][lowrank][functional]") {
  // N = 37 (no tile divides it: short last tiles), two heads, 4 banks of 2 KiB (the default's tiles are
  // smaller than N) and of 8 KiB, with and without 8 KiB of accumulator storage. Every group's
  // candidates at the thorough effort (a superset of what the other efforts pick from), sampled.
  int ran = 0, placed = 0, changed_depth = 0, interleaved = 0, not_interleaved = 0;
  for (const Variant& v : kVariants)
    for (std::int64_t bank : {2048, 8192})
      for (bool acc : {false, true}) {
        const HwConfig hw = lr_hw(bank, acc);
        const Shape sh = small_shape(v);
        const Cascade c = bind(v, sh);
        const DefaultMapping def = default_of(v, c, hw);
        const Mapping base = def(std::uint64_t(hw.sram.total_bytes()));
        for (int g = 0; g < int(base.groups.size()); ++g) {
          const std::vector<CascadeCandidate> all =
              grouped_candidates(c, hw, std::uint64_t(hw.sram.total_bytes()), def, g, 2, MapperEffort::Thorough);
          REQUIRE(!all.empty());
          const std::size_t stride = std::max<std::size_t>(1, all.size() / 6);
          for (std::size_t i = 0; i < all.size(); i += stride) {
            const Mapping& m = all[i].mapping;
            if (v.v == AttnVariant::Linformer && g == 0)
              (m.groups[0].interleave > 1 ? interleaved : not_interleaved) += 1;
            for (std::size_t t = 0; t < m.tensors.size(); ++t) {
              placed += m.tensors[t].at[0] >= 0;
              changed_depth += m.tensors[t].buffers != base.tensors[t].buffers;
            }
            check_mapping_computes(v, sh, hw, c, m, 2);
            ++ran;
          }
        }
      }
  CHECK(ran >= 100);
  CHECK(placed > 0);         // some candidates keep contraction outputs in the accumulator storage
  CHECK(changed_depth > 0);  // and some change the default's buffering
  CHECK(interleaved > 0);    // Linformer's projections with 2 heads per pass over E and F
  CHECK(not_interleaved > 0);  // and one at a time
}

TEST_CASE("the low-rank mapper's pick is never slower than the default mapping, and more SRAM never slower",
          "[cascade_search][lowrank]") {
  // N = 1024, d = 32, rank 16 (primal: 64 samples), 4 heads, a 16x16 array, 4 banks of 4 to 64 KiB.
  // The default's cycles as timed are the sum over its groups of time_cascade_group (each group alone,
  // a barrier between them); the pick's must not exceed them, nor those of the pick with half the SRAM.
  int searched = 0, better = 0;
  for (const Variant& v : kVariants) {
    const Shape sh{1024, 32, 16, 64};
    const Cascade c = bind(v, sh);
    double prev = -1;
    for (std::int64_t kib : {4, 8, 16, 32, 64}) {
      const HwConfig hw = lr_hw(kib * 1024, false, 16);
      const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
      const DefaultMapping def = default_of(v, c, hw);
      GroupedPick p;
      try {
        p = search_grouped_cascade(c, hw, cap, def, 4, {}, "test");
      } catch (const UserError&) {
        continue;  // nothing fits
      }
      const Mapping d = def(cap);
      double default_timed = 0;
      for (int g = 0; g < int(d.groups.size()); ++g) default_timed += time_grouped_group(c, d, g, hw, cap, 4);
      INFO(v.stem << " with 4 banks of " << kib << " KiB: pick " << p.cycles << " (" << cascade::describe(c, p.mapping)
                  << "), default " << default_timed << " (" << cascade::describe(c, d) << "), half the SRAM " << prev);
      CHECK(p.default_cycles == Approx(default_timed).epsilon(1e-12));
      CHECK(p.cycles <= default_timed);
      // The pick's cycles are its groups' timings too.
      double pick_timed = 0;
      for (int g = 0; g < int(p.mapping.groups.size()); ++g)
        pick_timed += time_grouped_group(c, p.mapping, g, hw, cap, 4);
      CHECK(p.cycles == Approx(pick_timed).epsilon(1e-12));
      if (prev >= 0) CHECK(p.cycles <= prev);
      prev = p.cycles;
      ++searched;
      better += p.cycles < default_timed;
    }
  }
  CHECK(searched >= 20);
  CHECK(better > 0);  // the search finds faster mappings than the default somewhere
}

TEST_CASE("of low-rank mappings equal as timed, the one with the fewest SRAM bytes wins on every ladder",
          "[cascade_search][lowrank][monotone]") {
  // lowrank_linear on the edge platform with a 16x16 array, LRA text at N = 4096 (configs/sweeps/
  // design.json). With 32 KiB banks the second group (Qp, Qpo, O over query tiles of 32) keeps O and Qp
  // in the accumulator storage; with 128 KiB banks the same mapping with them in SRAM times the same
  // (the group is timed alone), and the larger design, whose ladder starts at 32 KiB rather than
  // 8 KiB, found both on its first rung and kept the earlier, in SRAM: 18 cycles more in the run,
  // more SRAM costing cycles. Ties now go to the fewer SRAM bytes whatever the ladder: the 128 KiB
  // design places O and Qp too, at the accumulator storage's base, after 16 banks x 128 KiB =
  // 2,097,152 B, and its run takes no more cycles than the 32 KiB design's.
  const std::string base = "run --hw edge --model lra-text --seq-len 4096 --variant lowrank_linear "
                           "--set /array/rows=16 --set /array/cols=16 --set /sram/bytes_per_bank=";
  const CliResult small = run_cli(base + "32768 --emit mapping");
  const CliResult large = run_cli(base + "131072 --emit mapping");
  REQUIRE(small.status == 0);
  REQUIRE(large.status == 0);
  const Json ms = Json::parse(small.out), ml = Json::parse(large.out);
  const Json& ps = ms["ops"]["L0.attention"]["mapping"]["placement"];
  const Json& pl = ml["ops"]["L0.attention"]["mapping"]["placement"];
  INFO(small.out << large.out);
  REQUIRE(ps.contains("O"));
  REQUIRE(pl.contains("O"));
  REQUIRE(pl.contains("Qp"));
  CHECK(ps["O"]["at"][0].get<std::int64_t>() == 16 * 32768);
  CHECK(pl["O"]["at"][0].get<std::int64_t>() == 16 * 131072);
  // The same offsets from the base: the smaller design's mapping.
  for (const char* t : {"O", "Qp"})
    for (int k = 0; k < 2; ++k)
      CHECK(pl[t]["at"][k].get<std::int64_t>() - 16 * 131072 == ps[t]["at"][k].get<std::int64_t>() - 16 * 32768);
  const std::string dir = temp_dir();
  REQUIRE(run_cli(base + "32768 --out " + dir + "/ll-small").status == 0);
  REQUIRE(run_cli(base + "131072 --out " + dir + "/ll-large").status == 0);
  const std::int64_t cs = Json::parse(slurp(dir + "/ll-small/report.json"))["cycles"].get<std::int64_t>();
  const std::int64_t cl = Json::parse(slurp(dir + "/ll-large/report.json"))["cycles"].get<std::int64_t>();
  CHECK(cl <= cs);
}

TEST_CASE("the low-rank mapper's effort levels are deterministic", "[cascade_search][lowrank]") {
  const HwConfig hw = lr_hw(16384, true, 16);
  const std::uint64_t cap = std::uint64_t(hw.sram.total_bytes());
  for (const Variant& v : kVariants) {
    const Cascade c = bind(v, {512, 32, 16, 64});
    for (MapperEffort e : {MapperEffort::Fast, MapperEffort::Default, MapperEffort::Thorough}) {
      MapperOptions opt;
      opt.effort = e;
      const GroupedPick a = search_grouped_cascade(c, hw, cap, default_of(v, c, hw), 4, opt, "test");
      const GroupedPick b = search_grouped_cascade(c, hw, cap, default_of(v, c, hw), 4, opt, "test");
      INFO(v.stem << " " << to_string(e));
      CHECK(cascade::mapping_to_json(c, a.mapping) == cascade::mapping_to_json(c, b.mapping));
      CHECK(a.cycles == b.cycles);
      if (e != MapperEffort::Fast) CHECK(a.cycles <= a.default_cycles);
    }
  }
}

TEST_CASE("the low-rank variants' mappings round-trip to a byte-identical report, with path-aware errors",
          "[cascade_search][lowrank][cli]") {
  const std::string dir = temp_dir();
  for (const char* variant : {"primal", "primal_causal", "lowrank_linear", "linformer", "performer", "nystromformer",
                              "cascade:" ATTNSIM_SOURCE_DIR "/models/cascades/cosine.json"}) {
    INFO(variant);
    const std::string v = variant;
    const std::string stem = v.rfind("cascade:", 0) == 0 ? "cosine" : v;
    // primal_causal needs a causal model; the others run on LRA text.
    const std::string model = std::string("--hw edge --model ") +
                              (v == "primal_causal" ? "gpt-wikitext103" : "lra-text") + " --seq-len 512 --variant " +
                              variant;
    const CliResult emitted = run_cli("run " + model + " --emit mapping");
    REQUIRE(emitted.status == 0);
    CHECK_THAT(emitted.out, Catch::Contains("\"L0.attention\": {\"kind\": \"cascade\", \"mapping\": {\"cascade\": \"" +
                                            (stem == "cosine" ? std::string("cosine") : stem) + "\""));
    const std::string file = write_temp("lr-mapping-" + stem + ".json", emitted.out);
    const std::string a = dir + "/lr-" + stem + "-free", b = dir + "/lr-" + stem + "-fixed";
    REQUIRE(run_cli("run " + model + " --out " + a).status == 0);
    REQUIRE(run_cli("run " + model + " --mapping " + file + " --out " + b).status == 0);
    const std::string ra = slurp(a + "/report.json"), rb = slurp(b + "/report.json");
    REQUIRE(!ra.empty());
    CHECK(ra == rb);
  }
  // Errors: a kind that is not a cascade mapping, and problems inside one, named by path.
  const std::string bad =
      write_temp("lr-bad.json",
                 R"({"mapping_version": 1, "ops": {"L0.attention": {"kind": "cascade", "mapping": {"cascade": "primal",
          "groups": [{"steps": ["Xs", "WeT", "WrT"], "loops": []},
                     {"steps": ["Qn", "Kn", "E", "R", "Eo", "Ro", "Y", "O"], "loops": [{"rank": "q", "tile": 64}]}],
          "buffers": {"E": 65537}}}}})");
  const CliResult r = run_cli("run --hw edge --model lra-text --seq-len 512 --variant primal --mapping " + bad);
  INFO(r.err);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains(bad + ": /ops/L0.attention/mapping/groups/1/loops/0/rank: no rank \"q\""));
  CHECK_THAT(r.err, Catch::Contains(bad + ": /ops/L0.attention/mapping/buffers/E: buffering depth is 1 to 65536"));
  const std::string kind = write_temp(
      "lr-kind.json", R"({"mapping_version": 1, "ops": {"L0.attention": {"kind": "flash", "tile": {"m": 64}}}})");
  const CliResult r2 =
      run_cli("run --hw edge --model lra-text --seq-len 512 --variant lowrank_linear --mapping " + kind);
  INFO(r2.err);
  CHECK(r2.status == 2);
  CHECK_THAT(r2.err, Catch::Contains(kind + ": /ops/L0.attention/kind: L0.attention runs cascade lowrank_linear here: "
                                            "kind must be \"cascade\", got \"flash\""));
  const std::string big = write_temp(
      "lr-big.json",
      R"({"mapping_version": 1, "ops": {"L0.attention": {"kind": "cascade", "mapping": {"cascade": "lowrank_linear",
          "groups": [{"steps": ["KpT", "KpTo", "M"], "loops": []}, {"steps": ["Qp", "Qpo", "O"], "loops": []}]}}}})");
  const CliResult r3 =
      run_cli("run --hw edge --model lra-text --seq-len 4096 --variant lowrank_linear --mapping " + big);
  INFO(r3.err);
  CHECK(r3.status == 2);
  CHECK_THAT(r3.err, Catch::Contains(big + ": /ops/L0.attention/mapping/groups/0: the buffers need"));
}
